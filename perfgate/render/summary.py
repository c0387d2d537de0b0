"""The gate's Markdown summary: the PR comment and the job summary.

Sections in reading order: headline, tier overview, what changed since the
baseline (model, prompt, runtime...), one verdict table per tier and
scenario, the Defect Triage table (the seed's columns), baseline changes
under review, then collapsed provenance and a chart. When the text would pass
GitHub's comment limit, details are dropped first (chart, provenance,
informational rows, unchanged rows, then whole verdict tables from the end)
and the summary says so; "What changed" is never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tabulate import tabulate

from perfgate.contracts.gate import GateReport, GateStatus, VerdictKind
from perfgate.errors import Kind
from perfgate.markdown_escape import code, commit
from perfgate.render.cells import escape, look_alpha_note, report_interval
from perfgate.render.changes import changes_markdown
from perfgate.render.verdicts import MARKDOWN, RowTable, by_scenario, scenario_heading, verdict_row

GITHUB_COMMENT_LIMIT = 65_536
SAFETY_MARGIN = 1_536  # room for the sticky marker and a trimming note

STATUS_ICON = {
    GateStatus.PASS: "✅",
    GateStatus.REGRESSION: "⛔",
    GateStatus.COULD_NOT_MEASURE: "⚠️",
    GateStatus.INCONCLUSIVE: "🟡",
    GateStatus.BAD_INPUT: "❌",
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


def _overview(report: GateReport) -> str:
    rows = []
    for t in report.tiers:
        decided = [v for v in report.verdicts if v.tier == t.tier and not v.informational]
        regressed = sum(1 for v in decided if v.verdict is VerdictKind.REGRESSED)
        problems = [p for p in report.problems if p.tier == t.tier]
        if regressed:
            state = f"⛔ {regressed} regressed"
        elif any(p.kind is Kind.BAD_INPUT for p in problems):
            state = "❌ input refused"
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
                commit(t.git_sha),
            ]
        )
    return tabulate(rows, headers=["tier", "status", "runtime", "model", "commit"], tablefmt="github")


def _refused(report: GateReport) -> str | None:
    """The files the gate would not read: no triage entry is made for them (their content is not trusted)."""
    lines = [f"- **{escape(p.tier)}**: {escape(p.message)}" for p in report.problems if p.kind is Kind.BAD_INPUT]
    if not lines:
        return None
    return "#### Inputs refused\n\n_Fix or remove these files; the gate fails until then._\n\n" + "\n".join(lines)


def _triage(rows: Sequence[TriageRow]) -> str:
    if not rows:
        return "#### Defect triage\n\nNo open defects."
    table = tabulate(
        # The status is perfgate's own text and may link an issue (#12); the rest may come from outside.
        [[escape(r.severity), escape(r.defect), escape(r.impact), escape(r.owner), r.status] for r in rows],
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
            f"digest {code((t.model_digest or '?')[:12])}, commit {commit(t.git_sha, missing='`?`')}"
            + (" · simulated" if t.simulated else "")
            + f"; baseline {escape(t.baseline_file or 'none')}"
            + (f" from {escape(t.baseline_created_at)}" if t.baseline_created_at else "")
            + (f" at {commit(t.baseline_git_sha)}" if t.baseline_git_sha else "")
        )
    return "<details><summary>Provenance</summary>\n\n" + "\n".join(lines) + "\n\n</details>"


# Inside a code fence nothing can be escaped: a newline and backticks would close the fence
# and let a scenario name render as Markdown, so labels keep only harmless characters.
_CHART_UNSAFE = re.compile(r"[^\w .:/+=-]")


def chart_label(tier: str, scenario: str) -> str:
    """``tier/scenario`` as a chart's label: only characters that cannot end the label or the fence."""
    return _CHART_UNSAFE.sub("", " ".join(f"{tier}/{scenario}".split()))


def _chart(report: GateReport) -> str | None:
    """TTFT baseline vs current per tier/scenario: a picture reads faster than a column of numbers."""
    ttft = [v for v in report.verdicts if v.metric == "ttft_ms" and v.baseline_median and v.current_median]
    if len(ttft) < 2:
        return None
    names = ", ".join(f'"{chart_label(v.tier, v.scenario)}"' for v in ttft)
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


