"""A one-line progress indicator for long runs: redrawn in place on a TTY, plain lines in CI logs.

A request that is still in flight after a few seconds gets a line of its own,
every few seconds, saying how long it has run and how many lines it has
received (a stalled runtime receives none; a trickling one a few): a slow
runtime no longer looks like a hung perfgate. That line is written by a
watcher thread that wakes only at those times, never per token; the count it
reads is the one the stream reader keeps (``runtimes.deadline.RequestWatch``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

from perfgate.measure.harness import Progress
from perfgate.runtimes.deadline import RequestWatch

IN_FLIGHT_AFTER_S = 5.0  # first note after this long, then one every as long again


def request_text(event: Progress) -> str:
    """Which request: ``short: run 3/5``, ``round 2/5 · prefill: run 2/5``.

    The round is shown only when several scenarios are measured round by round; the warm-up
    a warm prompt gets right before each of its runs there is ``short: warm-up before run 2/5``.
    """
    if event.phase == "rewarm":
        what = f"warm-up before run {event.index}/{event.total}"
    else:
        what = f"{event.phase} {event.index}/{event.total}"
    shown_round = f"round {event.round_index}/{event.rounds} · " if event.round_index is not None else ""
    return f"{shown_round}{event.scenario}: {what}"


def left_text(seconds: float) -> str:
    """``~40 s left``, ``~3 min left``: an estimate, said as one."""
    if seconds < 90:
        return f"~{max(1, round(seconds))} s left"
    return f"~{round(seconds / 60)} min left"


class Estimate:
    """What is left of a run, from how long its measured runs have taken so far (no estimate before two)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started: dict[str, tuple[float, int]] = {}  # per round series or scenario: first time and index seen

    def left_s(self, event: Progress) -> float | None:
        if event.phase != "run" or event.sample is None:
            return None
        key, index, total = (
            ("rounds", event.round_index, event.rounds)
            if event.round_index is not None and event.rounds is not None
            else (event.scenario, event.index, event.total)
        )
        now = self._clock()
        first = self._started.setdefault(key, (now, index))
        done = index - first[1]
        if done < 1 or index >= total:  # nothing to go by yet, or this is the last round or run
            return None
        return (now - first[0]) / done * (total - index)


def in_flight_text(event: Progress, watch: RequestWatch, elapsed_s: float) -> str:
    """``short: run 3/5 in flight for 10 s, 12 lines received (deadline 600 s)``."""
    received = f"{watch.lines} line{'s' if watch.lines != 1 else ''} received"
    deadline = f" (deadline {watch.limit_s:.0f} s)" if watch.limit_s is not None else ""
    return f"{request_text(event)} in flight for {elapsed_s:.0f} s, {received}{deadline}"


class ProgressLine:
    """Shows each warm-up and measured request as it happens, on stderr; :meth:`close` when the run ends."""

    def __init__(self, stream: TextIO, *, in_flight_after_s: float | None = IN_FLIGHT_AFTER_S) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.in_flight_after_s = in_flight_after_s  # None: no in-flight notes (and no thread)
        self._wake = threading.Condition()
        self._in_flight: tuple[Progress, RequestWatch] | None = None
        self._notes = 0  # in-flight notes written for the current request
        self._closed = False
        self._watcher: threading.Thread | None = None
        self._estimate = Estimate()

    def stage(self, text: str) -> None:
        """A step before or between the runs (starting a server, a sequential look), on a terminal only."""
        if not self.tty:
            return
        with self._wake:
            self.stream.write(f"\r\x1b[K{text}\n")
            self.stream.flush()

    def __call__(self, event: Progress) -> None:
        with self._wake:
            self._in_flight = (event, event.request) if event.request is not None else None
            self._notes = 0
            self._write(event)
            if self._in_flight is not None and self._watcher is None and self.in_flight_after_s is not None:
                self._watcher = threading.Thread(target=self._watch, name="perfgate-progress", daemon=True)
                self._watcher.start()

    def _write(self, event: Progress) -> None:
        prefix = "\r\x1b[K" if self.tty else ""
        if event.phase == "done":
            self.stream.write(f"{prefix}{event.scenario}: {event.total} runs done\n")
        elif event.sample is not None or self.tty:
            detail = ""
            if event.sample is not None and event.sample.ttft_ms is not None:
                detail = f"  ttft {event.sample.ttft_ms:.1f} ms"
            if event.sample is not None and event.sample.app_wall_ms is not None:
                detail += f"  app {event.sample.app_wall_ms:.0f} ms"
            left = self._estimate.left_s(event)
            if left is not None and self.tty:  # a CI log keeps one plain line per run
                detail += f"  · {left_text(left)}"
            end = "" if self.tty else "\n"
            self.stream.write(f"{prefix}{request_text(event)}{detail}{end}")
        self.stream.flush()

    def _watch(self) -> None:
        """The watcher thread: sleeps until the current request's next note is due (no wake-ups per request)."""
        every = self.in_flight_after_s or IN_FLIGHT_AFTER_S
        with self._wake:
            while not self._closed:
                current = self._in_flight
                if current is None:
                    self._wake.wait(every)
                    continue
                event, watch = current
                due = watch.started + every * (self._notes + 1)
                left = due - time.monotonic()
                if left > 0:
                    self._wake.wait(min(left, every))
                    continue
                self._notes += 1
                end = "" if self.tty else "\n"
                prefix = "\r\x1b[K" if self.tty else ""
                self.stream.write(f"{prefix}{in_flight_text(event, watch, time.monotonic() - watch.started)}{end}")
                self.stream.flush()

    def close(self) -> None:
        """Stop the in-flight notes (the run ended, however it ended)."""
        with self._wake:
            self._closed = True
            self._in_flight = None
            self._wake.notify_all()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
