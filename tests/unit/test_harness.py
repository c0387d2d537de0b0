from __future__ import annotations

import hashlib
import json
import signal

import pytest

from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.results import HostInfo, MemoryPeaks, RuntimeInfo, StreamObservation
from perfgate.errors import Kind, MemoryUnavailable, RuntimeFailure, RuntimeUnavailable
from perfgate.interrupts import Interrupted
from perfgate.measure.harness import extend_benchmark, run_benchmark
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

    def __init__(
        self, *, fail_preflight=None, fail_at=None, version="0.5.1", burst_at=(), interrupt_at=None, names=None
    ):
        self.names = names or {}  # num_predict -> scenario name, for the log
        self.log = []  # "preload a", "a", ...: every preload and stream, in order
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
        self.log.append(f"preload {self.names.get(options.num_predict, '?')}")

    def stream(self, prompt, options):
        self.streams += 1
        self.log.append(self.names.get(options.num_predict, "?"))
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


def run(
    client,
    config=None,
    *,
    locate=lambda: 10,
    started="2026-11-28T00:00:00Z",
    limits=None,
    thermal=lambda: None,
    settings=lambda kind, pid: None,
):
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
        thermal=thermal,
        runtime_settings=settings,
    )
    return result, events


def test_warmups_discarded_and_samples_measured():
    client = FakeClient()
    result, events = run(client)
    assert result.ok
    assert [s.name for s in result.scenarios] == ["short-explain", "prefill"]
    short = result.scenarios[0]
    # short-explain's prompt is warm: interleaved with prefill's runs, each of its runs gets a warm-up of its own.
    assert short.warmups_discarded == 1 + 3
    assert result.scenarios[1].warmups_discarded == 1
    assert len(short.samples) == 3
    assert client.streams == 2 * (1 + 3) + 3
    assert result.order == "interleaved"
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


def test_blocked_a_failure_mid_scenario_keeps_earlier_samples_and_measures_no_later_scenario():
    result, _ = run(
        FakeClient(fail_at=4), config=PerfgateConfig(runs=3, warmup=1, order="blocked")
    )  # warm-up, 2 samples, then boom
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
    # Blocked, short-explain: stream 1 is its warm-up, 2-4 its runs, 5-7 the re-measures; every run is read in bursts.
    result, _ = run(FakeClient(burst_at={2, 3, 4, 5, 6, 7}), config=PerfgateConfig(runs=3, warmup=1, order="blocked"))
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
    result, _ = run(FakeClient(burst_at={3, 4}), config=PerfgateConfig(runs=3, warmup=1, order="blocked"))
    short = result.scenarios[0]
    assert [s.suspect_reason is not None for s in short.samples] == [False, True, True, False]
    assert result.failures == ()
    assert short.summaries["ttft_ms"].n == 2


def test_one_suspect_sample_in_three_is_left_out_but_does_not_fail_the_run():
    result, _ = run(FakeClient(burst_at={4}), config=PerfgateConfig(runs=3, warmup=1, order="blocked"))
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
    client = FakeClient(interrupt_at=(4, Interrupted(signum)))  # blocked: warm-up, 2 samples, then the signal
    result, _ = run(client, config=PerfgateConfig(runs=3, warmup=1, order="blocked"))
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
    limits = RunLimits(request_timeout_s=600, run_timeout_s=25, clock=ticks)
    result, _ = run(client, limits=limits, config=PerfgateConfig(runs=3, warmup=1, order="blocked"))
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


# --------------------------------------------------------------------------- the order of the runs


def scenarios(*, order="interleaved", runs=3, warmup=1, warm=(), num_ctx=None):
    """Scenarios a, b, c (num_predict 4, 5, 6: the fake client logs them by it), cold unless named in ``warm``."""
    num_ctx = num_ctx or {}
    return PerfgateConfig(
        runs=runs,
        warmup=warmup,
        order=order,
        scenarios={
            name: ScenarioConfig(
                prompt=f"prompt {name}",
                num_predict=4 + i,
                cold_prompt=name not in warm,
                num_ctx=num_ctx.get(name, 4096),
            )
            for i, name in enumerate("abc")
        },
    )


NAMES = {4: "a", 5: "b", 6: "c"}


