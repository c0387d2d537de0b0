"""The benchmark loop: preflight, preload, warm-ups, measured iterations.

A failure stops the run but never loses what was measured before it: the
harness returns a ``RunResult`` whose ``failures`` say what went wrong, and
the caller writes it to disk before reporting the error.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from perfgate import __version__
from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.results import (
    Failure,
    Fingerprint,
    HostInfo,
    MemoryPeaks,
    RunResult,
    RuntimeInfo,
    Sample,
    ScenarioFingerprint,
    ScenarioOptions,
    ScenarioResult,
)
from perfgate.errors import CouldNotMeasure, MemoryUnavailable, TimingUnreliable, UsageError
from perfgate.measure.app import AppMeasurement
from perfgate.measure.host import os_major
from perfgate.measure.runtime_identity import process_started_at
from perfgate.measure.samples import build_sample, summarise_samples
from perfgate.runtimes.base import RuntimeClient
from perfgate.runtimes.clock import WaitClock

SIM_VERSION_SUFFIX = "perfgate-sim"


class PeakWindow(Protocol):
    """What the harness needs from a memory sampler."""

    def window(self) -> MemoryPeaks: ...

    def watch_app(self, pid: int | None) -> None:
        """App scenarios: sample this command's process tree with the runtime's (None: stop)."""
        ...


class AppMeasurer(Protocol):
    """Runs an app scenario's command once and judges it (``perfgate.measure.app.AppRunner``)."""

    def measure(
        self, command: Sequence[str], *, timeout_s: float, sampler: PeakWindow, iteration: int, cold_load_ms: float
    ) -> AppMeasurement: ...


@dataclass(frozen=True)
class Progress:
    """One progress event, for the terminal's progress line."""

    scenario: str
    phase: str  # "warmup" | "run" | "done"
    index: int
    total: int
    sample: Sample | None = None


ProgressCallback = Callable[[Progress], None]
SamplerFactory = Callable[[int | None], PeakWindow]
"""Given the runtime PID (None if not found), return a started sampler."""


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scenario_options(scenario: ScenarioConfig, keep_alive: str, *, sends_num_ctx: bool = True) -> ScenarioOptions:
    """The options a scenario's requests carry; ``num_ctx`` only where the client can send it."""
    return ScenarioOptions(
        num_predict=scenario.num_predict,
        num_ctx=scenario.num_ctx if sends_num_ctx else None,
        temperature=scenario.temperature,
        seed=scenario.seed,
        keep_alive=keep_alive,
        cold_prompt=scenario.cold_prompt,
    )


def options_hash(options: ScenarioOptions) -> str:
    # A field left at its old meaning stays out of the hash, so baselines made before it existed still match.
    data = options.model_dump(mode="json", exclude={"cold_prompt"} if not options.cold_prompt else set())
    return sha256_text(json.dumps(data, sort_keys=True))


def request_prompt(prompt: str, options: ScenarioOptions) -> str:
    """The prompt as sent: with a fresh nonce at its start when the scenario measures it cold.

    At the start, because runtimes reuse the longest cached *prefix* (llama.cpp's
    slot cache, Ollama's runner): a nonce anywhere later would leave all before it cached.
    """
    return f"[{secrets.token_hex(6)}] {prompt}" if options.cold_prompt else prompt


def build_fingerprint(
    *,
    tier: str,
    host: HostInfo,
    runtime: RuntimeInfo,
    scenarios: dict[str, ScenarioConfig],
    keep_alive: str,
    commands: Mapping[str, str] | None = None,
    sends_num_ctx: bool = True,
) -> Fingerprint:
    """The run's fingerprint; ``commands`` maps an app scenario to its benchmark command (shell-quoted)."""
    commands = commands or {}
    return Fingerprint(
        tier=tier,
        chip=host.chip,
        memory_gb=host.memory_gb,
        os_major=os_major(host),
        runtime_kind=runtime.kind,
        runtime_version=runtime.version,
        model=runtime.model,
        model_digest=runtime.model_digest,
        quantization=runtime.quantization,
        scenarios={
            name: ScenarioFingerprint(
                prompt_sha256=sha256_text(sc.prompt or ""),
                options_sha256=options_hash(scenario_options(sc, keep_alive, sends_num_ctx=sends_num_ctx)),
                command=commands.get(name),
            )
            for name, sc in scenarios.items()
        },
    )


def _failure(exc: CouldNotMeasure, scenario: str | None = None, iteration: int | None = None) -> Failure:
    return Failure(kind=exc.kind, message=exc.message, scenario=scenario, iteration=iteration)


