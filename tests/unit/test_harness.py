from __future__ import annotations

import hashlib
import json
import signal

import pytest

from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.results import HostInfo, MemoryPeaks, RuntimeInfo, StreamObservation
from perfgate.errors import Kind, MemoryUnavailable, RuntimeFailure, RuntimeUnavailable
from perfgate.interrupts import Interrupted
from perfgate.measure.harness import run_benchmark
from perfgate.measure.identity import options_hash, request_prompt, scenario_options
from perfgate.render.text import run_report
from perfgate.runtimes.deadline import RunLimits

MS = 1_000_000
HOST = HostInfo(label="Ross’s Mac mini", os="darwin", os_version="14.5", chip="Apple M3 Pro", memory_bytes=36 * 2**30)


class FakeClient:
    kind = "ollama"
    sends_num_ctx = True
    base_url = "http://127.0.0.1:1"
    model = "m"

    def __init__(self, *, fail_preflight=None, fail_at=None, version="0.5.1", burst_at=(), interrupt_at=None):
        self.burst_at = set(burst_at)  # these streams' chunks are read 1 µs apart (a starved reader)
        self.interrupt_at = interrupt_at  # (stream number, exception): a signal arriving during that stream
        self.reported = 0
        self.fail_preflight = fail_preflight
        self.fail_at = fail_at
        self.version = version
        self.streams = 0
        self.preloads = 0

    def preflight(self):
        if self.fail_preflight:
            raise self.fail_preflight
        return RuntimeInfo(kind="ollama", base_url=self.base_url, version=self.version, model="m", model_digest="d")

    def preload(self, options):
        self.preloads += 1

    def stream(self, prompt, options):
        self.streams += 1
        if self.interrupt_at is not None and self.streams == self.interrupt_at[0]:
            raise self.interrupt_at[1]
        if self.fail_at is not None and self.streams == self.fail_at:
            raise RuntimeFailure("runtime error: boom")
        t0 = self.streams * 1000 * MS
        gap = 1_000 if self.streams in self.burst_at else 5 * MS
        chunks = tuple(t0 + 20 * MS + i * gap for i in range(options.num_predict))
        return StreamObservation(
            sent_ns=t0,
            first_content_ns=chunks[0],
            last_content_ns=chunks[-1],
            done_ns=chunks[-1] + MS,
            content_chunk_ns=chunks,
            text="t" * len(chunks),
            output_tokens=len(chunks),
            prompt_tokens=5,
            eval_count=len(chunks),
            eval_ns=(len(chunks) - 1) * 5 * MS,
        )

    def runtime_reported(self):
        self.reported += 1
        return {"ps_size_bytes": 123}

    def close(self):
        pass


class FakeSampler:
    def __init__(self):
        self.calls = 0

    def window(self):
        self.calls += 1
        return MemoryPeaks(
            peak_runtime_rss_mb=300.0 + self.calls,
            peak_harness_rss_mb=40.0,
            peak_combined_rss_mb=340.0 + self.calls,
            runtime_pids=(10, 11),
            ticks=3,
        )


def run(client, *, locate=lambda: 10, config=None, started="2026-11-28T00:00:00Z", limits=None):
    config = config or PerfgateConfig(runs=3, warmup=1)
    sampler = FakeSampler()
    events = []
    result = run_benchmark(
        client=client,
        config=config,
        tier="pro",
        host=HOST,
        command="perfgate run",
        created_at="2026-11-28T00:00:00Z",
        git_sha="abc",
        simulated=False,
        locate_runtime_pid=locate,
        sampler_factory=lambda pid: sampler,
        progress=events.append,
        process_started=lambda pid: started,
        limits=limits,
    )
    return result, events


