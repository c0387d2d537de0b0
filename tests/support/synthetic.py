"""Results, samples and baselines built in code with chosen numbers.

Decision, triage and publishing tests feed these instead of live measurements:
a "clean" run is clean and a slowdown is a slowdown whatever else the machine
is doing. Values are lognormal around ``TYPICAL`` (2 % CV unless told
otherwise) from a seeded generator, so every file is the same on every run.

- ``make_result``: a whole results file of one tier (``write_model`` it for the CLI);
- ``resampled``: a real results file (e.g. from a live ``perfgate run``) with its
  samples replaced by chosen ones, so a test keeps the real fingerprint;
- ``baseline_of`` / ``make_baseline``: what ``perfgate baseline update`` would make.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import Baseline, Provenance, baseline_path
from perfgate.contracts.results import (
    Failure,
    Fingerprint,
    HostInfo,
    RunResult,
    RuntimeInfo,
    Sample,
    ScenarioFingerprint,
    ScenarioOptions,
    ScenarioResult,
)
from perfgate.decide.baseline import scenario_samples
from perfgate.files import write_model
from perfgate.measure.samples import summarise_samples

TIERS = PerfgateConfig().tiers
SCENARIOS = ("short-explain", "prefill")
OPTIONS = ScenarioOptions(num_predict=64, num_ctx=4096, temperature=0.0, seed=42, keep_alive="10m")
PROMPT_SHA = {name: f"{i + 1:064x}" for i, name in enumerate(SCENARIOS)}
OPTIONS_SHA = "e" * 64
MEMORY_REASON = "no process found listening on 127.0.0.1:11434"

# Typical medians of a 7B model on an M3 Pro; what matters is the ratio between runs.
TYPICAL = {
    "ttft_ms": 120.0,
    "e2e_ms": 1500.0,
    "decode_tok_s": 45.0,
    "client_decode_tok_s": 44.0,
    "prefill_tok_s": 900.0,
    "itl_ms_p50": 22.0,
    "peak_runtime_rss_mb": 5200.0,
    "peak_harness_rss_mb": 60.0,
    "peak_combined_rss_mb": 5260.0,
}
MEMORY = ("peak_runtime_rss_mb", "peak_combined_rss_mb")

Columns = dict[str, list[float]]


def samples_from(columns: Mapping[str, list[float]]) -> tuple[Sample, ...]:
    """Samples whose metric values are the given columns; metrics not given are None (e2e_ms is required)."""
    n = len(columns["e2e_ms"])
    return tuple(
        Sample(
            iteration=i,
            ttft_ms=None,
            e2e_ms=columns["e2e_ms"][i],
            decode_tok_s=None,
            decode_source="server" if "decode_tok_s" in columns else None,
            client_decode_tok_s=None,
            prefill_tok_s=None,
            load_ms=4.0,
            cold=False,
            output_tokens=64,
            prompt_tokens=20,
            itl_ms_p50=None,
            itl_ms_p90=None,
            itl_ms_p99=None,
            done_reason="length",
        ).model_copy(update={m: values[i] for m, values in columns.items()})
        for i in range(n)
    )


def lognormal_columns(
    seed: int,
    n: int,
    *,
    scale: Mapping[str, float] | None = None,
    cv: Mapping[str, float] | None = None,
    memory: bool = True,
    typical: Mapping[str, float] = TYPICAL,
) -> Columns:
    """Lognormal values around ``typical`` (times ``scale``), 2 % CV unless ``cv`` says otherwise."""
    rng = np.random.default_rng(seed)
    scale, cv = scale or {}, cv or {}
    columns = {}
    for metric, median in typical.items():
        values = median * scale.get(metric, 1.0) * np.exp(rng.normal(0.0, cv.get(metric, 0.02), n))
        if memory or metric not in MEMORY:
            columns[metric] = [float(v) for v in values]
    return columns


def prompt_sha(name: str) -> str:
    """The prompt digest of a scenario: fixed for the built-in two, derived from the name otherwise."""
    return PROMPT_SHA.get(name) or hashlib.sha256(name.encode()).hexdigest()


def fingerprint(
    tier: str, *, changed_prompts: tuple[str, ...] = (), scenarios: tuple[str, ...] = SCENARIOS, **fields: object
) -> Fingerprint:
    data: dict[str, object] = {
        "tier": tier,
        "chip": "Apple M3 Pro",
        "memory_gb": 36.0,
        "os_major": "macOS 14",
        "runtime_kind": "ollama",
        "runtime_version": "0.5.1",
        "model": "qwen2.5:7b-instruct-q4_K_M",
        "model_digest": "845dbda0ea48",
        "quantization": "Q4_K_M",
        "scenarios": {
            name: ScenarioFingerprint(
                prompt_sha256=("f" * 64 if name in changed_prompts else prompt_sha(name)), options_sha256=OPTIONS_SHA
            )
            for name in scenarios
        },
    }
    data.update(fields)
    return Fingerprint.model_validate(data)


def make_result(
    *,
    seed: int,
    tier: str = "pro",
    n: int = 10,
    scale: dict[str, float] | None = None,
    cv: dict[str, float] | None = None,
    scenarios: tuple[str, ...] = SCENARIOS,
    columns: dict[str, list[float]] | None = None,
    failures: tuple[Failure, ...] = (),
    memory: bool = True,
    created_at: str = "2026-11-27T10:00:00Z",
    changed_prompts: tuple[str, ...] = (),
    simulated: bool | None = None,
    **fingerprint_fields: object,
) -> RunResult:
    """A results file of ``tier``: ``n`` samples per scenario drawn with ``seed`` (or the given columns).

    The fingerprint lists the built-in two scenarios, or ``scenarios`` when they name
    others; ``simulated`` defaults to what the built-in tier of that name says.
    """
    known = set(scenarios) <= set(SCENARIOS)
    fp = fingerprint(
        tier, changed_prompts=changed_prompts, scenarios=SCENARIOS if known else scenarios, **fingerprint_fields
    )
    if simulated is None:
        simulated = TIERS[tier].simulated if tier in TIERS else False
    scenario_results = tuple(
        ScenarioResult(
            name=name,
            prompt_sha256=fp.scenarios[name].prompt_sha256,
            prompt_chars=48,
            options=OPTIONS,
            warmups_discarded=1,
            samples=samples_from(
                columns or lognormal_columns(seed * 100 + i, n, scale=scale, cv=cv, memory=memory),
            ),
            summaries={},
            memory_unavailable_reason=None if memory else MEMORY_REASON,
        )
        for i, name in enumerate(scenarios)
    )
    return RunResult(
        perfgate_version="0.1.0",
        created_at=created_at,
        git_sha="abc1234",
        command="perfgate run",
        host=HostInfo(label=f"perf-{tier}-1", os="darwin", os_version="14.5", chip=fp.chip, memory_bytes=36 * 2**30),
        tier=tier,
        fingerprint=fp,
        runtime=RuntimeInfo(
            kind=fp.runtime_kind,
            base_url="http://127.0.0.1:11434",
            version=fp.runtime_version,
            model=fp.model,
            model_digest=fp.model_digest,
            simulated=simulated,
        ),
        simulated=simulated,
        warmup=1,
        runs=n,
        scenarios=scenario_results,
        failures=failures,
    )


def summarised(result: RunResult) -> RunResult:
    """``result`` with every scenario's summaries computed from its samples, as ``perfgate run`` writes them."""
    return result.model_copy(
        update={
            "scenarios": tuple(
                s.model_copy(update={"summaries": summarise_samples(s.samples)}) for s in result.scenarios
            )
        }
    )


