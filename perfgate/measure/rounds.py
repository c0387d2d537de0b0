"""The measuring loop: each scenario's preload and warm-ups, then its measured runs, round by round.

With ``order = "interleaved"`` (the default) the runs go in rounds -- run 1 of
every scenario, then run 2, ... -- so a slow drift of the machine (heat, caches,
background load) reaches every scenario alike instead of the last ones most.
With ``"blocked"`` every run of one scenario comes before the next scenario's.
The first failure (or interrupt, or deadline) ends the loop; every sample
measured before it is kept.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from perfgate import interrupts
from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.results import Failure, Sample, ScenarioOptions, ScenarioResult
from perfgate.errors import CouldNotMeasure, Kind, TimingUnreliable, UsageError
from perfgate.measure.identity import sha256_text
from perfgate.measure.requests import AppMeasurement, AppMeasurer, AppRuns, ColdStarts, OwnRequests, PeakWindow
from perfgate.measure.samples import summarise_samples
from perfgate.runtimes.base import RuntimeClient
from perfgate.runtimes.deadline import RequestWatch, RunLimits


@dataclass(frozen=True)
class Progress:
    """One progress event, for the terminal's progress line."""

    scenario: str
    phase: str  # "warmup" | "rewarm" (the warm-up right before run `index`) | "run" | "done"
    index: int
    total: int
    sample: Sample | None = None
    request: RequestWatch | None = None  # the request about to go out (warmup/rewarm/run without a sample)
    round_index: int | None = None  # interleaved runs of several scenarios: which round, of how many
    rounds: int | None = None


ProgressCallback = Callable[[Progress], None]


def failure_of(exc: CouldNotMeasure, scenario: str | None = None, iteration: int | None = None) -> Failure:
    return Failure(kind=exc.kind, message=exc.message, scenario=scenario, iteration=iteration)


def interrupted(
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
class ScenarioRun:
    name: str
    config: ScenarioConfig
    options: ScenarioOptions
    samples: list[Sample] = field(default_factory=list)
    warmups: int = 0
    # App scenarios: what the app's first LLM request of the first measured run sent (the proxy's hashes).
    app_sent: AppMeasurement | None = None
    app_prompt_sha256: str | None = None  # kept from an earlier result when runs are added to it
    thermal_states: list[str] = field(default_factory=list)  # distinct, in the order first seen

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
            thermal_states=tuple(self.thermal_states),
        )


@dataclass
class MeasuringPass:
    """One measuring pass (``run_benchmark``'s, or the runs ``extend_benchmark`` adds): its context and state."""

    client: RuntimeClient
    sampler: PeakWindow
    config: PerfgateConfig
    notify: ProgressCallback
    app: AppMeasurer | None
    limits: RunLimits
    sequence: int = 0  # the next measured sample's place in the run (Sample.sequence)
    previous: ScenarioRun | None = None  # whose request went out last
    steps: dict[str, OwnRequests | AppRuns] = field(default_factory=dict)  # the scenarios started, by name
    thermal: Callable[[], str | None] = lambda: None  # the host's thermal state now, read before each run


def _groups(runs: Sequence[ScenarioRun], order: str) -> list[list[ScenarioRun]]:
    """The scenarios measured together, round by round: all of them, except those that differ in num_ctx.

    Ollama reloads the model when a request's num_ctx differs from the loaded one's, so
    interleaving such scenarios would reload it between every two requests: each num_ctx is
    a group, the groups measured one after another. An app's num_ctx is its own, unknown
    here: its scenarios join the first group, and ``_rewarm`` absorbs a reload they cause.
    Blocked order: every scenario is a group of its own.
    """
    if order == "blocked":
        return [[run] for run in runs]
    own = [run.options.num_ctx for run in runs if run.config.command is None]
    app_key = own[0] if own else None
    groups: dict[int | None, list[ScenarioRun]] = {}
    for run in runs:
        groups.setdefault(run.options.num_ctx if run.config.command is None else app_key, []).append(run)
    return list(groups.values())


def _rewarm(run: ScenarioRun, previous: ScenarioRun | None, warmup: int) -> bool:
    """Whether a measured run needs a discarded request of its own scenario right before it.

    Blocked, a run follows its own scenario's request; interleaved, another's. A warm prompt
    (``cold_prompt`` false) is meant to be measured as the cache hit an app that repeats its
    prompt gets, so the runtime must have just seen it, however many cache slots it keeps.
    An app's prompt may be warm too and its options are its own (a reload), so an app's run,
    and any run after one, is warmed again. ``warmup = 0`` asks for no discarded request.
    """
    if warmup == 0 or previous is None or previous is run or run.config.kind == "cold":
        return False  # (a cold start's every run begins from an unloaded model: nothing to warm)
    # After a cold start the model was just loaded (llama.cpp: its server just started): warmed again too.
    reloaded = previous.config.command is not None or previous.config.kind == "cold"
    return run.config.command is not None or reloaded or not run.options.cold_prompt


