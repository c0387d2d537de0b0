"""The benchmark loop: preflight, preload, warm-ups, measured iterations.

A failure stops the run but never loses what was measured before it: the
harness returns a ``RunResult`` whose ``failures`` say what went wrong, and
the caller writes it to disk before reporting the error. So does an interrupt
(SIGINT, SIGTERM: ``perfgate.interrupts``), recorded as ``interrupted``, and a
request or run that outlives its deadline (``runtimes.deadline``), recorded as
``timeout``.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from perfgate import __version__, interrupts
from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.results import (
    Failure,
    Fingerprint,
    HostInfo,
    RunResult,
    RuntimeInfo,
    Sample,
    ScenarioOptions,
    ScenarioResult,
)
from perfgate.errors import CouldNotMeasure, Kind, MemoryUnavailable, TimingUnreliable, UsageError
from perfgate.measure.identity import app_commands, build_fingerprint, scenario_options, sha256_text
from perfgate.measure.requests import AppMeasurement, AppMeasurer, AppRuns, OwnRequests, PeakWindow
from perfgate.measure.runtime_identity import process_started_at
from perfgate.measure.samples import summarise_samples
from perfgate.runtimes.base import RuntimeClient
from perfgate.runtimes.deadline import RequestWatch, RunLimits

SIM_VERSION_SUFFIX = "perfgate-sim"


@dataclass(frozen=True)
class Progress:
    """One progress event, for the terminal's progress line."""

    scenario: str
    phase: str  # "warmup" | "run" | "done"
    index: int
    total: int
    sample: Sample | None = None
    request: RequestWatch | None = None  # the request about to go out (warmup/run without a sample)


ProgressCallback = Callable[[Progress], None]
SamplerFactory = Callable[[int | None], PeakWindow]
"""Given the runtime PID (None if not found), return a started sampler."""


def _failure(exc: CouldNotMeasure, scenario: str | None = None, iteration: int | None = None) -> Failure:
    return Failure(kind=exc.kind, message=exc.message, scenario=scenario, iteration=iteration)


def _interrupted(
    exc: KeyboardInterrupt, during: str, scenario: str | None = None, iteration: int | None = None
) -> Failure:
    """An interrupt is recorded as what it is, never as the runtime's fault (and never filed for triage)."""
    name = signal.Signals(interrupts.signal_of(exc)).name
    return Failure(
        kind=Kind.INTERRUPTED,
        message=f"interrupted by {name} during {during}; what was measured before it is kept",
        scenario=scenario,
        iteration=iteration,
    )


@dataclass
class _ScenarioRun:
    name: str
    config: ScenarioConfig
    options: ScenarioOptions
    samples: list[Sample]
    warmups: int = 0
    # App scenarios: what the app's first LLM request of the first measured run sent (the proxy's hashes).
    app_sent: AppMeasurement | None = None
    app_prompt_sha256: str | None = None  # kept from an earlier result when runs are added to it

    def prompt_sha256(self) -> str:
        if self.config.command is None:
            return sha256_text(self.config.prompt or "")
        sent = self.app_sent.prompt_sha256 if self.app_sent is not None else None
        return sent or self.app_prompt_sha256 or sha256_text("")

    def result(self, memory_reason: str | None) -> ScenarioResult:
        is_app = self.config.command is not None
        return ScenarioResult(
            name=self.name,
            prompt_sha256=self.prompt_sha256(),
            prompt_chars=None if is_app or self.config.prompt is None else len(self.config.prompt),
            command=shlex.join(self.config.command) if self.config.command is not None else None,
            options=self.options,
            warmups_discarded=self.warmups,
            samples=tuple(self.samples),
            summaries=summarise_samples(self.samples),
            memory_unavailable_reason=memory_reason,
        )


def selected_scenarios(config: PerfgateConfig, names: Sequence[str] = ()) -> dict[str, ScenarioConfig]:
    """The named scenarios (``--scenario``, validated by the caller), or every configured one."""
    return {name: config.scenarios[name] for name in (names or tuple(config.scenarios))}


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
    limits = limits or RunLimits.from_config(config)
    keep_alive = config.runtime.keep_alive
    failures: list[Failure] = []
    runs: list[_ScenarioRun] = []
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
            failures.append(_failure(exc))

        if not failures:
            stage = "the search for the runtime's process"
            try:
                runtime_pid: int | None = locate_runtime_pid()
            except MemoryUnavailable as exc:
                runtime_pid = None
                memory_reason = exc.message
                failures.append(_failure(exc))
            if runtime_pid is not None:
                runtime = runtime.model_copy(update={"pid": runtime_pid, "started_at": process_started(runtime_pid)})
            stage = "the start of memory sampling"
            sampler = sampler_factory(runtime_pid)
            for name, scenario in scenarios.items():
                options = scenario_options(scenario, keep_alive, sends_num_ctx=client.sends_num_ctx)
                current = _ScenarioRun(name, scenario, options, [])
                runs.append(current)
                failure = _run_scenario(client, sampler, current, config, notify, app=app, limits=limits)
                if failure is not None:
                    failures.append(failure)
                    break
            if not any(f.kind is Kind.INTERRUPTED for f in failures):
                stage = "the runtime's size report"
                try:
                    reported = client.runtime_reported()
                except CouldNotMeasure:
                    reported = {}  # an estimate we could not fetch is simply not shown
                runtime = runtime.model_copy(update={"runtime_reported": reported})
    except KeyboardInterrupt as exc:
        failures.append(_interrupted(exc, stage))
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
        scenarios=tuple(run.result(memory_reason) for run in runs),
        failures=tuple(failures),
    )


