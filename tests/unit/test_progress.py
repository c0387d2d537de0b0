"""The progress line: each request as it happens, and a note for a request still in flight."""

from __future__ import annotations

import io

from perfgate.commands.progress import ProgressLine, in_flight_text
from perfgate.measure.harness import Progress
from perfgate.runtimes.deadline import RequestWatch


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