def measure_scenarios(runs: Sequence[ScenarioRun], ctx: MeasuringPass, count: int) -> list[Failure]:
    """Measure ``count`` more runs of each scenario, group by group; the first failure stops it all."""
    for group in _groups(runs, ctx.config.order):
        for run in group:
            failure = _prepare(run, ctx)
            if failure is not None:
                return [failure]
        failures = _rounds(group, ctx, count)
        if failures:
            return failures
    return []


def _steps(run: ScenarioRun, ctx: MeasuringPass) -> OwnRequests | AppRuns:
    if run.config.kind == "cold":
        return ColdStarts(ctx.client, ctx.sampler, run, ctx.config)
    if run.config.command is None:
        return OwnRequests(ctx.client, ctx.sampler, run, ctx.config)
    if ctx.app is None:
        raise UsageError(f"scenario {run.name!r} runs an app command but no measuring proxy was started")
    return AppRuns(ctx.app, ctx.sampler, run, ctx.config)


def _prepare(run: ScenarioRun, ctx: MeasuringPass) -> Failure | None:
    """Preload and discard the warm-ups of one scenario."""
    steps = ctx.steps[run.name] = _steps(run, ctx)
    warmup = ctx.config.warmup
    during = f"the preload of {run.name}"
    try:
        steps.prepare(ctx.limits)
        for index in range(warmup):
            during = f"warm-up {index + 1}/{warmup} of {run.name}"
            watch = ctx.limits.watch(during, request=steps.request_deadline)
            ctx.notify(Progress(run.name, "warmup", index + 1, warmup, request=watch))
            ctx.previous = run
            steps.warmup(watch)
            run.warmups += 1
    except CouldNotMeasure as exc:
        return failure_of(exc, run.name)
    except KeyboardInterrupt as exc:
        return interrupted(exc, during, run.name)
    return None


def _rounds(group: Sequence[ScenarioRun], ctx: MeasuringPass, count: int) -> list[Failure]:
    """``count`` rounds of one run of every scenario of the group, then the re-measures of suspect samples.

    A suspect sample (perfgate starved of CPU) is left out of the statistics; while most of a
    scenario's are, one more run of it is measured in place of each, up to ``count`` more, in
    extra rounds of the scenarios still in that state: a passing burst of load costs time,
    not the run. Only load that outlasts them fails it (``_starved``).
    """
    planned = {run.name: len(run.samples) + count for run in group}
    number = 0
    while True:
        number += 1
        members = [
            run
            for run in group
            if number <= count or (_too_many_suspect(run) and len(run.samples) < planned[run.name] + count)
        ]
        if not members:
            break
        shown = (number, max(count, number)) if len(group) > 1 else None
        for run in members:
            failure = _measure_run(run, ctx, max(planned[run.name], len(run.samples) + 1), shown)
            if failure is not None:
                return [failure]
    for run in group:
        ctx.notify(Progress(run.name, "done", len(run.samples), len(run.samples)))
    return [failure for failure in map(_starved, group) if failure is not None]


def _measure_run(run: ScenarioRun, ctx: MeasuringPass, total: int, shown: tuple[int, int] | None) -> Failure | None:
    """One measured run of a scenario (after a warm-up of its own when ``_rewarm`` says so)."""
    steps = ctx.steps[run.name]
    index = len(run.samples)
    round_index, rounds = shown if shown is not None else (None, None)

    def event(phase: str, watch: RequestWatch | None = None, sample: Sample | None = None) -> Progress:
        return Progress(run.name, phase, index + 1, total, sample, watch, round_index, rounds)

    during, iteration = f"the warm-up before run {index + 1}/{total} of {run.name}", None
    # Per run, not once a run: a machine heats up over a long run, and each scenario says what it ran in.
    state = ctx.thermal()
    if state is not None and state not in run.thermal_states:
        run.thermal_states.append(state)
    try:
        try:
            if _rewarm(run, ctx.previous, ctx.config.warmup):
                watch = ctx.limits.watch(during, request=steps.request_deadline)
                ctx.notify(event("rewarm", watch))
                ctx.previous = run
                steps.warmup(watch)
                run.warmups += 1
            during, iteration = f"run {index + 1}/{total} of {run.name}", index
            watch = ctx.limits.watch(during, request=steps.request_deadline)
            ctx.notify(event("run", watch))
            ctx.previous = run
            sample = steps.measure(index, watch)
        except CouldNotMeasure as exc:
            return failure_of(exc, run.name, iteration)
        run.samples.append(sample.model_copy(update={"sequence": ctx.sequence}))
        ctx.sequence += 1
        ctx.notify(event("run", sample=run.samples[-1]))
    except KeyboardInterrupt as exc:
        return interrupted(exc, during, run.name, iteration)
    return None


def _too_many_suspect(current: ScenarioRun) -> bool:
    suspect = sum(1 for s in current.samples if s.suspect_reason is not None)
    return suspect * 2 > len(current.samples)


def _starved(current: ScenarioRun) -> Failure | None:
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
    return failure_of(exc, current.name)