def sequences(result):
    return {s.name: [sample.sequence for sample in s.samples] for s in result.scenarios}


def test_interleaved_runs_go_round_by_round_after_every_scenario_is_warmed_up():
    client = FakeClient(names=NAMES)
    result, _ = run(client, scenarios())
    warm_ups = ["preload a", "a", "preload b", "b", "preload c", "c"]
    assert client.log == [*warm_ups, "a", "b", "c", "a", "b", "c", "a", "b", "c"]
    assert result.ok
    assert result.order == "interleaved"
    assert sequences(result) == {"a": [0, 3, 6], "b": [1, 4, 7], "c": [2, 5, 8]}
    assert [[s.iteration for s in sc.samples] for sc in result.scenarios] == [[0, 1, 2]] * 3
    assert [sc.warmups_discarded for sc in result.scenarios] == [1, 1, 1]


def test_blocked_runs_every_run_of_one_scenario_before_the_next():
    client = FakeClient(names=NAMES)
    result, _ = run(client, scenarios(order="blocked", warm="a"))
    assert client.log == [
        "preload a",
        "a",
        "a",
        "a",
        "a",
        "preload b",
        "b",
        "b",
        "b",
        "b",
        "preload c",
        "c",
        "c",
        "c",
        "c",
    ]
    assert result.order == "blocked"
    assert sequences(result) == {"a": [0, 1, 2], "b": [3, 4, 5], "c": [6, 7, 8]}
    assert [sc.warmups_discarded for sc in result.scenarios] == [1, 1, 1]  # no warm-up before each run


def test_interleaved_a_warm_prompt_is_warmed_again_right_before_each_of_its_runs():
    # a's prompt is warm: measured as the cache hit it is blocked, the runtime must have just seen it.
    client = FakeClient(names=NAMES)
    result, _ = run(client, scenarios(warm="a"))
    warm_ups = ["preload a", "a", "preload b", "b", "preload c", "c"]
    assert client.log == [*warm_ups, "a", "a", "b", "c", "a", "a", "b", "c", "a", "a", "b", "c"]
    assert sequences(result) == {"a": [0, 3, 6], "b": [1, 4, 7], "c": [2, 5, 8]}
    assert [sc.warmups_discarded for sc in result.scenarios] == [1 + 3, 1, 1]
    # No warm-ups asked for: none is added either.
    client = FakeClient(names=NAMES)
    run(client, scenarios(warm="a", warmup=0))
    assert client.log == ["preload a", "preload b", "preload c", *["a", "b", "c"] * 3]


def test_interleaved_scenarios_that_differ_in_num_ctx_are_measured_one_group_after_another():
    # Ollama reloads the model when num_ctx changes: b alone, after a and c (which share theirs).
    client = FakeClient(names=NAMES)
    result, _ = run(client, scenarios(num_ctx={"b": 8192}))
    assert client.log == [
        *["preload a", "a", "preload c", "c", "a", "c", "a", "c", "a", "c"],
        *["preload b", "b", "b", "b", "b"],
    ]
    assert [sc.name for sc in result.scenarios] == ["a", "b", "c"]  # the results keep the config's order
    assert sequences(result) == {"a": [0, 2, 4], "b": [6, 7, 8], "c": [1, 3, 5]}


def test_the_progress_events_say_the_round():
    _, events = run(FakeClient(names=NAMES), scenarios(warm="a", runs=2))
    measured = [(e.round_index, e.rounds, e.scenario, e.index, e.total) for e in events if e.sample]
    assert measured == [(r, 2, name, r, 2) for r in (1, 2) for name in "abc"]
    rewarm = [e for e in events if e.phase == "rewarm"]
    assert [(e.scenario, e.index, e.round_index) for e in rewarm] == [("a", 1, 1), ("a", 2, 2)]
    assert rewarm[0].request.what == "the warm-up before run 1/2 of a"
    assert [(e.scenario, e.total) for e in events if e.phase == "done"] == [("a", 2), ("b", 2), ("c", 2)]
    # One scenario to a group: no rounds to speak of.
    _, events = run(FakeClient(names=NAMES), scenarios(order="blocked", runs=2))
    assert all(e.round_index is None for e in events)