def test_warmups_discarded_and_samples_measured():
    client = FakeClient()
    result, events = run(client)
    assert result.ok
    assert [s.name for s in result.scenarios] == ["short-explain", "prefill"]
    short = result.scenarios[0]
    assert short.warmups_discarded == 1
    assert len(short.samples) == 3
    assert client.streams == 2 * (1 + 3)
    assert client.preloads == 2
    assert short.samples[0].ttft_ms == 20.0
    assert short.samples[0].decode_source == "server"
    assert short.samples[0].peak_runtime_rss_mb is not None
    assert short.samples[0].peak_runtime_rss_mb > 300
    assert short.summaries["ttft_ms"].n == 3
    assert result.runtime.runtime_reported == {"ps_size_bytes": 123}
    assert result.fingerprint.scenarios["short-explain"].prompt_sha256 == short.prompt_sha256
    assert result.fingerprint.chip == "Apple M3 Pro"
    assert [e.phase for e in events if e.scenario == "short-explain"][-1] == "done"


def test_failure_mid_scenario_keeps_earlier_samples():
    result, _ = run(FakeClient(fail_at=4))  # warm-up, 2 samples, then boom
    assert [f.kind for f in result.failures] == [Kind.RUNTIME_ERROR]
    assert result.failures[0].scenario == "short-explain"
    assert result.failures[0].iteration == 2
    assert len(result.scenarios) == 1
    assert len(result.scenarios[0].samples) == 2


def test_preflight_failure_is_recorded_not_raised():
    result, _ = run(FakeClient(fail_preflight=RuntimeUnavailable("runtime unavailable: nothing at http://x")))
    assert result.scenarios == ()
    assert result.failures[0].kind is Kind.RUNTIME_UNAVAILABLE
    assert "http://x" in result.failures[0].message


def test_memory_unavailable_is_a_failure_but_timings_are_kept():
    def locate():
        raise MemoryUnavailable("no process found listening on 127.0.0.1:1")

    result, _ = run(FakeClient(), locate=locate)
    assert [f.kind for f in result.failures] == [Kind.MEMORY_UNAVAILABLE]
    assert len(result.scenarios[0].samples) == 3
    assert result.scenarios[0].memory_unavailable_reason == "no process found listening on 127.0.0.1:1"


def test_simulator_detected_from_version():
    result, _ = run(FakeClient(version="0.0.0-perfgate-sim"))
    assert result.simulated is True
    assert result.runtime.simulated is True


def test_a_scenario_read_mostly_in_bursts_fails_as_timing_unreliable_and_keeps_its_samples():
    # short-explain: stream 1 is its warm-up, 2-4 its runs, 5-7 the re-measures; every run is read in bursts.
    result, _ = run(FakeClient(burst_at={2, 3, 4, 5, 6, 7}))
    short = result.scenarios[0]
    assert [s.suspect_reason is not None for s in short.samples] == [True] * 6  # 3 runs + 3 re-measures
    (failure,) = result.failures
    assert (failure.kind, failure.scenario) == (Kind.TIMING_UNRELIABLE, "short-explain")
    assert failure.message.startswith("timing unreliable: 6 of 6 samples of short-explain were timed while")
    # Nothing is summarised on perfgate's clock; the runtime's decode clock keeps all six.
    assert "ttft_ms" not in short.summaries
    assert short.summaries["decode_tok_s"].n == 6


def test_a_passing_burst_of_load_is_re_measured_not_failed():
    # Runs 2 and 3 of 3 read in bursts (2 of 3 suspect): one more run is measured, and 2 of 4 is not most.
    result, _ = run(FakeClient(burst_at={3, 4}))
    short = result.scenarios[0]
    assert [s.suspect_reason is not None for s in short.samples] == [False, True, True, False]
    assert result.failures == ()
    assert short.summaries["ttft_ms"].n == 2


def test_one_suspect_sample_in_three_is_left_out_but_does_not_fail_the_run():
    result, _ = run(FakeClient(burst_at={4}))
    short = result.scenarios[0]
    assert sum(s.suspect_reason is not None for s in short.samples) == 1
    assert result.failures == ()
    assert short.summaries["ttft_ms"].n == 2


def test_a_cold_prompt_begins_with_a_fresh_nonce_every_request():
    cold = scenario_options(ScenarioConfig(prompt="Summarise this.", cold_prompt=True), "5m")
    sent = {request_prompt("Summarise this.", cold) for _ in range(50)}
    assert len(sent) == 50  # never the same prefix twice: no runtime can reuse a cached prefix
    assert all(p.startswith("[") and p.endswith("] Summarise this.") for p in sent)
    warm = scenario_options(ScenarioConfig(prompt="Summarise this."), "5m")
    assert request_prompt("Summarise this.", warm) == "Summarise this."