class _Sections:
    """The summary's sections, each rendered once however many trimming passes put them together.

    Every row of every verdict table is formatted once (``RowTable``); a table is laid out
    once per set of rows it shows (trimming informational or unchanged rows re-lays only
    the tables that had such rows, from the same cells), and the trimming passes and the
    bisection over whole tables only join the pieces.
    """

    def __init__(
        self, report: GateReport, triage: Sequence[TriageRow], baseline_diff: str | None, site_url: str | None = None
    ) -> None:
        self.groups = list(by_scenario(report.verdicts).items())
        self._interval = report_interval(report)
        self._rows = [
            RowTable([verdict_row(v, MARKDOWN) for v in verdicts], MARKDOWN, interval=self._interval)
            for _, verdicts in self.groups
        ]
        self._tables: dict[tuple[int, tuple[int, ...]], str] = {}
        head = [f"### {STATUS_ICON[report.status]} perfgate: {escape(report.headline)}", _overview(report)]
        refused = _refused(report)
        if refused:
            head.append(refused)
        warnings = [f"- ⚠️ {escape(t.tier)}: {escape(w)}" for t in report.tiers for w in t.warnings]
        if warnings:
            head.append("\n".join(warnings))
        changed = changes_markdown(report.changes)
        if changed:
            head.append(changed)
        self._head = head
        self._middle = [_triage(triage), *([baseline_diff.strip()] if baseline_diff else [])]
        self._provenance = _provenance(report)
        self._chart = _chart(report)
        self._footer = (
            f"<sub>Gate {report.status.value} (exit {report.exit_code}). Change = Hodges–Lehmann ratio of current "
            f"to baseline with its {self._interval}; one-sided Mann–Whitney, Holm-adjusted "
            f"over the whole gate, α = {report.alpha:g}{look_alpha_note(report)}. "
            f"perfgate {escape(report.perfgate_version)}.</sub>"
        )
        if site_url:  # the trend page (config history.site_url: an http(s) URL, checked to hold no bracket or space)
            self._footer = self._footer.removesuffix("</sub>") + f" [Trends on the default branch](<{site_url}>).</sub>"

    def _table(self, index: int, opts: _Options) -> str:
        (tier, scenario), verdicts = self.groups[index]
        shown = tuple(
            i
            for i, v in enumerate(verdicts)
            if (opts.informational or not v.informational)
            and (opts.unchanged or v.verdict is not VerdictKind.UNCHANGED)
        )
        key = (index, shown)
        if key not in self._tables:
            hidden = len(verdicts) - len(shown)
            heading = scenario_heading(tier, scenario, MARKDOWN)
            if not shown:
                text = f"{heading}_{hidden} metrics unchanged (rows trimmed)._"
            else:
                table = self._rows[index].lay_out(shown)
                plural = "s" if hidden != 1 else ""
                more = f"\n\n_{hidden} more row{plural} trimmed._" if hidden else ""
                text = f"{heading}{table}{more}"
            self._tables[key] = text
        return self._tables[key]

    def tables(self, opts: _Options) -> list[str]:
        parts = [self._table(i, opts) for i in range(len(self.groups))]
        if opts.max_tables is not None and len(parts) > opts.max_tables:
            left_out = len(parts) - opts.max_tables
            parts = [*parts[: opts.max_tables], f"_{left_out} more tier/scenario tables left out (in gate.json)._"]
        return parts

    def render(self, opts: _Options) -> str:
        parts = [*self._head, *self.tables(opts), *self._middle]
        if opts.provenance:
            parts.append(self._provenance)
        if opts.chart and self._chart:
            parts.append(self._chart)
        parts.append(self._footer)
        return "\n\n".join(parts) + "\n"


def gate_summary(
    report: GateReport,
    triage: Sequence[TriageRow] = (),
    baseline_diff: str | None = None,
    *,
    limit: int = GITHUB_COMMENT_LIMIT - SAFETY_MARGIN,
    site_url: str | None = None,
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
    sections = _Sections(report, triage, baseline_diff, site_url)
    text = ""
    for dropped, opts in steps:
        text = sections.render(opts)
        if dropped:
            text += f"\n_Trimmed to fit GitHub's comment limit: {dropped} left out; the full report is in gate.json._\n"
        if len(text) <= limit:
            return text
    # Still too long: drop whole verdict tables from the end (the headline and the triage
    # table come first in importance), finding how many fit by bisection.
    lean, dropped = steps[-1][1], f"{steps[-1][0]} and some verdict tables"
    note = f"\n_Trimmed to fit GitHub's comment limit: {dropped} left out; the full report is in gate.json._\n"
    low, high = 0, len(sections.groups)
    best: str | None = None
    while low <= high:
        keep = (low + high) // 2
        candidate = sections.render(replace(lean, max_tables=keep)) + note
        if len(candidate) <= limit:
            best, low = candidate, keep + 1
        else:
            high = keep - 1
    if best is not None:
        return best
    note = "\n\n_Truncated to fit GitHub's comment limit; the full report is in gate.json._\n"
    return text[: limit - len(note)] + note