def test_interleaved_a_failure_mid_round_stops_the_run_and_keeps_every_sample_before_it():
    # Streams: 1-3 warm-ups, 4-6 round 1, then a (7) and b (8, fails) of round 2.
    client = FakeClient(names=NAMES, fail_at=8)
    result, events = run(client, scenarios())
    (failure,) = result.failures
    assert (failure.kind, failure.scenario, failure.iteration) == (Kind.RUNTIME_ERROR, "b", 1)
    assert client.log[-2:] == ["a", "b"]  # nothing after it
    assert sequences(result) == {"a": [0, 3], "b": [1], "c": [2]}
    assert not any(e.phase == "done" for e in events)
    assert client.reported == 1  # a failure is not an interrupt: the runtime's sizes are still asked for


def test_interleaved_a_failing_warm_up_keeps_the_scenarios_started_before_it():
    result, _ = run(FakeClient(names=NAMES, fail_at=2), scenarios())  # b's warm-up
    assert [(f.scenario, f.iteration) for f in result.failures] == [("b", None)]
    assert [(sc.name, sc.warmups_discarded, len(sc.samples)) for sc in result.scenarios] == [("a", 1, 0), ("b", 0, 0)]


def test_interleaved_an_interrupt_during_a_warm_up_before_a_run_is_recorded_where_it_came():
    # Streams: 1-3 warm-ups; round 1: a's warm-up (4), a (5), b (6), c (7); round 2: a's warm-up (8).
    client = FakeClient(names=NAMES, interrupt_at=(8, Interrupted(signal.SIGINT)))
    result, _ = run(client, scenarios(warm="a"))
    (failure,) = result.failures
    assert failure.kind is Kind.INTERRUPTED
    assert failure.message == (
        "interrupted by SIGINT during the warm-up before run 2/3 of a; what was measured before it is kept"
    )
    assert (failure.scenario, failure.iteration) == ("a", None)
    assert sequences(result) == {"a": [0], "b": [1], "c": [2]}
    assert client.reported == 0


def test_interleaved_the_run_deadline_stops_the_round_it_falls_in():
    ticks = Ticks()
    client = FakeClient(names=NAMES)
    original = client.stream

    def slow_stream(prompt, options):
        ticks.now += 10
        return original(prompt, options)

    client.stream = slow_stream
    limits = RunLimits(request_timeout_s=600, run_timeout_s=45, clock=ticks)
    result, _ = run(client, scenarios(), limits=limits)  # 3 warm-ups (30 s), a and b of round 1 (50 s)
    (failure,) = result.failures
    assert failure.kind is Kind.TIMEOUT
    assert "passed before run 1/3 of c" in failure.message
    assert (failure.scenario, failure.iteration) == ("c", 0)
    assert sequences(result) == {"a": [0], "b": [1], "c": []}


def test_interleaved_suspect_samples_are_re_measured_per_scenario_in_extra_rounds():
    # Streams: 1-3 warm-ups; rounds 1-3: a b c at 4-6, 7-9, 10-12. b's runs 2 and 3 are read in bursts
    # (2 of 3 suspect): one extra round of b alone (13), and 2 of 4 is not most.
    client = FakeClient(names=NAMES, burst_at={8, 11})
    result, events = run(client, scenarios())
    assert client.log[6:] == ["a", "b", "c"] * 3 + ["b"]
    assert result.failures == ()
    b = result.scenarios[1]
    assert [s.suspect_reason is not None for s in b.samples] == [False, True, True, False]
    assert [s.sequence for s in b.samples] == [1, 4, 7, 9]
    assert [len(sc.samples) for sc in result.scenarios] == [3, 4, 3]
    extra = [e for e in events if e.sample is not None and e.round_index == 4]
    assert [(e.scenario, e.index, e.total, e.rounds) for e in extra] == [("b", 4, 4, 4)]


def test_interleaved_a_scenario_no_sample_of_which_could_be_timed_fails_after_its_re_measures():
    # Every run of b is read in bursts: 3 runs, then 3 extra rounds of b alone (13-15), then it fails.
    client = FakeClient(names=NAMES, burst_at={5, 8, 11, 13, 14, 15})
    result, _ = run(client, scenarios())
    assert client.log[6:] == ["a", "b", "c"] * 3 + ["b"] * 3
    (failure,) = result.failures
    assert (failure.kind, failure.scenario) == (Kind.TIMING_UNRELIABLE, "b")
    assert [len(sc.samples) for sc in result.scenarios] == [3, 6, 3]  # a and c measured in full