def test_the_options_hash_of_a_warm_scenario_is_what_it_was_before_cold_prompts_existed():
    options = scenario_options(ScenarioConfig(prompt="x"), "5m")
    before = {"num_predict": 64, "num_ctx": 4096, "temperature": 0.0, "seed": 42, "keep_alive": "5m"}
    assert options_hash(options) == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
    cold = scenario_options(ScenarioConfig(prompt="x", cold_prompt=True), "5m")
    assert options_hash(cold) != options_hash(options)


def test_the_builtin_prefill_scenario_measures_its_prompt_cold():
    assert PerfgateConfig().scenarios["prefill"].cold_prompt
    assert not PerfgateConfig().scenarios["short-explain"].cold_prompt


def test_the_runtime_process_and_its_start_are_recorded():
    result, _ = run(FakeClient(), started="2026-11-27T21:00:00Z")
    assert (result.runtime.pid, result.runtime.started_at) == (10, "2026-11-27T21:00:00Z")
    text = run_report(result)
    # The run began 2026-11-28T00:00:00Z: three hours after the runtime started serving.
    assert "note: the runtime (pid 10) had been serving for 180 min before this run" in text
    fresh, _ = run(FakeClient(), started="2026-11-27T23:59:50Z")
    assert "had been serving" not in run_report(fresh)


@pytest.mark.parametrize(("signum", "name"), [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")])
def test_an_interrupt_mid_run_is_recorded_as_an_interrupt_and_keeps_the_samples_before_it(signum, name):
    client = FakeClient(interrupt_at=(4, Interrupted(signum)))  # warm-up, 2 samples, then the signal
    result, _ = run(client)
    (failure,) = result.failures
    assert failure.kind is Kind.INTERRUPTED  # never stream_truncated: nothing is the runtime's fault
    assert (
        failure.message == f"interrupted by {name} during run 3/3 of short-explain; what was measured before it is kept"
    )
    assert (failure.scenario, failure.iteration) == ("short-explain", 2)
    assert [s.iteration for s in result.scenarios[0].samples] == [0, 1]
    assert len(result.scenarios) == 1  # nothing after the interrupt
    assert client.reported == 0  # and nothing more asked of the runtime


def test_an_interrupt_during_a_warm_up_or_the_preflight_is_recorded_where_it_came():
    result, _ = run(FakeClient(interrupt_at=(1, KeyboardInterrupt())))
    assert [(f.kind, f.iteration) for f in result.failures] == [(Kind.INTERRUPTED, None)]
    assert "during warm-up 1/1 of short-explain" in result.failures[0].message
    result, _ = run(FakeClient(fail_preflight=Interrupted(signal.SIGTERM)))
    assert result.failures[0].message == (
        "interrupted by SIGTERM during the runtime's preflight check; what was measured before it is kept"
    )


class Ticks:
    """A monotonic clock in seconds that the fake client moves by 10 s per request."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_run_deadline_stops_the_run_before_the_next_request_and_keeps_what_was_measured():
    ticks = Ticks()
    client = FakeClient()
    original = client.stream

    def slow_stream(prompt, options):
        ticks.now += 10
        return original(prompt, options)

    client.stream = slow_stream
    result, _ = run(client, limits=RunLimits(request_timeout_s=600, run_timeout_s=25, clock=ticks))
    (failure,) = result.failures
    assert failure.kind is Kind.TIMEOUT
    assert failure.message.startswith("timed out: the run's 25 s deadline (runtime.run_timeout_s, --run-timeout) ")
    assert "passed before run 3/3 of short-explain" in failure.message
    assert len(result.scenarios[0].samples) == 2


def test_each_request_is_announced_with_its_watch_for_the_in_flight_line():
    _, events = run(FakeClient())
    announced = [e for e in events if e.phase == "run" and e.sample is None]
    assert announced
    assert all(e.request is not None and e.request.limit_s == 600.0 for e in announced)
    assert announced[0].request.what == "run 1/3 of short-explain"
