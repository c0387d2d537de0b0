"""Terminal rendering of a run: one aligned table per scenario.

What a results file, a runtime or an app said (labels, versions, messages) is
put on one line each (``one_line``), so it cannot split a table row or start a
line of its own; the console then makes every line safe for a CI log.
"""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from perfgate.contracts.gate import GateReport
from perfgate.contracts.results import MetricSummary, RunResult, ScenarioResult
from perfgate.contracts.sequential import SequentialRecord
from perfgate.contracts.triage import TriageEntry
from perfgate.decide.fingerprint import same_model, serving_before
from perfgate.metrics import APP_METRIC_PREFIX, CLIENT_CLOCK_METRICS, unit_of
from perfgate.render.cells import fmt_number, look_alpha_note
from perfgate.render.changes import changes_text
from perfgate.render.verdicts import TERMINAL, verdict_tables
from perfgate.stdio import one_line

# Server and client decode rates legitimately differ a little (Ollama's clock starts at
# the first token; chunks coalesce in TCP). Beyond this the runtime's timings are suspect.
DECODE_CLOCK_BOUND = 0.25

# The metrics a person reads first; the rest stay in the JSON file.
TERMINAL_METRICS = (
    "ttft_ms",
    "e2e_ms",
    "app_wall_ms",
    "decode_tok_s",
    "client_decode_tok_s",
    "prefill_tok_s",
    "itl_ms_p50",
    "load_ms",
    "load_cold_ms",
    "ttft_cold_ms",
    "peak_runtime_rss_mb",
    "peak_runtime_footprint_mb",
    "peak_harness_rss_mb",
    "peak_app_rss_mb",
    "peak_combined_rss_mb",
)


def _row(metric: str, summary: MetricSummary) -> list[str]:
    spread = f"{fmt_number(summary.min)} – {fmt_number(summary.max)}"
    cv = "—" if summary.cv is None else f"{summary.cv * 100:.1f} %"
    return [metric, unit_of(metric), fmt_number(summary.median), spread, cv, str(summary.n)]


# Shown only for the scenarios they belong to; absent elsewhere without a word.
_APP_ONLY = frozenset({"app_wall_ms", "peak_app_rss_mb"})
_MACOS_ONLY = frozenset({"peak_runtime_footprint_mb"})
_HARNESS = "peak_harness_rss_mb"
_COLD_ONLY = frozenset({"load_cold_ms", "ttft_cold_ms"})  # a cold start's TTFT is ttft_cold_ms, never ttft_ms


def _absent_reason(metric: str, scenario: ScenarioResult) -> str | None:
    """Why a metric that belongs in this scenario's table has no value (None: it does not belong)."""
    is_app = scenario.command is not None
    # macOS-only figures, an app's figures outside app scenarios, perfgate's own memory inside them.
    hidden = metric in _MACOS_ONLY or (metric in _APP_ONLY and not is_app) or (is_app and metric == _HARNESS)
    cold = scenario.options.cold_start
    hidden = hidden or (metric in _COLD_ONLY and not cold) or (cold and metric == "ttft_ms")
    reasons = (
        (hidden, None),
        (metric.startswith("peak_") and scenario.memory_unavailable_reason is not None, "memory unavailable"),
        (
            (metric in {"client_decode_tok_s", "decode_tok_s"} or metric.startswith("itl_"))
            and all(s.output_tokens is not None and s.output_tokens < 2 for s in scenario.samples),
            "fewer than 2 tokens",
        ),
        (
            metric in CLIENT_CLOCK_METRICS and all(s.suspect_reason is not None for s in scenario.samples),
            "every sample suspect",
        ),
        (metric == "prefill_tok_s", "runtime sent no prompt timing (prompt cached?)"),
    )
    return next((reason for applies, reason in reasons if applies), "not reported by the runtime")


