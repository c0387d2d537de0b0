"""Formatting of single cells shared by the terminal and Markdown renderers."""

from __future__ import annotations

import math

from perfgate.contracts.gate import GateReport, Verdict, VerdictKind

MARKS = {
    VerdictKind.REGRESSED: "🔴",
    VerdictKind.IMPROVED: "🟢",
    VerdictKind.UNCHANGED: "⚪",
    VerdictKind.INCONCLUSIVE: "🟡",
    VerdictKind.MISSING: "⚫",
    VerdictKind.INCOMPARABLE: "⚫",
    VerdictKind.ERROR: "⚫",
}


def fmt_number(value: float) -> str:
    """Three significant figures, at most two decimals, thousands separated."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_value(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{fmt_number(value)} {unit}".rstrip()


def _pct(value: float) -> str:
    if math.isinf(value):
        return "+∞" if value > 0 else "−∞"
    text = f"{value * 100:+.1f}"
    if text in ("+0.0", "-0.0"):
        return "±0.0"
    return text.replace("-", "−")


def fmt_change(verdict: Verdict) -> str:
    """``+23.4 % [+18.0, +29.1]``: the estimate and its interval, in percent."""
    if verdict.change is None:
        return "—"
    text = f"{_pct(verdict.change)} %"
    if verdict.change_low is not None and verdict.change_high is not None:
        if math.isinf(verdict.change_high) or verdict.change_low <= -1:
            text += " [unbounded]"
        else:
            text += f" [{_pct(verdict.change_low)}, {_pct(verdict.change_high)}]"
    return text


def verdict_word(verdict: Verdict) -> str:
    word = verdict.verdict.value
    if verdict.verdict is VerdictKind.REGRESSED and not verdict.informational:
        word += ", confirmed" if verdict.confirmed else " (suspected)"
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


def look_alpha_note(report: GateReport) -> str:
    """How the regressions were tested when the results came from a sequential run ('' otherwise)."""
    if report.look_alpha is None:
        return ""
    return f"; sequential run: regressions tested at the last look's share, α = {report.look_alpha:.4f}"