def _with_app_hashes(fingerprint: Fingerprint, runs: Sequence[_ScenarioRun]) -> Fingerprint:
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


def _run_scenario(
    client: RuntimeClient,
    sampler: PeakWindow,
    current: _ScenarioRun,
    config: PerfgateConfig,
    notify: ProgressCallback,
    *,
    count: int | None = None,
    app: AppMeasurer | None = None,
    limits: RunLimits,
) -> Failure | None:
    """Prepare, discard warm-ups, measure ``count`` more runs; the first failure (or interrupt) ends the scenario."""
    count = config.runs if count is None else count
    steps: OwnRequests | AppRuns
    if current.config.command is None:
        steps = OwnRequests(client, sampler, current, config)
    elif app is None:
        raise UsageError(f"scenario {current.name!r} runs an app command but no measuring proxy was started")
    else:
        steps = AppRuns(app, sampler, current, config)
    during = f"the preload of {current.name}"
    try:
        steps.prepare(limits)
        for index in range(config.warmup):
            during = f"warm-up {index + 1}/{config.warmup} of {current.name}"
            watch = limits.watch(during, request=steps.request_deadline)
            notify(Progress(current.name, "warmup", index + 1, config.warmup, request=watch))
            steps.warmup(watch)
            current.warmups += 1
    except CouldNotMeasure as exc:
        return _failure(exc, current.name)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, during, current.name)
    start = len(current.samples)
    planned = start + count
    index = start
    # A suspect sample (perfgate starved of CPU) is left out of the statistics; while most
    # are, one more run is measured in place of each, up to ``count`` more: a passing burst
    # of load costs time, not the run. Only load that outlasts them fails it.
    while index < planned or (_too_many_suspect(current) and index < planned + count):
        total = max(planned, index + 1)
        during = f"run {index + 1}/{total} of {current.name}"
        try:
            try:
                watch = limits.watch(during, request=steps.request_deadline)
                notify(Progress(current.name, "run", index + 1, total, request=watch))
                sample = steps.measure(index, watch)
            except CouldNotMeasure as exc:
                return _failure(exc, current.name, index)
            current.samples.append(sample)
            notify(Progress(current.name, "run", index + 1, total, sample))
        except KeyboardInterrupt as exc:
            return _interrupted(exc, during, current.name, index)
        index += 1
    notify(Progress(current.name, "done", index, index))
    return _starved(current)


def _too_many_suspect(current: _ScenarioRun) -> bool:
    suspect = sum(1 for s in current.samples if s.suspect_reason is not None)
    return suspect * 2 > len(current.samples)


def _starved(current: _ScenarioRun) -> Failure | None:
    """A scenario none of whose samples perfgate could time has nothing true to say on its clock: it fails.

    With some trusted samples left, those alone are reported (the suspect ones are out of every
    statistic), so nothing false is said; fewer samples only make the verdicts less certain.
    """
    suspect = [s for s in current.samples if s.suspect_reason is not None]
    if not suspect or len(suspect) < len(current.samples):
        return None
    exc = TimingUnreliable(
        f"timing unreliable: {len(suspect)} of {len(current.samples)} samples of {current.name} were timed while "
        f"perfgate could not keep up ({suspect[0].suspect_reason}); the runner is too busy to time the runtime"
    )
    return _failure(exc, current.name)


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
) -> RunResult:
    """Measure ``runs`` more requests of the named scenarios (after a fresh warm-up) and append them.

    Used by sequential runs: the same client and runtime, the same options, so
    the new samples come from the same conditions as the first ones, under the
    same deadlines (``limits``: the run's, so its deadline counts from its start).
    """
    limits = limits or RunLimits.from_config(config)
    notify = progress or (lambda _event: None)
    failures = list(result.failures)
    updated: list[ScenarioResult] = []
    stopped = False
    for old in result.scenarios:
        if old.name not in scenarios or stopped:
            updated.append(old)
            continue
        current = _ScenarioRun(
            old.name,
            config.scenarios[old.name],
            old.options,
            list(old.samples),
            old.warmups_discarded,
            app_prompt_sha256=old.prompt_sha256,
        )
        failure = _run_scenario(client, sampler, current, config, notify, count=runs, app=app, limits=limits)
        updated.append(current.result(old.memory_unavailable_reason))
        if failure is not None:
            failures.append(failure)
            stopped = True
    interrupts.hold()  # as at the end of run_benchmark: the caller resumes them before measuring more
    return result.model_copy(update={"scenarios": tuple(updated), "failures": tuple(failures)})
