"""Data contracts: every value that crosses a stage boundary or lands on disk.

Field names are part of the results-file contract (``docs/schema/``). A field
the runtime did not send is ``None`` -- never 0 -- and is never averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field

from perfgate.contracts.figures import Count, Figure, FiniteFigure, PositiveFigure
from perfgate.contracts.frozen import Frozen
from perfgate.contracts.machine import Fingerprint, HostInfo, RuntimeInfo, ScenarioFingerprint
from perfgate.contracts.migrate import migrate_results
from perfgate.contracts.sequential import Look as Look  # noqa: PLC0414 -- re-export: part of the results file
from perfgate.contracts.sequential import ScenarioMetric as ScenarioMetric  # noqa: PLC0414 -- re-export
from perfgate.contracts.sequential import SequentialRecord
from perfgate.errors import FailureKind
from perfgate.files import SafeName, read_model
from perfgate.metrics import APP_METRIC_PREFIX, CLIENT_CLOCK_METRICS, METRIC_UNITS

# The host, runtime and fingerprint contracts live in contracts.machine; they are re-exported here.
__all__ = [
    "RESULTS_SCHEMA_VERSION",
    "Failure",
    "Fingerprint",
    "Frozen",
    "HostInfo",
    "LoadedResults",
    "Look",
    "MemoryPeaks",
    "MetricSummary",
    "RunResult",
    "RuntimeInfo",
    "Sample",
    "ScenarioFingerprint",
    "ScenarioMetric",
    "ScenarioOptions",
    "ScenarioResult",
    "SequentialRecord",
    "StreamObservation",
    "load_results",
    "metric_values",
    "sample_metrics",
]

RESULTS_SCHEMA_VERSION = 2  # 2: decode rate over n - 1 gaps on both clocks (contracts/migrate.py)


class Failure(Frozen):
    """One thing that went wrong during a run, kept in the results file."""

    kind: FailureKind
    message: str = Field(description="One-line reason, as printed to the user.")
    scenario: SafeName | None = Field(default=None, description="Scenario it happened in, if any.")
    iteration: int | None = Field(default=None, description="Measured iteration (0-based), if any.")


class StreamObservation(Frozen):
    """What one streamed request looked like, as seen by a runtime client.

    Clock values are ``time.perf_counter_ns()`` readings taken by the client;
    server values are copied from the runtime's own report (``None`` when absent).
    """

    sent_ns: int = Field(description="Clock when the request was sent.")
    first_content_ns: int | None = Field(description="Clock at the first chunk with non-empty content.")
    last_content_ns: int | None = Field(description="Clock at the last chunk with non-empty content.")
    done_ns: int = Field(description="Clock at the final chunk (done / [DONE]).")
    content_chunk_ns: tuple[int, ...] = Field(description="Clock at every chunk with non-empty content.")
    text: str = Field(description="Concatenated generated text.")
    output_tokens: int | None = Field(description="Output token count reported by the server.")
    prompt_tokens: int | None = Field(description="Prompt token count reported by the server.")
    uncached_prompt_tokens: int | None = Field(
        default=None, description="Prompt tokens actually evaluated (cache misses), when known."
    )
    prompt_eval_ns: int | None = Field(default=None, description="Server time evaluating uncached prompt tokens.")
    eval_count: int | None = Field(default=None, description="Server-reported generated tokens timed by eval_ns.")
    eval_ns: int | None = Field(default=None, description="Server time spent generating eval_count tokens.")
    load_ns: int | None = Field(default=None, description="Server model-load (and queue) time.")
    done_reason: str | None = Field(default=None, description="stop, length, ... as sent by the server.")
    token_count_source: Literal["server", "chunks"] = Field(
        default="server", description="Where output_tokens came from; 'chunks' is a flagged last resort."
    )
    retries_before_first_byte: int = Field(
        default=0, description="Requests re-sent because the connection failed before any byte arrived."
    )


class MemoryPeaks(Frozen):
    """Peak memory seen by the sampler over one window (one request)."""

    peak_runtime_rss_mb: float | None = Field(
        description="Peak of the summed RSS over the runtime's whole process tree; None when no process was found."
    )
    peak_runtime_footprint_mb: float | None = Field(
        default=None,
        description=(
            "Peak summed ri_phys_footprint (macOS only; Activity Monitor's 'Memory'): the tree's own dirty and "
            "compressed pages, without the mmap'd model weights."
        ),
    )
    peak_runtime_resident_mb: float | None = Field(
        default=None, description="Peak summed ri_resident_size (macOS only): resident pages, weights included."
    )
    peak_runtime_wired_mb: float | None = Field(
        default=None, description="Peak summed ri_wired_size (macOS only): pages that cannot be paged out."
    )
    peak_harness_rss_mb: float = Field(description="Peak RSS of the perfgate process itself.")
    peak_combined_rss_mb: float | None = Field(
        description=(
            "Peak of runtime tree + harness RSS, sampled together; for an app scenario, runtime tree + the app "
            "command's tree."
        )
    )
    peak_app_rss_mb: float | None = Field(
        default=None, description="Peak of the summed RSS over the app command's process tree (app scenarios)."
    )
    runtime_pids: tuple[int, ...] = Field(default=(), description="Every runtime PID seen during the window.")
    ticks: int = Field(default=0, description="Number of samples taken in the window.")
    unavailable_reason: str | None = Field(default=None, description="Why runtime memory is missing, if it is.")


class Sample(Frozen):
    """One measured request."""

    iteration: int = Field(description="Measured iteration (0-based; a warm-up, never kept, is -1).")
    ttft_ms: PositiveFigure | None = Field(description="Request sent -> first chunk with non-empty content.")
    e2e_ms: PositiveFigure = Field(description="Request sent -> final chunk.")
    decode_tok_s: PositiveFigure | None = Field(
        description=(
            "Tokens per second over the N-1 gaps after the first token: (eval_count - 1) / eval_duration on the "
            "server's clock when sent, else client_decode_tok_s (see decode_source). Both clocks count alike."
        )
    )
    decode_source: Literal["server", "client"] | None = Field(description="Which clock decode_tok_s came from.")
    client_decode_tok_s: PositiveFigure | None = Field(
        description="(output_tokens - 1) / (last content chunk - first content chunk), client clock."
    )
    server_reported_tok_s: PositiveFigure | None = Field(
        default=None,
        description=(
            "The runtime's own figure, eval_count / eval_duration (N tokens over N-1 gaps, as `ollama run "
            "--verbose` prints it): kept for reading next to the runtime's output, never gated."
        ),
    )
    decode_clock_ratio: PositiveFigure | None = Field(
        default=None,
        description="Server decode rate / client decode rate; far from 1 means the two clocks disagree.",
    )
    prefill_tok_s: PositiveFigure | None = Field(
        description="Uncached prompt tokens / their server duration; None if unknown."
    )
    load_ms: Figure | None = Field(description="Server-reported load (and queue) time.")
    cold: bool = Field(
        description="True when load_ms exceeds the configured cold threshold, and for every cold-start sample."
    )
    load_cold_ms: Figure | None = Field(
        default=None,
        description=(
            "Cold-start scenarios: the model's load time after it was unloaded (Ollama's load_duration of the "
            "first request; llama.cpp: its server's start until it answers). None for warm samples."
        ),
    )
    ttft_cold_ms: PositiveFigure | None = Field(
        default=None,
        description=(
            "Cold-start scenarios: from the moment the unloaded model was asked for to the first content chunk "
            "(perfgate's clock; load included). Their ttft_ms is None, so a cold TTFT never mixes with warm ones."
        ),
    )
    output_tokens: Count | None
    prompt_tokens: Count | None
    itl_ms_p50: Figure | None = Field(description="Median gap between content chunks (inter-chunk latency).")
    itl_ms_p90: Figure | None
    itl_ms_p99: Figure | None
    done_reason: str | None
    token_count_source: Literal["server", "chunks"] = "server"
    retries_before_first_byte: Count = 0
    peak_runtime_rss_mb: PositiveFigure | None = None
    peak_runtime_footprint_mb: PositiveFigure | None = None
    peak_runtime_resident_mb: PositiveFigure | None = Field(
        default=None, description="macOS: peak ri_resident_size of the runtime's tree (recorded, not compared)."
    )
    peak_runtime_wired_mb: Figure | None = Field(
        default=None, description="macOS: peak ri_wired_size of the runtime's tree (recorded, not compared)."
    )
    peak_harness_rss_mb: PositiveFigure | None = None
    peak_combined_rss_mb: PositiveFigure | None = None
    app_wall_ms: PositiveFigure | None = Field(default=None, description="App scenarios: the command's wall time.")
    peak_app_rss_mb: PositiveFigure | None = Field(
        default=None, description="App scenarios: peak RSS of the command's tree."
    )
    app_metrics: dict[str, FiniteFigure] = Field(
        default_factory=dict,
        description="App scenarios: the figures the command printed on `PERFGATE {...}` lines (metric `app.<name>`).",
    )
    cpu_wait_ms: Figure | None = Field(
        default=None,
        description=(
            "How long perfgate's measuring thread waited for a CPU while the request ran (Linux schedstat); "
            "its clock readings may be late by up to this much. None where the OS does not say."
        ),
    )
    suspect_reason: str | None = Field(
        default=None,
        description=(
            "Why this sample's client-clock timings cannot be trusted (perfgate starved of CPU, a burst of "
            "chunks after a stall, clocks that disagree); those metrics leave it out of every statistic."
        ),
    )
    sequence: Count | None = Field(
        default=None,
        description=(
            "Where this request came in the run's measured requests, every scenario counted (0-based; warm-ups "
            "not counted; runs added by --until-conclusive go on counting): the order they were measured in. "
            "None in files written before it was recorded."
        ),
    )

    def trusts(self, metric: str) -> bool:
        """Whether ``metric`` of this sample may enter a statistic (a suspect sample's client clock may not)."""
        if self.suspect_reason is None:
            return True
        if metric == "decode_tok_s":
            return self.decode_source == "server"
        return metric not in CLIENT_CLOCK_METRICS


def metric_values(samples: Sequence[Sample], metric: str) -> list[float]:
    """The non-null values of one metric; absent values are skipped, never zeroed.

    A suspect sample's client-clock figures (``Sample.trusts``) are skipped too.

    ``app.<name>`` reads the app's own figure ``<name>`` from each sample's ``app_metrics``.
    """
    out: list[float] = []
    for sample in samples:
        if not sample.trusts(metric):
            continue
        if metric.startswith(APP_METRIC_PREFIX):
            value: object = sample.app_metrics.get(metric.removeprefix(APP_METRIC_PREFIX))
        else:
            value = getattr(sample, metric)
        if isinstance(value, int | float):
            out.append(float(value))
    return out


def sample_metrics(samples: Sequence[Sample]) -> list[str]:
    """Every metric the samples can hold: the registry's, then the app figures they carry (sorted)."""
    app = sorted({f"{APP_METRIC_PREFIX}{key}" for sample in samples for key in sample.app_metrics})
    return [*METRIC_UNITS, *app]


class MetricSummary(Frozen):
    """Summary of one metric over a scenario's samples (None values excluded)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    n: int
    median: float
    mean: float
    stdev: float | None = Field(description="Sample standard deviation; None when n < 2.")
    cv: float | None = Field(description="stdev / mean; None when n < 2 or mean is 0.")
    min: float
    max: float


class ScenarioOptions(Frozen):
    """Generation options sent identically on every request of a scenario."""

    num_predict: int
    num_ctx: int | None = Field(
        description="Context window sent with every request; None where the protocol has no way to send it."
    )
    temperature: float
    seed: int
    keep_alive: str
    cold_prompt: bool = Field(
        default=False,
        description="Each request's prompt began with a nonce and the runtime was asked not to reuse its cache.",
    )
    cold_start: bool = Field(
        default=False,
        description="Each measured request was a cold start: the model was unloaded before it (scenario kind 'cold').",
    )


class ScenarioResult(Frozen):
    """All samples of one scenario and their summaries."""

    name: SafeName
    prompt_sha256: str = Field(
        description="Hash of the prompt; for an app scenario, of the messages the app sent in its first LLM request."
    )
    prompt_chars: int | None = Field(description="Length of perfgate's prompt; None for an app scenario.")
    command: str | None = Field(
        default=None, description="App scenarios: the benchmark command, shell-quoted, run once per run."
    )
    options: ScenarioOptions
    warmups_discarded: int
    samples: tuple[Sample, ...]
    summaries: dict[str, MetricSummary] = Field(description="Per metric name; metrics with no values are absent.")
    memory_unavailable_reason: str | None = None
    thermal_states: tuple[str, ...] = Field(
        default=(),
        description=(
            "The host's thermal states read before this scenario's measured runs (distinct, in order; e.g. "
            "'nominal'); empty where the OS does not say."
        ),
    )


class RunResult(Frozen):
    """The results file written by ``perfgate run``."""

    schema_version: int = RESULTS_SCHEMA_VERSION
    kind: Literal["perfgate-results"] = "perfgate-results"
    perfgate_version: str
    created_at: str = Field(description="ISO 8601 UTC time the run started.")
    git_sha: str | None = None
    command: str = Field(description="The command line that produced this file.")
    host: HostInfo
    tier: SafeName
    fingerprint: Fingerprint
    runtime: RuntimeInfo
    simulated: bool
    warmup: int
    runs: int
    order: Literal["interleaved", "blocked"] | None = Field(
        default=None,
        description=(
            "How the scenarios' runs were ordered (setting `order`): interleaved, round by round (run 1 of every "
            "scenario, then run 2, ...), or blocked, scenario by scenario. None in files written before it was "
            "recorded, which were blocked."
        ),
    )
    scenarios: tuple[ScenarioResult, ...]
    failures: tuple[Failure, ...] = ()
    sequential: SequentialRecord | None = Field(
        default=None, description="Present when the run added runs until its verdicts settled."
    )

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class LoadedResults:
    """A results file and where it was read from."""

    path: Path
    result: RunResult


def load_results(path: Path) -> LoadedResults:
    return LoadedResults(
        path,
        read_model(path, RunResult, what="results", current_version=RESULTS_SCHEMA_VERSION, migrate=migrate_results),
    )
