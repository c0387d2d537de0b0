"""The compare summary as Markdown (``perfgate compare --format md``).

Every string that came from outside perfgate's own code goes through ``escape``.
"""

from __future__ import annotations

from tabulate import tabulate

from perfgate.contracts.gate import GateReport
from perfgate.render.cells import escape, look_alpha_note, report_interval
from perfgate.render.changes import changes_markdown
from perfgate.render.verdicts import MARKDOWN, verdict_tables


def gate_markdown(report: GateReport) -> str:
    """The compare/gate summary as Markdown."""
    parts = [f"### perfgate: {escape(report.headline)}"]
    warnings = [f"- ⚠️ {escape(t.tier)}: {escape(w)}" for t in report.tiers for w in t.warnings]
    if warnings:
        parts.append("\n".join(warnings))
    changed = changes_markdown(report.changes)
    if changed:
        parts.append(changed)
    if report.verdicts:
        parts.append("\n\n".join(verdict_tables(report.verdicts, MARKDOWN)))
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
        f"{report_interval(report)}; p-values Holm-adjusted over the whole gate, "
        f"α = {report.alpha:g}{look_alpha_note(report)}.</sub>"
    )
    return "\n\n".join(parts) + "\n"
