"""The benchmark: preflight, the runtime's process, then the measuring loop (``measure.rounds``), then the results.

A failure stops the run but never loses what was measured before it: the
harness returns a ``RunResult`` whose ``failures`` say what went wrong, and
the caller writes it to disk before reporting the error. So does an interrupt
(SIGINT, SIGTERM: ``perfgate.interrupts``), recorded as ``interrupted``, and a
request or run that outlives its deadline (``runtimes.deadline``), recorded as
``timeout``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from perfgate import __version__, interrupts
from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.results import Failure, Fingerprint, HostInfo, RunResult, RuntimeInfo
from perfgate.errors import CouldNotMeasure, Kind, MemoryUnavailable, UsageError
from perfgate.measure.host import thermal_now
from perfgate.measure.identity import app_commands, build_fingerprint, scenario_options
from perfgate.measure.requests import AppMeasurer, PeakWindow
from perfgate.measure.rounds import (
    MeasuringPass,
    Progress,
    ProgressCallback,
    ScenarioRun,
    failure_of,
    interrupted,
    measure_scenarios,
)
from perfgate.measure.runtime_identity import process_started_at, read_runtime_settings
from perfgate.runtimes.base import ColdStartable, RuntimeClient
from perfgate.runtimes.deadline import RunLimits

__all__ = ["Progress", "ProgressCallback", "extend_benchmark", "run_benchmark", "selected_scenarios"]

SIM_VERSION_SUFFIX = "perfgate-sim"


SamplerFactory = Callable[[int | None], PeakWindow]
"""Given the runtime PID (None if not found), return a started sampler."""


def selected_scenarios(config: PerfgateConfig, names: Sequence[str] = ()) -> dict[str, ScenarioConfig]:
    """The named scenarios (``--scenario``, validated by the caller), or every configured one."""
    return {name: config.scenarios[name] for name in (names or tuple(config.scenarios))}


def _check_cold_starts(client: RuntimeClient, scenarios: Mapping[str, ScenarioConfig]) -> None:
    """A cold-start scenario needs a runtime perfgate can unload the model of."""
    cold = [name for name, scenario in scenarios.items() if scenario.kind == "cold"]
    if cold and not isinstance(client, ColdStartable):
        raise UsageError(
            f"scenario {cold[0]!r} is a cold start (kind = 'cold'), but perfgate cannot unload the model of a "
            f"{client.kind} runtime; cold starts run on ollama, sim and llamacpp"
        )


def run_benchmark(
    *,
    client: RuntimeClient,
    config: PerfgateConfig,
    tier: str,
    host: HostInfo,
    command: str,
    created_at: str,
    git_sha: str | None,
    simulated: bool,
    locate_runtime_pid: Callable[[], int],
    sampler_factory: SamplerFactory,
    progress: ProgressCallback | None = None,
    scenario_names: Sequence[str] = (),
    app: AppMeasurer | None = None,
    process_started: Callable[[int], str | None] = process_started_at,
    limits: RunLimits | None = None,
    runtime_settings: Callable[[str, int | None], dict[str, str] | None] = read_runtime_settings,
    thermal: Callable[[], str | None] = thermal_now,
) -> RunResult:
    """Run the named scenarios (default: all); return results with failures recorded.

    An app scenario (``command`` set) runs its command through ``app`` instead
    of sending perfgate's own request. ``limits`` (default: from the config,
    starting now) bounds each request and the whole run.
    """
    scenarios = selected_scenarios(config, scenario_names)
    commands = app_commands(scenarios)
    if commands and app is None:
        raise UsageError(f"scenario {next(iter(commands))!r} runs an app command but no measuring proxy was started")
    _check_cold_starts(client, scenarios)
    limits = limits or RunLimits.from_config(config)
    keep_alive = config.runtime.keep_alive
    failures: list[Failure] = []
    runs: list[ScenarioRun] = []
    started: Mapping[str, object] = {}  # the scenarios whose measuring began, which the results hold
    runtime = RuntimeInfo(kind=client.kind, base_url=client.base_url, model=client.model, simulated=simulated)
    memory_reason: str | None = None
    notify = progress or (lambda _event: None)
    stage = "the runtime's preflight check"

    try:
        try:
            runtime = client.preflight()
            # A separately started `perfgate sim` announces itself in its version string.
            simulated = simulated or (runtime.version or "").endswith(SIM_VERSION_SUFFIX)
            runtime = runtime.model_copy(update={"simulated": simulated})
        except CouldNotMeasure as exc:
            failures.append(failure_of(exc))

        if not failures:
            stage = "the search for the runtime's process"
            try:
                runtime_pid: int | None = locate_runtime_pid()
            except MemoryUnavailable as exc:
                runtime_pid = None
                memory_reason = exc.message
                failures.append(failure_of(exc))
            if runtime_pid is not None:
                runtime = runtime.model_copy(update={"pid": runtime_pid, "started_at": process_started(runtime_pid)})
            runtime = runtime.model_copy(update={"settings": runtime_settings(runtime.kind, runtime_pid)})
            stage = "the start of memory sampling"
            ctx = MeasuringPass(client, sampler_factory(runtime_pid), config, notify, app, limits, thermal=thermal)
            runs = [
                ScenarioRun(name, scenario, scenario_options(scenario, keep_alive, sends_num_ctx=client.sends_num_ctx))
                for name, scenario in scenarios.items()
            ]
            started = ctx.steps  # filled as they start: an interrupt between two requests keeps them too
            stage = "the measured runs"
            failures += measure_scenarios(runs, ctx, config.runs)
            if not any(f.kind is Kind.INTERRUPTED for f in failures):
                stage = "the runtime's size report"
                try:
                    reported = client.runtime_reported()
                except CouldNotMeasure:
                    reported = {}  # an estimate we could not fetch is simply not shown
                runtime = runtime.model_copy(update={"runtime_reported": reported})
    except KeyboardInterrupt as exc:
        failures.append(interrupted(exc, stage))
    # Measuring is over: a signal from here on waits (perfgate.interrupts) until the caller has written this.
    interrupts.hold()

    return RunResult(
        perfgate_version=__version__,
        created_at=created_at,
        git_sha=git_sha,
        command=command,
        host=host,
        tier=tier,
        fingerprint=_with_app_hashes(
            build_fingerprint(
                tier=tier,
                host=host,
                runtime=runtime,
                scenarios=scenarios,
                keep_alive=keep_alive,
                commands=commands,
                sends_num_ctx=client.sends_num_ctx,
            ),
            runs,
        ),
        runtime=runtime,
        simulated=simulated,
        warmup=config.warmup,
        runs=config.runs,
        order=config.order,
        scenarios=tuple(run.result(memory_reason) for run in runs if run.name in started),
        failures=tuple(failures),
    )


def _with_app_hashes(fingerprint: Fingerprint, runs: Sequence[ScenarioRun]) -> Fingerprint:
    """An app scenario's prompt and options are what the app sent (hashed by the proxy), not perfgate's."""
    scenarios = dict(fingerprint.scenarios)
    for run in runs:
        entry = scenarios.get(run.name)
        if run.app_sent is None or entry is None:
            continue
        scenarios[run.name] = entry.model_copy(
            update={
                "prompt_sha256": run.app_sent.prompt_sha256 or entry.prompt_sha256,
                "options_sha256": run.app_sent.options_sha256 or entry.options_sha256,
                "app_model": run.app_sent.model,
            }
        )
    return fingerprint.model_copy(update={"scenarios": scenarios})


def extend_benchmark(
    result: RunResult,
    *,
    client: RuntimeClient,
    config: PerfgateConfig,
    scenarios: set[str],
    runs: int,
    sampler: PeakWindow,
    progress: ProgressCallback | None = None,
    app: AppMeasurer | None = None,
    limits: RunLimits | None = None,
    thermal: Callable[[], str | None] = thermal_now,
) -> RunResult:
    """Measure ``runs`` more requests of the named scenarios (after a fresh warm-up) and append them.

    Used by sequential runs: the same client and runtime, the same options, so
    the new samples come from the same conditions as the first ones, under the
    same deadlines (``limits``: the run's, so its deadline counts from its start).
    """
    ctx = MeasuringPass(
        client,
        sampler,
        config,
        progress or (lambda _event: None),
        app,
        limits or RunLimits.from_config(config),
        thermal=thermal,
    )
    ctx.sequence = _next_sequence(result)
    rerun = {
        old.name: ScenarioRun(
            old.name,
            config.scenarios[old.name],
            old.options,
            list(old.samples),
            old.warmups_discarded,
            app_prompt_sha256=old.prompt_sha256,
            thermal_states=list(old.thermal_states),
        )
        for old in result.scenarios
        if old.name in scenarios
    }
    failures = [*result.failures, *measure_scenarios(list(rerun.values()), ctx, runs)]
    updated = tuple(
        rerun[old.name].result(old.memory_unavailable_reason) if old.name in ctx.steps else old
        for old in result.scenarios
    )
    interrupts.hold()  # as at the end of run_benchmark: the caller resumes them before measuring more
    return result.model_copy(update={"scenarios": updated, "failures": tuple(failures)})


def _next_sequence(result: RunResult) -> int:
    """Where the runs added to ``result`` start counting (after its last; files without a count: after all)."""
    samples = [sample for scenario in result.scenarios for sample in scenario.samples]
    counted = [sample.sequence for sample in samples if sample.sequence is not None]
    return max(counted) + 1 if counted else len(samples)
