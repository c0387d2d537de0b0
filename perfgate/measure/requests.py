"""How one warm-up or measured run of a scenario is made: perfgate's own request, or one run of the app's command.

Each runs under the ``RequestWatch`` the harness gives it (``runtimes.deadline``),
so a request, or an app run, that outlives its deadline ends as ``timeout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.results import MemoryPeaks, Sample, ScenarioOptions, StreamObservation
from perfgate.measure.app import AppMeasurement
from perfgate.measure.identity import request_prompt
from perfgate.measure.samples import build_sample, cold_start_sample
from perfgate.runtimes.base import DEFAULT_CLOCK, ColdStartable, RuntimeClient
from perfgate.runtimes.clock import WaitClock
from perfgate.runtimes.deadline import RequestWatch, RunLimits, watching

__all__ = ["AppMeasurement", "AppMeasurer", "AppRuns", "ColdStarts", "OwnRequests", "PeakWindow", "ScenarioState"]


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


class ScenarioState(Protocol):
    """The scenario being measured, as the harness keeps it."""

    name: str
    config: ScenarioConfig
    options: ScenarioOptions
    app_sent: AppMeasurement | None  # app scenarios: what the first measured run's first LLM request sent


class OwnRequests:
    """A scenario of perfgate's own requests: preload, then one streamed request per warm-up and run."""

    request_deadline = True  # each request is bounded by runtime.request_timeout_s

    def __init__(
        self, client: RuntimeClient, sampler: PeakWindow, current: ScenarioState, config: PerfgateConfig
    ) -> None:
        self.client, self.sampler, self.current, self.config = client, sampler, current, config
        self.prompt = current.config.prompt or ""  # set whenever command is not (ScenarioConfig checks it)
        # The clients' clock notes the thread's CPU waits where it can (see runtimes.clock).
        clock = getattr(client, "clock", None)
        self.clock = clock if isinstance(clock, WaitClock) else None

    def prepare(self, limits: RunLimits) -> None:
        with watching(limits.watch(f"the preload of {self.current.name}")):
            self.client.preload(self.current.options)

    def warmup(self, watch: RequestWatch) -> None:
        with watching(watch):
            self.client.stream(request_prompt(self.prompt, self.current.options), self.current.options)

    def measure(self, index: int, watch: RequestWatch) -> Sample:
        self.sampler.window()  # start this request's memory window fresh
        if self.clock is not None:
            self.clock.reset()
        with watching(watch):
            obs = self.client.stream(request_prompt(self.prompt, self.current.options), self.current.options)
        return build_sample(
            obs,
            iteration=index,
            memory=self.sampler.window(),
            cold_load_ms=self.config.cold_load_ms,
            cpu_waits=None if self.clock is None else self.clock.waits(obs),
        )


class ColdStarts(OwnRequests):
    """A cold-start scenario (``kind = "cold"``): each warm-up and run unloads the model, then times its first request.

    No preload. The memory window opens once the model is out of memory, so its peak is
    the load's and the first answer's. The unload itself is not timed.
    """

    def __init__(
        self, client: RuntimeClient, sampler: PeakWindow, current: ScenarioState, config: PerfgateConfig
    ) -> None:
        super().__init__(client, sampler, current, config)
        if not isinstance(client, ColdStartable):  # run_benchmark refuses this before anything is measured
            raise TypeError(f"a {client.kind} client cannot unload its model")
        self.starter: ColdStartable = client
        self.now = self.clock if self.clock is not None else getattr(client, "clock", DEFAULT_CLOCK)

    def prepare(self, limits: RunLimits) -> None:
        pass  # every run starts from an unloaded model

    def _cold_start(self, watch: RequestWatch) -> tuple[StreamObservation, int, int | None]:
        with watching(watch):
            self.starter.unload_model(self.config.runtime.unload_timeout_s)
            self.sampler.window()  # the window opens with the model out of memory
            if self.clock is not None:
                self.clock.reset()
            began = self.now()
            load_ns = self.starter.load_model()
            obs = self.client.stream(request_prompt(self.prompt, self.current.options), self.current.options)
        return obs, began, load_ns

    def warmup(self, watch: RequestWatch) -> None:
        self._cold_start(watch)

    def measure(self, index: int, watch: RequestWatch) -> Sample:
        obs, began, load_ns = self._cold_start(watch)
        sample = build_sample(
            obs,
            iteration=index,
            memory=self.sampler.window(),
            cold_load_ms=self.config.cold_load_ms,
            cpu_waits=None if self.clock is None else self.clock.waits(obs),
        )
        return cold_start_sample(sample, obs, began_ns=began, load_ns=load_ns)


class AppRuns:
    """An app scenario: each warm-up and run is one execution of the app's command.

    No preload: the app loads the model its own way, and its warm-ups are where that
    happens. The app's own ``timeout_s`` bounds each run; only the run's deadline is added.
    """

    request_deadline = False

    def __init__(self, app: AppMeasurer, sampler: PeakWindow, current: ScenarioState, config: PerfgateConfig) -> None:
        self.app, self.sampler, self.current, self.config = app, sampler, current, config
        self.command = current.config.command or ()

    def prepare(self, limits: RunLimits) -> None:
        pass

    def _run(self, iteration: int, watch: RequestWatch) -> AppMeasurement:
        timeout_s, cold_load_ms = self.current.config.timeout_s, self.config.cold_load_ms
        with watching(watch):
            return self.app.measure(
                self.command, timeout_s=timeout_s, sampler=self.sampler, iteration=iteration, cold_load_ms=cold_load_ms
            )

    def warmup(self, watch: RequestWatch) -> None:
        self._run(-1, watch)

    def measure(self, index: int, watch: RequestWatch) -> Sample:
        measured = self._run(index, watch)
        if self.current.app_sent is None:
            self.current.app_sent = measured
        return measured.sample
