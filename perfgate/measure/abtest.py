"""The A/B re-measure: an app scenario's command run in turn in the base commit's checkout (A) and the current one (B).

One runtime, one measuring proxy and one memory sampler serve both sides in
one session, so what the session does to the numbers (a hot or throttled
chip, a busy runner, a runtime slower today than when the baseline was made)
it does to both, and the paired differences leave it out. Each run is one
execution of the command, measured as ``perfgate run`` measures an app
scenario (``measure.requests.AppRuns``): warm-ups of both sides first, then
the pairs.

The pairs alternate which side runs first: A B, then B A, then A B ... (an
ABBA design). With A always first, a drift within the session or a
carry-over from the run just before (a warmer cache, a hotter chip) would
land on B in every pair and pass for a difference between the commits;
alternating turns it into +δ and −δ, which cancel over two pairs and leave
the differences symmetric about zero when the commits are alike, as the
sign-flip test assumes.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from perfgate import interrupts
from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.confirmation import MeasuredPair
from perfgate.contracts.results import Failure, RuntimeInfo, Sample, ScenarioOptions
from perfgate.errors import CouldNotMeasure, Kind, MemoryUnavailable
from perfgate.measure.app import AppRunner
from perfgate.measure.identity import scenario_options
from perfgate.measure.locate import locate_runtime
from perfgate.measure.memory import MemorySampler
from perfgate.measure.memory_helper import helper_spec
from perfgate.measure.requests import AppMeasurement, AppMeasurer, AppRuns, PeakWindow
from perfgate.runtimes.deadline import RunLimits
from perfgate.runtimes.registry import open_runtime

Side = Literal["A", "B"]
SIDE_NAMES: dict[Side, str] = {"A": "base checkout (A)", "B": "current checkout (B)"}


@dataclass
class _State:
    """The scenario as ``AppRuns`` keeps it (``measure.requests.ScenarioState``), one per side."""

    name: str
    config: ScenarioConfig
    options: ScenarioOptions
    app_sent: AppMeasurement | None = None


@dataclass(frozen=True)
class PairProgress:
    """One step of the re-measure, for a progress line."""

    scenario: str
    phase: Literal["warmup", "pair"]
    index: int  # 1-based
    total: int
    pair: MeasuredPair | None = None


@dataclass(frozen=True)
class ScenarioPairs:
    """What one scenario's re-measure left: its pairs, and the failure that stopped it, if one did."""

    name: str
    pairs: tuple[MeasuredPair, ...]
    warmups: int
    failure: Failure | None = None


@dataclass(frozen=True)
class ABSession:
    runtime: RuntimeInfo | None
    scenarios: tuple[ScenarioPairs, ...]
    failures: tuple[Failure, ...]

    @property
    def interrupted(self) -> bool:
        return any(f.kind is Kind.INTERRUPTED for f in self.failures)


def pair_order(index: int) -> tuple[Side, Side]:
    """A B for even pairs, B A for odd ones (ABBA)."""
    return ("A", "B") if index % 2 == 0 else ("B", "A")


def _interrupted(exc: KeyboardInterrupt, during: str, scenario: str | None) -> Failure:
    name = signal.Signals(interrupts.signal_of(exc)).name
    return Failure(
        kind=Kind.INTERRUPTED,
        message=f"interrupted by {name} during {during}; the pairs measured before it are kept",
        scenario=scenario,
    )