def resampled(result: RunResult, columns: Mapping[str, Columns]) -> RunResult:
    """A real results file with each named scenario's samples replaced by ``columns[scenario]``.

    Only the metric values change: every other field of the first sample (tokens,
    done reason, memory the columns do not name, ...) is kept, so the file still
    reads as the run that wrote it, with numbers the test chose.
    """
    scenarios = []
    for scenario in result.scenarios:
        wanted = columns.get(scenario.name)
        if wanted is None:
            scenarios.append(scenario)
            continue
        template = scenario.samples[0]
        n = len(next(iter(wanted.values())))
        samples = tuple(
            template.model_copy(update={"iteration": i, **{m: values[i] for m, values in wanted.items()}})
            for i in range(n)
        )
        scenarios.append(scenario.model_copy(update={"samples": samples, "summaries": summarise_samples(samples)}))
    runs = max((len(s.samples) for s in scenarios), default=result.runs)
    return result.model_copy(update={"scenarios": tuple(scenarios), "runs": runs})


def baseline_of(result: RunResult, *, measured_at: str = "2026-11-20T10:00:00Z") -> Baseline:
    """The baseline ``perfgate baseline update`` would make of ``result``."""
    return Baseline(
        tier=result.tier,
        simulated=result.simulated,
        fingerprint=result.fingerprint,
        provenance=Provenance(
            created_at=measured_at,
            measured_at=measured_at,
            git_sha="0ld5ha",
            perfgate_version="0.1.0",
            host=result.host,
            runtime_version=result.runtime.version,
            model_digest=result.runtime.model_digest,
            command=result.command,
            runs=result.runs,
            source_files=("results-base.json",),
            runtime_pid=result.runtime.pid,
            runtime_started_at=result.runtime.started_at,
        ),
        samples=scenario_samples(result),
    )


def make_baseline(
    *,
    seed: int = 1,
    tier: str = "pro",
    n: int = 15,
    sessions: int = 3,
    measured_at: str = "2026-11-20T10:00:00Z",
    **kw: object,
) -> Baseline:
    """A baseline of ``n`` runs per scenario from ``sessions`` measuring sessions (3, as recommended).

    With ``sessions=1`` it is one results file's baseline, as ``baseline_of`` makes.
    """
    if sessions <= 1:
        return baseline_of(make_result(seed=seed, tier=tier, n=n, **kw), measured_at=measured_at)
    sizes = [n // sessions + (1 if k < n % sessions else 0) for k in range(sessions)]
    parts = [make_result(seed=seed * 1000 + k, tier=tier, n=size, **kw) for k, size in enumerate(sizes)]
    one = baseline_of(parts[0], measured_at=measured_at)
    samples: dict[str, dict[str, list[float]]] = {}
    counts: dict[str, dict[str, list[int]]] = {}
    for part in parts:
        for scenario, metrics in scenario_samples(part).items():
            for metric, values in metrics.items():
                samples.setdefault(scenario, {}).setdefault(metric, []).extend(values)
                counts.setdefault(scenario, {}).setdefault(metric, []).append(len(values))
    return one.model_copy(
        update={
            "provenance": one.provenance.model_copy(update={"runs": n, "sessions": sessions}),
            "samples": {s: {m: tuple(v) for m, v in ms.items()} for s, ms in samples.items()},
            "sessions": {s: {m: tuple(v) for m, v in ms.items()} for s, ms in counts.items()},
        }
    )


def write_baselines(directory: Path, *baselines: Baseline) -> Path:
    """A baselines directory holding each baseline at its tier's path; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for baseline in baselines:
        write_model(baseline_path(directory, baseline.tier), baseline)
    return directory
