"""Cold-start scenarios (``kind = "cold"``): the Ollama client's unload, the cold sample, and the harness's steps."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from support.runtime_http import FakeClock, Script, mock_http
from test_harness import HOST, MS, FakeClient, FakeSampler

from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.results import Sample, StreamObservation
from perfgate.errors import RuntimeFailure, RuntimeTimeout, UsageError
from perfgate.measure.harness import run_benchmark
from perfgate.measure.identity import options_hash, scenario_options
from perfgate.measure.samples import build_sample, cold_start_sample
from perfgate.runtimes.ollama import OllamaClient
from perfgate.sim.engine import SimEngine
from perfgate.sim.profile import SimProfile

BASE = "http://ollama.test:11434"
PS_LOADED = {"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 1, "size_vram": 0}]}
PS_EMPTY: dict[str, list[object]] = {"models": []}
UNLOADED = {"model": "llama3.2", "created_at": "2025-01-01T00:00:00Z", "response": "", "done": True,
            "done_reason": "unload"}  # fmt: skip


def ollama(script: Script) -> OllamaClient:
    return OllamaClient(mock_http(script), base_url=BASE, model="llama3.2", clock=FakeClock())


class Waits:
    """An injected sleep and monotonic clock: sleeping advances the clock, nothing really waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def test_unload_asks_for_keep_alive_0_then_polls_api_ps_until_the_model_is_gone():
    script = Script(
        httpx.Response(200, json=UNLOADED),
        httpx.Response(200, json=PS_LOADED),  # the runner is let go asynchronously (server/sched.go)
        httpx.Response(200, json=PS_LOADED),
        httpx.Response(200, json=PS_EMPTY),
    )
    waits = Waits()
    ollama(script).unload_model(30.0, sleep=waits.sleep, now=waits.monotonic)
    unload, *polls = script.requests
    assert (unload.method, unload.url.path) == ("POST", "/api/generate")
    assert json.loads(unload.content) == {"model": "llama3.2", "keep_alive": 0, "stream": False}
    assert [(r.method, r.url.path) for r in polls] == [("GET", "/api/ps")] * 3
    assert len(waits.slept) == 2


def test_a_model_still_listed_after_the_timeout_is_a_clear_timeout():
    script = Script(httpx.Response(200, json=UNLOADED), *[httpx.Response(200, json=PS_LOADED)] * 50)
    waits = Waits()
    with pytest.raises(RuntimeTimeout) as caught:
        ollama(script).unload_model(1.0, sleep=waits.sleep, now=waits.monotonic)
    assert "'llama3.2' is still listed by http://ollama.test:11434/api/ps 1 s after keep_alive 0" in str(caught.value)
    assert "runtime.unload_timeout_s" in str(caught.value)
    assert waits.now >= 1.0


def test_an_unload_that_ollama_refuses_is_a_runtime_failure():
    script = Script(httpx.Response(200, json={"error": "something broke"}))
    with pytest.raises(RuntimeFailure, match="something broke"):
        ollama(script).unload_model(1.0, sleep=Waits().sleep)


def test_ollama_loads_on_the_request_so_load_model_says_nothing():
    assert ollama(Script()).load_model() is None


def _obs(*, sent: int, first: int, load_ns: int | None) -> StreamObservation:
    chunks = (first, first + 10 * MS, first + 20 * MS)
    return StreamObservation(
        sent_ns=sent, first_content_ns=first, last_content_ns=chunks[-1], done_ns=chunks[-1] + MS,
        content_chunk_ns=chunks, text="abc", output_tokens=3, prompt_tokens=4, load_ns=load_ns,
    )  # fmt: skip


def _cold(obs: StreamObservation, *, began: int, load_ns: int | None) -> Sample:
    sample = build_sample(obs, iteration=0, memory=None, cold_load_ms=500)
    return cold_start_sample(sample, obs, began_ns=began, load_ns=load_ns)


def test_a_cold_sample_counts_ttft_from_the_start_of_the_cold_start_and_never_as_warm_ttft():
    # Ollama: the load is inside the request; its load_duration is the load time.
    sample = _cold(_obs(sent=1_000 * MS, first=1_900 * MS, load_ns=800 * MS), began=990 * MS, load_ns=None)
    assert sample.ttft_ms is None
    assert sample.ttft_cold_ms == 910.0
    assert sample.load_cold_ms == 800.0
    assert sample.cold
    # llama.cpp: the server's start is a step of its own before the request, timed by its own clock.
    sample = _cold(_obs(sent=1_300 * MS, first=1_320 * MS, load_ns=None), began=1_000 * MS, load_ns=250 * MS)
    assert sample.ttft_cold_ms == 320.0
    assert sample.load_cold_ms == 250.0
    assert sample.cold
    assert sample.e2e_ms == 41.0  # request sent to done: the load before the request is not in it