def interleave(
    name: str,
    scenario: ScenarioConfig,
    *,
    apps: Mapping[Side, AppMeasurer],
    sampler: PeakWindow,
    config: PerfgateConfig,
    options: ScenarioOptions,
    pairs: int,
    warmup: int,
    limits: RunLimits,
    progress: Callable[[PairProgress], None],
) -> ScenarioPairs:
    """Warm both sides up, then measure ``pairs`` pairs in ABBA order; the first failure ends the scenario."""
    steps = {side: AppRuns(apps[side], sampler, _State(name, scenario, options), config) for side in ("A", "B")}
    measured: list[MeasuredPair] = []
    warmed = 0
    during = f"the warm-ups of {name}"
    side: Side = "A"
    try:
        for round_ in range(warmup):
            for side in ("A", "B"):
                during = f"warm-up {round_ + 1}/{warmup} of {name}, {SIDE_NAMES[side]}"
                steps[side].warmup(limits.watch(during, request=False))
            warmed += 1
            progress(PairProgress(name, "warmup", round_ + 1, warmup))
        for index in range(pairs):
            got: dict[Side, Sample] = {}
            order = pair_order(index)
            for side in order:
                during = f"pair {index + 1}/{pairs} of {name}, {SIDE_NAMES[side]}"
                got[side] = steps[side].measure(index, limits.watch(during, request=False))
            pair = MeasuredPair(index=index, order="AB" if order[0] == "A" else "BA", a=got["A"], b=got["B"])
            measured.append(pair)
            progress(PairProgress(name, "pair", index + 1, pairs, pair))
    except CouldNotMeasure as exc:
        failure = Failure(kind=exc.kind, message=f"{SIDE_NAMES[side]}: {exc.message}", scenario=name)
        return ScenarioPairs(name, tuple(measured), warmed, failure)
    except KeyboardInterrupt as exc:
        return ScenarioPairs(name, tuple(measured), warmed, _interrupted(exc, during, name))
    return ScenarioPairs(name, tuple(measured), warmed)


def measure_ab(
    config: PerfgateConfig,
    scenarios: Mapping[str, ScenarioConfig],
    *,
    checkouts: Mapping[Side, Path],
    pairs: int,
    warmup: int,
    progress: Callable[[PairProgress], None],
) -> ABSession:
    """Open the runtime, start the proxy and the sampler, re-measure each scenario; stop at the first failure.

    Returns with interrupts held (``perfgate.interrupts.hold``): the caller removes the
    base checkout and writes what was measured before a signal may stop it.
    """
    from perfgate.measure.proxy import MeasuringProxy  # noqa: PLC0415 -- the proxy's modules load only here

    limits = RunLimits.from_config(config)
    runtime_info: RuntimeInfo | None = None
    done: list[ScenarioPairs] = []
    failures: list[Failure] = []
    sampler: MemorySampler | None = None
    stage = "the start of the runtime"
    try:
        with open_runtime(config) as runtime:
            rt = config.runtime
            stage = "the runtime's preflight check"
            runtime_info = runtime.client.preflight()
            stage = "the search for the runtime's process"
            pid: int | None
            try:
                managed = runtime.managed_pid if runtime.managed_pid is not None else rt.pid
                pid = locate_runtime(
                    runtime.client.base_url,
                    pid=managed,
                    process_name=rt.process_name,
                    memory_helper=rt.memory_helper is not None,
                )
            except MemoryUnavailable:
                pid = None  # the runtime's memory is then not paired; every other metric is
            runtime_info = runtime_info.model_copy(update={"pid": pid, "simulated": runtime.simulated})
            sampler = MemorySampler(pid, interval_s=config.memory_interval_ms / 1000, memory_helper=helper_spec(rt))
            sampler.start()
            proxy = MeasuringProxy(
                runtime.client.base_url, connect_timeout_s=rt.connect_timeout_s, read_timeout_s=rt.read_timeout_s
            )
            with proxy:
                apps: dict[Side, AppMeasurer] = {side: AppRunner(proxy, cwd=path) for side, path in checkouts.items()}
                for name, scenario in scenarios.items():
                    stage = f"the re-measure of {name}"
                    options = scenario_options(scenario, rt.keep_alive, sends_num_ctx=runtime.client.sends_num_ctx)
                    one = interleave(
                        name,
                        scenario,
                        apps=apps,
                        sampler=sampler,
                        config=config,
                        options=options,
                        pairs=pairs,
                        warmup=warmup,
                        limits=limits,
                        progress=progress,
                    )
                    done.append(one)
                    if one.failure is not None:
                        failures.append(one.failure)
                        break
    except CouldNotMeasure as exc:
        failures.append(Failure(kind=exc.kind, message=exc.message))
    except KeyboardInterrupt as exc:
        failures.append(_interrupted(exc, stage, None))
    finally:
        # Measuring is over, however it ended: the clean-up and the file must not be cut short.
        interrupts.hold()
        if sampler is not None:
            sampler.stop()
    return ABSession(runtime_info, tuple(done), tuple(failures))
