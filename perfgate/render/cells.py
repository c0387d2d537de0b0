"""Formatting of single cells shared by the terminal and Markdown renderers.

Every string that came from outside perfgate's own code (model names, error
messages, host labels, branch names) goes through ``escape`` before it is put
into Markdown, so it cannot break a table, open a link, or mention a user or team.
"""

from __future__ import annotations

from perfgate.contracts.gate import GateReport, Verdict, VerdictKind
from perfgate.decide.headline import fmt_change as fmt_change  # noqa: PLC0414 -- re-export; triage uses it too
from perfgate.markdown_escape import escape as escape  # noqa: PLC0414 -- re-export; triage uses it too

MARKS = {
    VerdictKind.REGRESSED: "🔴",
    VerdictKind.IMPROVED: "🟢",
    VerdictKind.CHANGED: "🔵",
    VerdictKind.UNCHANGED: "⚪",
    VerdictKind.INCONCLUSIVE: "🟡",
    VerdictKind.MISSING: "⚫",
    VerdictKind.INCOMPARABLE: "⚫",
    VerdictKind.ERROR: "⚫",
}


def fmt_number(value: float) -> str:
    """Three significant figures, at most two decimals, thousands separated.

    The decimals follow the value as it will be shown: 9.996 is "10.0", not "10.00" (rounding
    can carry it into the next decade).
    """
    magnitude = abs(value)
    if round(magnitude, 1) >= 99.95:
        return f"{value:,.0f}"
    if round(magnitude, 2) >= 9.995:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_value(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{fmt_number(value)} {unit}".rstrip()


def verdict_word(verdict: Verdict) -> str:
    word = verdict.verdict.value
    if verdict.verdict is VerdictKind.REGRESSED and not verdict.informational:
        word += ", confirmed" if verdict.confirmed else " (suspected)"
    if verdict.verdict is VerdictKind.CHANGED:
        word += ", within threshold"
    if verdict.informational:
        word += " (info)"
    if verdict.verdict is VerdictKind.INCONCLUSIVE:
        # Never a guess: when more current runs alone cannot settle it, say so.
        word += (
            f", ~{verdict.runs_needed} more runs" if verdict.runs_needed is not None else ", needs a larger baseline"
        )
    return word


def fmt_notes(verdict: Verdict) -> str:
    return "; ".join(verdict.notes)


def interval_level(alpha: float) -> str:
    """``90 %``: the level of the change interval, two-sided at 1 - 2 alpha (``decide.stats.decide``)."""
    level = (1 - 2 * alpha) * 100
    # Whole percent where that is exact enough (90 %), one decimal at small alphas (99.8 %, not 100 %).
    return f"{level:.0f} %" if abs(level - round(level)) < 0.05 else f"{level:.1f} %"


def report_interval(report: GateReport) -> str:
    """``92 % interval``: the level of a gate's change intervals (older files: alpha in each tail)."""
    return f"{interval_level(report.alpha if report.interval_tail is None else report.interval_tail)} interval"


def look_alpha_note(report: GateReport) -> str:
    """How the regressions were tested when the results came from a sequential run ('' otherwise)."""
    if report.look_alpha is None:
        return ""
    levels = {t.tier: t.look_alpha for t in report.tiers if t.look_alpha is not None}
    if len(set(levels.values())) > 1:
        each = ", ".join(f"{escape(tier)} α = {level:.4f}" for tier, level in levels.items())
        return f"; sequential runs: each tier's regressions tested at its last look's share ({each})"
    return f"; sequential run: regressions tested at the last look's share, α = {report.look_alpha:.4f}"
