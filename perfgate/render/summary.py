"""The gate's Markdown summary: the PR comment and the job summary.

Sections in reading order: headline, tier overview, one verdict table per
tier and scenario, the Defect Triage table (the seed's columns), baseline
changes under review, then collapsed provenance and a chart. When the text
would pass GitHub's comment limit, details are dropped first (chart,
provenance, informational rows, unchanged rows, then whole verdict tables
from the end) and the summary says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tabulate import tabulate

from perfgate.contracts.gate import GateReport, GateStatus, Verdict, VerdictKind
from perfgate.render.cells import MARKS, fmt_change, fmt_notes, fmt_value, look_alpha_note, verdict_word
from perfgate.render.markdown import escape

GITHUB_COMMENT_LIMIT = 65_536
SAFETY_MARGIN = 1_536  # room for the sticky marker and a trimming note

STATUS_ICON = {
    GateStatus.PASS: "✅",
    GateStatus.REGRESSION: "⛔",
    GateStatus.COULD_NOT_MEASURE: "⚠️",
    GateStatus.INCONCLUSIVE: "🟡",
}


@dataclass(frozen=True)
class TriageRow:
    """One row of the Defect Triage table."""

    severity: str
    defect: str
    impact: str
    owner: str
    status: str


@dataclass(frozen=True)
class _Options:
    informational: bool = True
    unchanged: bool = True
    provenance: bool = True
    chart: bool = True
    max_tables: int | None = None  # last resort: show only the first N tier/scenario tables


def _verdict_row(v: Verdict) -> list[str]:
    return [
        v.metric,
        fmt_value(v.baseline_median, v.unit),
        fmt_value(v.current_median, v.unit),
        fmt_change(v),
        f"{v.n_baseline}/{v.n_current}",
        f"{MARKS[v.verdict]} {verdict_word(v)}",
        escape(fmt_notes(v)),
    ]


def _tables(report: GateReport, opts: _Options) -> list[str]:
    groups: dict[tuple[str, str], list[Verdict]] = {}
    for verdict in report.verdicts:
        groups.setdefault((verdict.tier, verdict.scenario), []).append(verdict)
    parts = []
    for (tier, scenario), verdicts in groups.items():
        shown = [
            v
            for v in verdicts
            if (opts.informational or not v.informational)
            and (opts.unchanged or v.verdict is not VerdictKind.UNCHANGED)
        ]
        hidden = len(verdicts) - len(shown)
        if not shown:
            parts.append(f"#### {escape(tier)} / {escape(scenario)}\n\n_{hidden} metrics unchanged (rows trimmed)._")
            continue
        table = tabulate(
            [_verdict_row(v) for v in shown],
            headers=["metric", "baseline", "current", "change [90 % interval]", "n b/c", "verdict", "notes"],
            tablefmt="github",
            colalign=("left", "right", "right", "right", "right", "left", "left"),
            disable_numparse=True,
        )
        plural = "s" if hidden != 1 else ""
        more = f"\n\n_{hidden} more row{plural} trimmed._" if hidden else ""
        parts.append(f"#### {escape(tier)} / {escape(scenario)}\n\n{table}{more}")
    if opts.max_tables is not None and len(parts) > opts.max_tables:
        left_out = len(parts) - opts.max_tables
        parts = [*parts[: opts.max_tables], f"_{left_out} more tier/scenario tables left out (in gate.json)._"]
    return parts


def _overview(report: GateReport) -> str:
    rows = []
    for t in report.tiers:
        decided = [v for v in report.verdicts if v.tier == t.tier and not v.informational]
        regressed = sum(1 for v in decided if v.verdict is VerdictKind.REGRESSED)
        problems = [p for p in report.problems if p.tier == t.tier]
        if regressed:
            state = f"⛔ {regressed} regressed"
        elif problems:
            state = f"⚠️ {escape(problems[0].kind.value.replace('_', ' '))}"
        else:
            state = "✅ ok"
        rows.append(
            [
                escape(t.tier),
                state,
                escape(t.runtime or "—"),
                escape(t.model or "—"),
                f"`{t.git_sha[:10]}`" if t.git_sha else "—",
            ]
        )
    return tabulate(rows, headers=["tier", "status", "runtime", "model", "commit"], tablefmt="github")


def _triage(rows: Sequence[TriageRow]) -> str:
    if not rows:
        return "#### Defect triage\n\nNo open defects."
    table = tabulate(
        # The status is perfgate's own text and may link an issue (#12); the rest may come from outside.
        [[r.severity, escape(r.defect), escape(r.impact), escape(r.owner), r.status] for r in rows],
        headers=["Severity", "Defect", "Impact", "Owner", "Status"],
        tablefmt="github",
        disable_numparse=True,
    )
    return f"#### Defect triage\n\n{table}"


def _provenance(report: GateReport) -> str:
    lines = []
    for t in report.tiers:
        if not t.results_files and not t.baseline_file:
            lines.append(f"- **{escape(t.tier)}**: no results")
            continue
        lines.append(
            f"- **{escape(t.tier)}**: host {escape(t.host_label or '?')} ({escape(t.chip or '?')}), "
            f"runtime {escape(t.runtime or '?')}, model {escape(t.model or '?')} "
            f"digest `{escape((t.model_digest or '?')[:12])}`, commit `{(t.git_sha or '?')[:10]}`"
            + (" · simulated" if t.simulated else "")
            + f"; baseline {escape(t.baseline_file or 'none')}"
            + (f" from {escape(t.baseline_created_at)}" if t.baseline_created_at else "")
            + (f" at `{t.baseline_git_sha[:10]}`" if t.baseline_git_sha else "")
        )
    return "<details><summary>Provenance</summary>\n\n" + "\n".join(lines) + "\n\n</details>"


# Inside a code fence nothing can be escaped: a newline and backticks would close the fence
# and let a scenario name render as Markdown, so labels keep only harmless characters.
_CHART_UNSAFE = re.compile(r"[^\w .:/+=-]")


def _chart_label(v: Verdict) -> str:
    return _CHART_UNSAFE.sub("", " ".join(f"{v.tier}/{v.scenario}".split()))


def _chart(report: GateReport) -> str | None:
    """TTFT baseline vs current per tier/scenario: a picture reads faster than a column of numbers."""
    ttft = [v for v in report.verdicts if v.metric == "ttft_ms" and v.baseline_median and v.current_median]
    if len(ttft) < 2:
        return None
    names = ", ".join(f'"{_chart_label(v)}"' for v in ttft)
    base = ", ".join(f"{v.baseline_median:.1f}" for v in ttft)
    cur = ", ".join(f"{v.current_median:.1f}" for v in ttft)
    top = max(max(v.baseline_median or 0, v.current_median or 0) for v in ttft) * 1.15
    return (
        "<details><summary>Chart: TTFT, baseline (line) vs current (bars)</summary>\n\n"
        "```mermaid\nxychart-beta\n"
        '    title "Median time to first token (ms)"\n'
        f"    x-axis [{names}]\n"
        f'    y-axis "ms" 0 --> {top:.0f}\n'
        f"    bar [{cur}]\n"
        f"    line [{base}]\n"
        "```\n\n</details>"
    )


def _render(report: GateReport, triage: Sequence[TriageRow], baseline_diff: str | None, opts: _Options) -> str:
    parts = [f"### {STATUS_ICON[report.status]} perfgate: {escape(report.headline)}", _overview(report)]
    warnings = [f"- ⚠️ {escape(t.tier)}: {escape(w)}" for t in report.tiers for w in t.warnings]
    if warnings:
        parts.append("\n".join(warnings))
    parts.extend(_tables(report, opts))
    parts.append(_triage(triage))
    if baseline_diff:
        parts.append(baseline_diff.strip())
    if opts.provenance:
        parts.append(_provenance(report))
    chart = _chart(report) if opts.chart else None
    if chart:
        parts.append(chart)
    parts.append(
        f"<sub>Gate {report.status.value} (exit {report.exit_code}). Change = Hodges–Lehmann ratio of current to "
        f"baseline with its {(1 - 2 * report.alpha) * 100:.0f} % interval; one-sided Mann–Whitney, Holm-adjusted "
        f"over the whole gate, α = {report.alpha:g}{look_alpha_note(report)}. "
        f"perfgate {escape(report.perfgate_version)}.</sub>"
    )
    return "\n\n".join(parts) + "\n"


def gate_summary(
    report: GateReport,
    triage: Sequence[TriageRow] = (),
    baseline_diff: str | None = None,
    *,
    limit: int = GITHUB_COMMENT_LIMIT - SAFETY_MARGIN,
) -> str:
    """The summary, trimmed to ``limit`` characters by dropping details first."""
    steps = [
        ("", _Options()),
        ("the chart", _Options(chart=False)),
        ("the chart and provenance", _Options(chart=False, provenance=False)),
        ("the chart, provenance and informational rows", _Options(chart=False, provenance=False, informational=False)),
        (
            "the chart, provenance, informational and unchanged rows",
            _Options(chart=False, provenance=False, informational=False, unchanged=False),
        ),
    ]
    text = ""
    for dropped, opts in steps:
        text = _render(report, triage, baseline_diff, opts)
        if dropped:
            text += f"\n_Trimmed to fit GitHub's comment limit: {dropped} left out; the full report is in gate.json._\n"
        if len(text) <= limit:
            return text
    # Still too long: drop whole verdict tables from the end (the headline and the triage
    # table come first in importance), finding how many fit by bisection.
    lean, dropped = steps[-1][1], f"{steps[-1][0]} and some verdict tables"
    note = f"\n_Trimmed to fit GitHub's comment limit: {dropped} left out; the full report is in gate.json._\n"
    low, high = 0, len({(v.tier, v.scenario) for v in report.verdicts})
    best: str | None = None
    while low <= high:
        keep = (low + high) // 2
        candidate = _render(report, triage, baseline_diff, replace(lean, max_tables=keep)) + note
        if len(candidate) <= limit:
            best, low = candidate, keep + 1
        else:
            high = keep - 1
    if best is not None:
        return best
    note = "\n\n_Truncated to fit GitHub's comment limit; the full report is in gate.json._\n"
    return text[: limit - len(note)] + note
