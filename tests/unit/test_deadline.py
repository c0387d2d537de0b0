"""Whole-request and whole-run deadlines: a trickling runtime ends as 'timeout', on the stream's own clock."""

from __future__ import annotations

import json

import pytest
from support.runtime_http import FakeClock, Script, mock_http, streamed

from perfgate.config import PerfgateConfig
from perfgate.contracts.results import ScenarioOptions
from perfgate.errors import Kind, RuntimeTimeout
from perfgate.runtimes.deadline import RequestWatch, RunLimits, current_watch, watching
from perfgate.runtimes.ollama import OllamaClient

S = 1_000_000_000
OPTIONS = ScenarioOptions(num_predict=64, num_ctx=4096, temperature=0.0, seed=7, keep_alive="10m")


def token(text: str) -> bytes:
    return json.dumps({"model": "m", "message": {"role": "assistant", "content": text}, "done": False}).encode() + b"\n"


DONE = json.dumps({"model": "m", "done": True, "eval_count": 3, "eval_duration": 1}).encode() + b"\n"


class Ticks:
    """A monotonic clock in seconds that a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def trickle(clock: FakeClock, gaps_s: float, tokens: int) -> Script:
    """One token every ``gaps_s`` seconds of the stream's clock: each read is quick, the request is not."""
    items = [(int((i + 1) * gaps_s * S), token("x")) for i in range(tokens)]
    return Script(streamed(clock, "application/x-ndjson", *items, (int((tokens + 1) * gaps_s * S), DONE)))


def client(script: Script, clock: FakeClock) -> OllamaClient:
    return OllamaClient(mock_http(script), base_url="http://rt.test", model="m", read_timeout_s=1.5, clock=clock)


def test_a_trickling_stream_past_the_whole_request_deadline_is_a_timeout_naming_the_setting():
    clock = FakeClock(now=0)
    watch = RequestWatch("run 3/5 of short", 30.0, "its 30 s whole-request deadline (runtime.request_timeout_s)")
    with watching(watch), pytest.raises(RuntimeTimeout) as info:
        client(trickle(clock, 1.0, 63), clock).stream("hi", OPTIONS)  # 1 s apart: never a read timeout
    assert info.value.kind is Kind.TIMEOUT
    assert info.value.message == (
        "timed out: run 3/5 of short did not finish within its 30 s whole-request deadline "
        "(runtime.request_timeout_s) (30 lines received); what was measured before it is kept"
    )


def test_a_stream_inside_its_deadline_is_measured_and_its_lines_counted():
    clock = FakeClock(now=0)
    watch = RequestWatch("run 1/5 of short", 100.0, "its 100 s deadline")
    with watching(watch):
        obs = client(trickle(clock, 1.0, 5), clock).stream("hi", OPTIONS)
    assert len(obs.content_chunk_ns) == 5
    assert watch.lines == 6  # five tokens and the done line


def test_outside_a_watch_there_is_no_deadline():
    clock = FakeClock(now=0)
    obs = client(trickle(clock, 100.0, 3), clock).stream("hi", OPTIONS)
    assert len(obs.content_chunk_ns) == 3
    assert current_watch().limit_s is None


def test_each_request_gets_the_nearer_of_its_own_deadline_and_what_is_left_of_the_run():
    ticks = Ticks()
    limits = RunLimits(request_timeout_s=30.0, run_timeout_s=100.0, clock=ticks)
    assert limits.watch("run 1/5 of short").limit_s == 30.0
    ticks.now += 80
    near = limits.watch("run 2/5 of short")
    assert near.limit_s == pytest.approx(20.0)
    assert near.deadline_text == "the run's 100 s deadline (runtime.run_timeout_s, --run-timeout)"
    app = limits.watch("run 2/5 of app", request=False)  # an app's run has its own timeout_s
    assert app.limit_s == pytest.approx(20.0)


def test_a_request_after_the_run_deadline_is_not_sent():
    ticks = Ticks()
    limits = RunLimits(request_timeout_s=30.0, run_timeout_s=60.0, clock=ticks)
    ticks.now += 60
    with pytest.raises(RuntimeTimeout) as info:
        limits.watch("run 4/5 of short")
    assert info.value.message == (
        "timed out: the run's 60 s deadline (runtime.run_timeout_s, --run-timeout) passed before run 4/5 of short; "
        "what was measured before it is kept"
    )


def test_without_a_run_deadline_only_the_requests_own_applies():
    limits = RunLimits.from_config(PerfgateConfig())
    watch = limits.watch("run 1/5 of short")
    assert watch.limit_s == 600.0
    assert "runtime.request_timeout_s" in watch.deadline_text
    assert limits.watch("run 1/1 of app", request=False).limit_s is None
