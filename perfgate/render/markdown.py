"""Markdown renderings: the gate summary (PR comment, job summary) and baseline diffs.

Every string that came from outside perfgate's own code (model names, error
messages, host labels, branch names) goes through ``escape`` so it cannot
break a table, open a link, or mention a user or team.
"""

from __future__ import annotations

import re

from tabulate import tabulate

from perfgate.contracts.gate import GateReport, Verdict
from perfgate.render.cells import MARKS, fmt_change, fmt_notes, fmt_value, look_alpha_note, verdict_word

# Only what can start formatting, a link, HTML or a table cell inside one line of text.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def escape(text: str) -> str:
    """Neutralise Markdown and HTML in untrusted text, on one line."""
    text = " ".join(text.split())  # no newlines: they would end a table row
    text = text.replace("&", "&amp;")
    text = _SPECIAL.sub(r"\\\1", text)
    # "@user", "#123", bare URLs and "www." must not notify or link: a word joiner breaks each.
    text = text.replace("@", "@\u2060").replace("#", "#\u2060")
    return text.replace("://", ":\u2060//").replace("www.", "www\u2060.")


def _row(v: Verdict) -> list[str]:
    return [
        v.metric,  # perfgate's own names, safe as they are
        fmt_value(v.baseline_median, v.unit),
        fmt_value(v.current_median, v.unit),
        fmt_change(v),
        f"{v.n_baseline}/{v.n_current}",
        f"{MARKS[v.verdict]} {verdict_word(v)}",
        escape(fmt_notes(v)),
    ]


def verdict_tables(report: GateReport) -> str:
    groups: dict[tuple[str, str], list[Verdict]] = {}
    for verdict in report.verdicts:
        groups.setdefault((verdict.tier, verdict.scenario), []).append(verdict)
    parts = []
    for (tier, scenario), verdicts in groups.items():
        table = tabulate(
            [_row(v) for v in verdicts],
            headers=["metric", "baseline", "current", "change [interval]", "n b/c", "verdict", "notes"],
            tablefmt="github",
            colalign=("left", "right", "right", "right", "right", "left", "left"),
            disable_numparse=True,
        )
        parts.append(f"#### {escape(tier)} / {escape(scenario)}\n\n{table}")
    return "\n\n".join(parts)


def gate_markdown(report: GateReport) -> str:
    """The compare/gate summary as Markdown."""
    parts = [f"### perfgate: {escape(report.headline)}"]
    warnings = [f"- ⚠️ {escape(t.tier)}: {escape(w)}" for t in report.tiers for w in t.warnings]
    if warnings:
        parts.append("\n".join(warnings))
    if report.verdicts:
        parts.append(verdict_tables(report))
    if report.problems:
        rows = [
            [escape(p.kind.value), escape(p.tier), escape(p.scenario or "—"), escape(p.message)]
            for p in report.problems
        ]
        parts.append(
            "#### Could not measure\n\n"
            + tabulate(
                rows, headers=["problem", "tier", "scenario", "reason"], tablefmt="github", disable_numparse=True
            )
        )
    parts.append(
        f"<sub>Gate {report.status.value} (exit {report.exit_code}). Change = Hodges–Lehmann ratio with its "
        f"{(1 - 2 * report.alpha) * 100:.0f} % interval; p-values Holm-adjusted over the whole gate, "
        f"α = {report.alpha:g}{look_alpha_note(report)}.</sub>"
    )
    return "\n\n".join(parts) + "\n"