def app_commands(scenarios: Mapping[str, ScenarioConfig]) -> dict[str, str]:
    """Each app scenario's command, shell-quoted as written (before ``{proxy_url}`` is filled in)."""
    return {name: shlex.join(sc.command) for name, sc in scenarios.items() if sc.command is not None}


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
) -> RunResult:
    """Run the named scenarios (default: all); return results with failures recorded.

    An app scenario (``command`` set) runs its command through ``app`` instead
    of sending perfgate's own request.
    """
    scenarios = selected_scenarios(config, scenario_names)
    commands = app_commands(scenarios)
    if commands and app is None:
        raise UsageError(f"scenario {next(iter(commands))!r} runs an app command but no measuring proxy was started")
    keep_alive = config.runtime.keep_alive
    failures: list[Failure] = []
    runs: list[_ScenarioRun] = []
    runtime = RuntimeInfo(kind=client.kind, base_url=client.base_url, model=client.model, simulated=simulated)
    memory_reason: str | None = None
    notify = progress or (lambda _event: None)

    try:
        runtime = client.preflight()
        # A separately started `perfgate sim` announces itself in its version string.
        simulated = simulated or (runtime.version or "").endswith(SIM_VERSION_SUFFIX)
        runtime = runtime.model_copy(update={"simulated": simulated})
    except CouldNotMeasure as exc:
        failures.append(_failure(exc))

    if not failures:
        try:
            runtime_pid: int | None = locate_runtime_pid()
        except MemoryUnavailable as exc:
            runtime_pid = None
            memory_reason = exc.message
            failures.append(_failure(exc))
        if runtime_pid is not None:
            runtime = runtime.model_copy(update={"pid": runtime_pid, "started_at": process_started(runtime_pid)})
        sampler = sampler_factory(runtime_pid)
        for name, scenario in scenarios.items():
            options = scenario_options(scenario, keep_alive, sends_num_ctx=client.sends_num_ctx)
            current = _ScenarioRun(name, scenario, options, [])
            runs.append(current)
            failure = _run_scenario(client, sampler, current, config, notify, app=app)
            if failure is not None:
                failures.append(failure)
                break
        try:
            reported = client.runtime_reported()
        except CouldNotMeasure:
            reported = {}  # an estimate we could not fetch is simply not shown
        runtime = runtime.model_copy(update={"runtime_reported": reported})

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
) -> Failure | None:
    """Preload, discard warm-ups, measure ``count`` more runs; the first failure ends the scenario."""
    count = config.runs if count is None else count
    # The clients' clock notes the thread's CPU waits where it can (see runtimes.clock).
    clock = getattr(client, "clock", None)
    clock = clock if isinstance(clock, WaitClock) else None
    if current.config.command is not None:
        if app is None:
            raise UsageError(f"scenario {current.name!r} runs an app command but no measuring proxy was started")
        return _run_app_scenario(app, sampler, current, config, notify, count=count)
    prompt = current.config.prompt or ""  # set whenever command is not (ScenarioConfig checks it)
    try:
        client.preload(current.options)
        for index in range(config.warmup):
            notify(Progress(current.name, "warmup", index + 1, config.warmup))
            client.stream(request_prompt(prompt, current.options), current.options)
            current.warmups += 1
    except CouldNotMeasure as exc:
        return _failure(exc, current.name)
    start = len(current.samples)
    for index in range(start, start + count):
        notify(Progress(current.name, "run", index + 1, start + count))
        sampler.window()  # start this request's memory window fresh
        if clock is not None:
            clock.reset()
        try:
            obs = client.stream(request_prompt(prompt, current.options), current.options)
        except CouldNotMeasure as exc:
            return _failure(exc, current.name, index)
        sample = build_sample(
            obs,
            iteration=index,
            memory=sampler.window(),
            cold_load_ms=config.cold_load_ms,
            cpu_waits=None if clock is None else clock.waits(obs),
        )
        current.samples.append(sample)
        notify(Progress(current.name, "run", index + 1, start + count, sample))
    notify(Progress(current.name, "done", start + count, start + count))
    return _starved(current)


def _starved(current: _ScenarioRun) -> Failure | None:
    """A scenario most of whose samples were timed while perfgate was starved reports fiction: it fails."""
    suspect = [s for s in current.samples if s.suspect_reason is not None]
    if len(suspect) * 2 <= len(current.samples):
        return None
    exc = TimingUnreliable(
        f"timing unreliable: {len(suspect)} of {len(current.samples)} samples of {current.name} were timed while "
        f"perfgate could not keep up ({suspect[0].suspect_reason}); the runner is too busy to time the runtime"
    )
    return _failure(exc, current.name)


def _run_app_scenario(
    app: AppMeasurer,
    sampler: PeakWindow,
    current: _ScenarioRun,
    config: PerfgateConfig,
    notify: ProgressCallback,
    *,
    count: int,
) -> Failure | None:
    """Each warm-up and measured run is one execution of the app's command; the first failure ends the scenario.

    No preload: the app loads the model its own way, and its warm-ups are where that happens.
    """
    command = current.config.command or ()
    timeout_s = current.config.timeout_s
    try:
        for index in range(config.warmup):
            notify(Progress(current.name, "warmup", index + 1, config.warmup))
            app.measure(command, timeout_s=timeout_s, sampler=sampler, iteration=-1, cold_load_ms=config.cold_load_ms)
            current.warmups += 1
    except CouldNotMeasure as exc:
        return _failure(exc, current.name)
    start = len(current.samples)
    for index in range(start, start + count):
        notify(Progress(current.name, "run", index + 1, start + count))
        try:
            measured = app.measure(
                command, timeout_s=timeout_s, sampler=sampler, iteration=index, cold_load_ms=config.cold_load_ms
            )
        except CouldNotMeasure as exc:
            return _failure(exc, current.name, index)
        current.samples.append(measured.sample)
        if current.app_sent is None:
            current.app_sent = measured
        notify(Progress(current.name, "run", index + 1, start + count, measured.sample))
    notify(Progress(current.name, "done", start + count, start + count))
    return _starved(current)


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
) -> RunResult:
    """Measure ``runs`` more requests of the named scenarios (after a fresh warm-up) and append them.

    Used by sequential runs: the same client and runtime, the same options, so
    the new samples come from the same conditions as the first ones.
    """
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
        failure = _run_scenario(client, sampler, current, config, notify, count=runs, app=app)
        updated.append(current.result(old.memory_unavailable_reason))
        if failure is not None:
            failures.append(failure)
            stopped = True
    return result.model_copy(update={"scenarios": tuple(updated), "failures": tuple(failures)})
