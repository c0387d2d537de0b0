"""``perfgate report``: the team's performance report, written from results files.

Same sections as the hand-made alpha report (Scope; Environment + Commands;
Results; Defect Triage; Summary), plus "What changed" when the results differ
from the baselines in a treatment (model, prompt, runtime...). Every number
comes from the data, a missing measurement reads "N/A — reason" (never 0 MB),
and host labels are printed exactly as the machine reports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tabulate import tabulate

from perfgate.contracts.gate import GateReport
from perfgate.contracts.results import LoadedResults, MetricSummary, RunResult, ScenarioResult
from perfgate.markdown_escape import code, code_block
from perfgate.render.cells import escape, fmt_number
from perfgate.render.changes import changes_markdown
from perfgate.render.summary import TriageRow, chart_label

RESULT_HEADERS = [
    "Run Set",
    "Backend",
    "First-Token Latency (median ms)",
    "Throughput (median tokens/sec)",
    "Peak Combined RSS (MB)",
    "Peak Runtime RSS (MB)",
    "Status",
]


@dataclass(frozen=True)
class ReportInput:
    title: str
    generated: str  # date shown under the title
    loaded: Sequence[LoadedResults]
    raw_paths: Sequence[str]  # paths of the raw files as the reader should find them
    gate: GateReport | None  # comparison with baselines, when baselines were given
    triage: Sequence[TriageRow]
    expected_tiers: Sequence[str]
    memory_interval_ms: float


def _cell(summary: MetricSummary | None, reason: str | None) -> str:
    if summary is None:
        return f"N/A — {reason}" if reason else "N/A"
    spread = f" ({fmt_number(summary.min)}–{fmt_number(summary.max)})" if summary.n > 1 else ""
    return f"{fmt_number(summary.median)}{spread}"


def _backend(result: RunResult) -> str:
    rt = result.runtime
    text = f"{rt.kind} {rt.version or ''}".strip() + f" at {rt.base_url}"
    return text + (", simulated" if result.simulated else "")


def _status(result: RunResult, scenario: ScenarioResult | None, name: str) -> str:
    failures = [f for f in result.failures if f.scenario in (name, None)]
    blocking = [f for f in failures if f.kind.value != "memory_unavailable"]
    if blocking:
        return f"Failed ({blocking[0].kind.value})"
    if scenario is None or not scenario.samples:
        return "Not run"
    note = f" ({failures[0].message})" if failures else ""
    return f"Complete, {len(scenario.samples)} runs{note}"


def _results_rows(loaded: Sequence[LoadedResults]) -> list[list[str]]:
    rows = []
    for item in loaded:
        result = item.result
        names = [s.name for s in result.scenarios] or list(result.fingerprint.scenarios) or ["(all)"]
        by_name = {s.name: s for s in result.scenarios}
        for name in names:
            scenario = by_name.get(name)
            summaries = scenario.summaries if scenario else {}
            blocking = next((f for f in result.failures if f.kind.value != "memory_unavailable"), None)
            # The reason is written once per row, in its first cell; the status says "Failed".
            reason = blocking.message if blocking and not summaries else "not measured"
            mem_reason = scenario.memory_unavailable_reason if scenario else None
            rows.append(
                [
                    f"{result.tier} / {name}",
                    _backend(result),
                    _cell(summaries.get("ttft_ms"), reason),
                    _cell(summaries.get("decode_tok_s"), None),
                    _cell(summaries.get("peak_combined_rss_mb"), mem_reason),
                    _cell(summaries.get("peak_runtime_rss_mb"), mem_reason),
                    _status(result, scenario, name),
                ]
            )
    return [[escape(cell) for cell in row] for row in rows]


def _chart(loaded: Sequence[LoadedResults]) -> str | None:
    bars = [
        (chart_label(item.result.tier, s.name), s.summaries["ttft_ms"].median)
        for item in loaded
        for s in item.result.scenarios
        if "ttft_ms" in s.summaries
    ]
    if len(bars) < 2:
        return None
    names = ", ".join(f'"{name}"' for name, _ in bars)
    values = ", ".join(f"{value:.1f}" for _, value in bars)
    top = max(value for _, value in bars) * 1.15
    return (
        "```mermaid\nxychart-beta\n"
        '    title "Median first-token latency (ms)"\n'
        f"    x-axis [{names}]\n"
        f'    y-axis "ms" 0 --> {top:.0f}\n'
        f"    bar [{values}]\n```"
    )


def _summary_bullets(data: ReportInput) -> list[str]:
    complete = [
        f"{i.result.tier}/{s.name}"
        for i in data.loaded
        for s in i.result.scenarios
        if s.samples and not i.result.failures
    ]
    failed = [(i.result.tier, f) for i in data.loaded for f in i.result.failures]
    seen_tiers = {i.result.tier for i in data.loaded}
    missing = [t for t in data.expected_tiers if t not in seen_tiers]
    bullets = []
    if complete:
        bullets.append(f"Measured without failures: {', '.join(complete)}.")
    if data.gate is not None:
        bullets.append(f"Against the committed baselines: {data.gate.headline}.")
    for tier, failure in failed:
        bullets.append(f"Blocked on {tier}: {failure.message}")
    for tier in missing:
        bullets.append(f"Tier {tier} has no data.")
    needs = [f"a successful capture on {tier}" for tier in sorted({t for t, _ in failed} | set(missing))]
    if needs:
        bullets.append(f"The next report needs {', '.join(needs)}, and the P1 entries above closed.")
    elif not bullets:
        bullets.append("No results.")
    return [f"- {escape(b)}" for b in bullets]


def _what_changed(gate: GateReport | None) -> list[str]:
    """The changes under test against the baselines (a section only when there are some)."""
    section = changes_markdown(gate.changes, heading="##") if gate is not None else None
    return [section, ""] if section else []


def report_markdown(data: ReportInput) -> str:
    """The whole report as Markdown."""
    results = [i.result for i in data.loaded]
    tiers = sorted({r.tier for r in results} | set(data.expected_tiers))
    kinds = sorted({f"{r.runtime.kind} {r.runtime.version or ''}".strip() for r in results})
    quant = {r.runtime.model: r.runtime.quantization for r in results if r.runtime.quantization}
    models = sorted(
        {r.runtime.model + (f" ({quant[r.runtime.model]})" if r.runtime.model in quant else "") for r in results}
    )
    hosts = sorted({(r.tier, r.host.label, r.host.chip or "unknown chip") for r in results})
    prompts: dict[str, str] = {}
    for r in results:
        for s in r.scenarios:
            prompts.setdefault(s.name, s.prompt_sha256)
    commands = sorted({f"{r.created_at}: {r.command}" for r in results})
    lines = [
        f"# {escape(data.title)}",
        "",
        f"_Generated: {data.generated}_",
        "",
        "## Scope",
        "",
        "- Target metrics: first-token latency, tokens/sec (decode), peak memory.",
        f"- Target environments: {', '.join(escape(t) for t in tiers) or 'none'}.",
        f"- Harness: `perfgate run` ({escape(', '.join(kinds) or 'no runtime')}).",
        "- Memory sampling mode: runtime process tree RSS (server and every child, re-enumerated each tick)"
        f" + harness RSS, every {data.memory_interval_ms:g} ms; phys_footprint on macOS.",
        "",
        "## Environment + Commands",
        "",
        # The label exactly as the machine reports it (e.g. "Ross’s Mac mini"), in a code span.
        *[f"- Machine label ({escape(tier)}): {code(label)} — {escape(chip)}" for tier, label, chip in hosts],
        f"- Model target: {', '.join(code(m) for m in models) or 'none'}",
        *[f"- Scenario {code(name)}: prompt sha256 {code(sha[:12])}" for name, sha in prompts.items()],
        "",
        "Commands that produced the data:",
        "",
        # A command is the results file's own text: fenced so that no line of it can close the block.
        code_block(commands, "bash"),
        "",
        "Raw output artifacts:",
        "",
        *[f"- {code(p)}" for p in data.raw_paths],
        "",
        *_what_changed(data.gate),
        "## Results",
        "",
        tabulate(
            _results_rows(data.loaded),
            headers=RESULT_HEADERS,
            tablefmt="github",
            colalign=("left", "left", "right", "right", "right", "right", "left"),
            disable_numparse=True,
        ),
        "",
        "Medians with (min–max) over the measured runs; N/A names why nothing was measured.",
        "",
    ]
    chart = _chart(data.loaded)
    if chart:
        lines += [chart, ""]
    lines += ["## Defect Triage", ""]
    if data.triage:
        lines.append(
            tabulate(
                [
                    [escape(r.severity), escape(r.defect), escape(r.impact), escape(r.owner), r.status]
                    for r in data.triage
                ],
                headers=["Severity", "Defect", "Impact", "Owner", "Status"],
                tablefmt="github",
                disable_numparse=True,
            )
        )
    else:
        lines.append("No open defects.")
    lines += ["", "## Summary", "", *_summary_bullets(data)]
    return "\n".join(lines).rstrip() + "\n"
