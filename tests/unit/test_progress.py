"""The progress line: each request as it happens, and a note for a request still in flight."""

from __future__ import annotations

import io

from perfgate.commands.progress import ProgressLine, in_flight_text, request_text
from perfgate.contracts.results import Sample
from perfgate.measure.harness import Progress
from perfgate.runtimes.deadline import RequestWatch

SAMPLE = {
    "iteration": 1,
    "ttft_ms": 20.0,
    "e2e_ms": 100.0,
    "decode_tok_s": 50.0,
    "decode_source": "server",
    "client_decode_tok_s": 50.0,
    "prefill_tok_s": None,
    "load_ms": 1.0,
    "cold": False,
    "output_tokens": 4,
    "prompt_tokens": 2,
    "itl_ms_p50": 5.0,
    "itl_ms_p90": 5.0,
    "itl_ms_p99": 5.0,
    "done_reason": "stop",
}


def test_a_request_in_flight_says_how_long_and_how_many_lines_it_has_received():
    watch = RequestWatch("run 3/5 of short", 600.0, "its 600 s deadline")
    watch.lines = 12
    event = Progress("short", "run", 3, 5, request=watch)
    assert in_flight_text(event, watch, 10.4) == "short: run 3/5 in flight for 10 s, 12 lines received (deadline 600 s)"
    watch.lines = 1
    no_deadline = RequestWatch("run 1/1 of app")
    no_deadline.lines = 1
    assert in_flight_text(Progress("app", "run", 1, 1, request=no_deadline), no_deadline, 5) == (
        "app: run 1/1 in flight for 5 s, 1 line received"
    )


def test_in_ci_logs_only_finished_requests_are_lines():
    stream = io.StringIO()
    line = ProgressLine(stream, in_flight_after_s=None)
    line(Progress("short", "run", 1, 2, request=RequestWatch("run 1/2 of short", 600.0)))
    line(Progress("short", "done", 2, 2))
    line.close()
    assert stream.getvalue() == "short: 2 runs done\n"


def test_interleaved_runs_name_their_round_and_a_warm_up_before_a_run_says_so():
    measured = Sample.model_validate({**SAMPLE, "ttft_ms": 21.04})
    stream = io.StringIO()
    line = ProgressLine(stream, in_flight_after_s=None)
    line(Progress("prefill", "run", 2, 5, measured, round_index=2, rounds=5))
    line(Progress("short", "run", 3, 5, measured))
    line.close()
    assert stream.getvalue() == "round 2/5 · prefill: run 2/5  ttft 21.0 ms\nshort: run 3/5  ttft 21.0 ms\n"
    watch = RequestWatch("the warm-up before run 2/5 of short", 600.0)
    rewarm = Progress("short", "rewarm", 2, 5, request=watch, round_index=2, rounds=5)
    assert request_text(rewarm) == "round 2/5 · short: warm-up before run 2/5"
    assert in_flight_text(rewarm, watch, 6.0) == (
        "round 2/5 · short: warm-up before run 2/5 in flight for 6 s, 0 lines received (deadline 600 s)"
    )


def test_the_estimate_of_what_is_left_comes_from_the_runs_so_far():
    from perfgate.commands.progress import Estimate, left_text  # noqa: PLC0415 -- the names under test

    now = [100.0]
    estimate = Estimate(clock=lambda: now[0])
    sample = Sample.model_validate(SAMPLE)
    assert estimate.left_s(Progress("short", "run", 1, 5, sample=sample)) is None  # nothing to go by yet
    now[0] = 104.0
    assert estimate.left_s(Progress("short", "run", 2, 5, sample=sample)) == 12.0  # 4 s a run, 3 runs to go
    assert estimate.left_s(Progress("short", "warmup", 1, 1)) is None
    now[0] = 112.0
    assert estimate.left_s(Progress("short", "run", 5, 5, sample=sample)) is None  # the last one: nothing left
    assert left_text(12.0) == "~12 s left"
    assert left_text(300.0) == "~5 min left"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_steps_are_shown_on_a_terminal_and_not_in_a_log():
    log = io.StringIO()
    ProgressLine(log, in_flight_after_s=None).stage("starting the simulated runtime")
    assert log.getvalue() == ""
    terminal = _Terminal()
    ProgressLine(terminal, in_flight_after_s=None).stage("starting the simulated runtime")
    assert terminal.getvalue() == "\r\x1b[Kstarting the simulated runtime\n"