def scenario_table(scenario: ScenarioResult) -> str:
    # The app's own figures (PERFGATE lines of an app scenario) follow perfgate's. A metric
    # that belongs here but has no value keeps its row, with the reason, rather than vanishing.
    app = sorted(m for m in scenario.summaries if m.startswith(APP_METRIC_PREFIX))
    rows: list[list[str]] = []
    for metric in (*TERMINAL_METRICS, *app):
        if metric in scenario.summaries:
            rows.append(_row(metric, scenario.summaries[metric]))
        elif scenario.samples and (reason := _absent_reason(metric, scenario)) is not None:
            rows.append([metric, unit_of(metric), "—", reason, "", "0"])
    table = tabulate(
        rows,
        headers=["metric", "unit", "median", "min – max", "cv", "n"],
        colalign=("left", "left", "right", "right", "right", "right"),
        disable_numparse=True,
    )
    notes: list[str] = []
    suspect = [s for s in scenario.samples if s.suspect_reason is not None]
    if suspect:
        notes.append(
            f"  {len(suspect)} of {len(scenario.samples)} samples left out of perfgate's clock figures "
            f"(suspect timing), e.g. run {suspect[0].iteration + 1}: {one_line(suspect[0].suspect_reason or '')}"
        )
    if scenario.memory_unavailable_reason:
        notes.append(f"  runtime memory: unavailable ({one_line(scenario.memory_unavailable_reason)})")
    sources = {one_line(s.decode_source) for s in scenario.samples if s.decode_source}
    if sources:
        notes.append(f"  decode_tok_s source: {', '.join(sorted(sources))} clock")
    if any(s.token_count_source == "chunks" for s in scenario.samples):
        notes.append("  output tokens counted from stream chunks (runtime sent no usage)")
    ratios = sorted(s.decode_clock_ratio for s in scenario.samples if s.decode_clock_ratio is not None)
    if ratios:
        ratio = ratios[len(ratios) // 2]
        if abs(ratio - 1) > DECODE_CLOCK_BOUND:
            notes.append(
                f"  server and client decode rates disagree: server/client = {ratio:.2f} "
                f"(beyond ±{DECODE_CLOCK_BOUND:.0%}); check the runtime's reported timings"
            )
    retries = sum(s.retries_before_first_byte for s in scenario.samples)
    if retries:
        notes.append(f"  {retries} request(s) re-sent after failing before any byte arrived")
    cold = sum(1 for s in scenario.samples if s.cold)
    if cold:
        notes.append(f"  {cold} cold sample(s) (model load during the request)")
    return "\n".join([table, *notes])


def run_report(result: RunResult) -> str:
    """The full terminal report of one run."""
    rt = result.runtime
    model = one_line(rt.model + (f" ({rt.quantization})" if rt.quantization else ""))
    head = [
        one_line(f"perfgate run · tier {result.tier} · {rt.kind} {rt.version or '?'} at {rt.base_url}")
        + (" · simulated" if result.simulated else ""),
        f"model {model} · host {one_line(result.host.label)} ({one_line(result.host.chip or 'unknown chip')}) · "
        f"{result.warmup} warm-up + {result.runs} runs per scenario",
    ]
    before = serving_before(rt.started_at, result.created_at)
    if before is not None:
        head.append(
            f"note: the runtime (pid {rt.pid}) had been serving for {before.total_seconds() / 60:.0f} min before "
            "this run: its memory may include what earlier requests left"
        )
    for name, sent in result.fingerprint.scenarios.items():
        if sent.app_model is not None and not same_model(sent.app_model, rt.model):
            head.append(
                f"note: scenario {name} asked the runtime for model {one_line(sent.app_model)}, not "
                f"{one_line(rt.model)} (runtime.model, whose digest is recorded): set --model to the app's model"
            )
    parts = ["\n".join(head)]
    for scenario in result.scenarios:
        n = len(scenario.samples)
        more = n - result.runs
        counted = f"{n} samples: {result.runs} + {more} more" if more > 0 else f"{n}/{result.runs} samples"
        parts.append(f"{scenario.name}  ({counted})\n{scenario_table(scenario)}")
    if result.sequential is not None:
        parts.append(sequential_text(result.sequential))
    if result.failures:
        lines = [
            f"  {f.kind.value}: {one_line(f.message)}" + (f" [scenario {f.scenario}]" if f.scenario else "")
            for f in result.failures
        ]
        parts.append("failures\n" + "\n".join(lines))
    return "\n\n".join(parts)


STOP_REASONS = {
    "settled": "every gating verdict settled",
    "max_looks": "the last look was reached",
    "max_runs": "--max-runs reached",
    "max_minutes": "--max-minutes spent",
    "out_of_reach": "what is left needs more runs than the budget allows, or a larger baseline",
    "failure": "a measurement failed",
    "no_baseline": "no comparable baseline to look against",
    "error": "a look could not be decided",
}


def sequential_text(record: SequentialRecord) -> str:
    """The looks of a ``--until-conclusive`` run: runs, alpha, open verdicts and re-runs per look."""
    reason = STOP_REASONS.get(record.stopped, record.stopped)
    if record.error:
        reason += f": {one_line(record.error)}"
    rows = []
    for look in record.looks:
        open_verdicts = "; ".join(
            f"{kind}: {', '.join(sorted(key for key, v in look.verdicts.items() if v == kind))}"
            for kind in ("regressed", "inconclusive")
            if kind in look.verdicts.values()
        )
        rows.append(
            [
                look.index,
                f"{look.alpha:.4f}",
                ", ".join(f"{name} {count}" for name, count in look.runs.items()),
                open_verdicts or "—",
                ", ".join(look.rerun) or "—",
            ]
        )
    table = tabulate(rows, headers=["look", "α", "runs", "open verdicts", "re-run"], disable_numparse=True)
    looks = f"{len(record.looks)} of at most {record.max_looks} looks"
    head = f"sequential run: {looks} · stopped: {record.stopped} ({reason})"
    if record.confirmed:
        head += f"\nconfirmed regressions: {', '.join(record.confirmed)}"
    return f"{head}\n{table}"


def gate_text(report: GateReport) -> str:
    """The gate's verdict tables for a terminal, grouped by tier and scenario."""
    parts = [one_line(report.headline)]
    for tier in report.tiers:
        for warning in tier.warnings:
            parts.append(f"  warning [{one_line(tier.tier)}]: {one_line(warning)}")
    changed = changes_text(report.changes)
    if changed:
        parts.append(changed)
    parts.extend(verdict_tables(report.verdicts, TERMINAL))
    if report.problems:
        parts.append(
            "problems\n"
            + "\n".join(
                one_line(f"  {p.kind.value} [{p.tier}{'/' + p.scenario if p.scenario else ''}]: {p.message}")
                for p in report.problems
            )
        )
    level = f"α = {report.alpha:g} over the whole gate{look_alpha_note(report)}"
    parts.append(f"gate: {report.status.value} (exit {report.exit_code}), {level}")
    return "\n\n".join(parts)


def triage_text(entries: Sequence[TriageEntry]) -> str:
    """Triage entries as an aligned table, open first."""
    if not entries:
        return "no triage entries"
    rows = [
        [
            one_line(e.severity),
            e.status,
            one_line(e.title),
            one_line(e.owner),
            f"{e.occurrences}×",
            e.last_seen.date,
            f"#{e.issue_number}" if e.issue_number else "—",
        ]
        for e in entries
    ]
    return tabulate(
        rows, headers=["sev", "status", "defect", "owner", "seen", "last seen", "issue"], disable_numparse=True
    )