def extend(result, client, config, names, runs):
    return extend_benchmark(
        result, client=client, config=config, scenarios=set(names), runs=runs, sampler=FakeSampler()
    )


def test_runs_added_by_a_sequential_run_go_round_by_round_over_the_scenarios_re_run():
    config = scenarios(runs=2, warm="a")
    client = FakeClient(names=NAMES)
    result, _ = run(client, config)
    first = len(client.log)
    more = extend(result, client, config, {"a", "c"}, 2)
    # A fresh warm-up of each scenario re-run, then rounds over them alone.
    assert client.log[first:] == ["preload a", "a", "preload c", "c", "a", "a", "c", "a", "a", "c"]
    assert sequences(more) == {"a": [0, 3, 6, 8], "b": [1, 4], "c": [2, 5, 7, 9]}
    assert [[s.iteration for s in sc.samples] for sc in more.scenarios] == [[0, 1, 2, 3], [0, 1], [0, 1, 2, 3]]
    assert more.scenarios[1] == result.scenarios[1]
    # Blocked: scenario by scenario.
    blocked = scenarios(runs=2, order="blocked")
    client = FakeClient(names=NAMES)
    result, _ = run(client, blocked)
    first = len(client.log)
    more = extend(result, client, blocked, {"a", "c"}, 2)
    assert client.log[first:] == ["preload a", "a", "a", "a", "preload c", "c", "c", "c"]
    assert sequences(more) == {"a": [0, 1, 6, 7], "b": [2, 3], "c": [4, 5, 8, 9]}


def test_a_failure_among_added_runs_keeps_the_runs_before_it_and_leaves_the_rest_as_they_were():
    config = scenarios(runs=2)
    client = FakeClient(names=NAMES, fail_at=9 + 4)  # 9 streams first; then 2 warm-ups, a, then b fails
    result, _ = run(client, config)
    more = extend(result, client, config, {"a", "b"}, 2)
    (failure,) = more.failures
    assert (failure.scenario, failure.iteration) == ("b", 2)
    assert sequences(more) == {"a": [0, 3, 6], "b": [1, 4], "c": [2, 5]}


def test_added_runs_of_a_file_written_before_the_order_was_recorded_count_after_its_samples():
    config = scenarios(runs=2)
    client = FakeClient(names=NAMES)
    result, _ = run(client, config)
    old = result.model_copy(
        update={
            "order": None,
            "scenarios": tuple(
                sc.model_copy(update={"samples": tuple(s.model_copy(update={"sequence": None}) for s in sc.samples)})
                for sc in result.scenarios
            ),
        }
    )
    more = extend(old, client, config, {"c"}, 1)
    assert more.scenarios[2].samples[-1].sequence == 6


def test_thermal_state_is_read_before_every_run_and_kept_per_scenario():
    states = iter(["nominal", "nominal", "nominal", "throttled (CPU_Speed_Limit=80)"] + ["nominal"] * 20)
    asked = []

    def thermal():
        asked.append(1)
        return next(states)

    config = PerfgateConfig(runs=3, warmup=1, order="blocked")
    result, _ = run(FakeClient(), config, thermal=thermal)
    first, second = result.scenarios
    assert len(asked) == 6  # before each of 3 runs of the 2 scenarios, warm-ups aside
    assert first.thermal_states == ("nominal",)
    assert second.thermal_states == ("throttled (CPU_Speed_Limit=80)", "nominal")


def test_runtime_settings_are_read_for_the_located_process_and_enter_the_fingerprint():
    seen = []

    def settings(kind, pid):
        seen.append((kind, pid))
        return {"OLLAMA_FLASH_ATTENTION": "1"}

    result, _ = run(FakeClient(), settings=settings, locate=lambda: 4321)
    assert seen == [(result.runtime.kind, 4321)]
    assert result.runtime.settings == {"OLLAMA_FLASH_ATTENTION": "1"}
    assert result.fingerprint.runtime_settings == {"OLLAMA_FLASH_ATTENTION": "1"}