def test_cold_start_is_part_of_the_options_hash_only_when_set():
    warm = ScenarioConfig(prompt="hi")
    cold = ScenarioConfig(prompt="hi", kind="cold")
    assert scenario_options(cold, "10m").cold_start
    assert options_hash(scenario_options(warm, "10m")) != options_hash(scenario_options(cold, "10m"))
    # A field left at its old meaning stays out of the hash: baselines from before it still match.
    legacy = scenario_options(warm, "10m").model_dump(mode="json", exclude={"cold_prompt", "cold_start"})
    assert "cold_start" not in legacy


def test_an_app_scenario_cannot_be_a_cold_start():
    with pytest.raises(ValueError, match="kind = 'cold' times perfgate's own first request"):
        ScenarioConfig(command=("./bench",), kind="cold")


class ColdClient(FakeClient):
    """The harness's fake runtime, able to unload: the log shows unloads, loads and requests in order."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = FakeClock(0)

    def unload_model(self, timeout_s: float) -> None:
        self.log.append(f"unload {timeout_s:g}")

    def load_model(self) -> int | None:
        self.log.append("load")
        self.clock.now = 123 * MS
        return 77 * MS


def _config(**runtime: object) -> PerfgateConfig:
    return PerfgateConfig(
        runs=2,
        warmup=1,
        scenarios={"cold": {"prompt": "hi", "num_predict": 3, "kind": "cold"}},
        runtime=runtime,
    )  # fmt: skip


def _run(client: FakeClient, config: PerfgateConfig):
    sampler = FakeSampler()
    result = run_benchmark(
        client=client, config=config, tier="pro", host=HOST, command="perfgate run", created_at="2026-11-28T00:00:00Z",
        git_sha=None, simulated=False, locate_runtime_pid=lambda: 10, sampler_factory=lambda pid: sampler,
        process_started=lambda pid: None,
    )  # fmt: skip
    return result, sampler


def test_every_warm_up_and_run_of_a_cold_scenario_unloads_first_and_no_preload_is_sent():
    client = ColdClient(names={3: "cold"})
    result, sampler = _run(client, _config(unload_timeout_s=12))
    assert result.ok, result.failures
    assert client.preloads == 0
    assert client.log == ["unload 12", "load", "cold"] * 3  # 1 warm-up + 2 runs
    (scenario,) = result.scenarios
    assert scenario.options.cold_start
    assert scenario.warmups_discarded == 1
    sample = scenario.samples[0]
    assert sample.ttft_ms is None
    assert sample.load_cold_ms == 77.0
    # FakeClient's request of stream 2 is sent at 2,000 ms and its first token comes 20 ms later.
    assert sample.ttft_cold_ms == 2_020 - 123
    assert set(scenario.summaries) >= {"load_cold_ms", "ttft_cold_ms"}
    assert "ttft_ms" not in scenario.summaries
    # One window opens after each unload and one closes each measured run (none for the warm-up's close).
    assert sampler.calls == 3 + 2


def test_a_runtime_that_cannot_unload_refuses_a_cold_scenario_before_measuring():
    client = FakeClient()
    with pytest.raises(UsageError, match=r"scenario 'cold' is a cold start .* cannot unload the model of a ollama"):
        _run(client, _config())
    assert client.streams == 0


def test_the_simulator_unloads_when_the_request_holding_the_model_ends():
    """A client asks for the unload as soon as it has read a request's last line, maybe before the server
    has let that request go: the unload then happens when it does (as Ollama's scheduler does), not never."""
    engine = SimEngine(SimProfile(load_ms=0.0, jitter_cv=0.0, ballast_mb=0), threading.Event())
    assert engine.acquire()
    engine.unload()  # arrives while the request still holds the model
    assert engine.expires_in_s() is not None
    engine.release(600.0)  # that request asked to keep it 10 minutes; the unload asked after it
    assert engine.expires_in_s() is None
    # A request that starts before the holder ends keeps the model, on its own keep_alive.
    assert engine.acquire()
    engine.unload()
    assert engine.acquire()
    engine.release(600.0)
    engine.release(600.0)
    assert engine.expires_in_s() is not None
