"""Whole-request and whole-run deadlines: no request, and no run, waits without end.

httpx's read timeout bounds each socket read, not a request: a runtime that
trickles one token a second never trips a 1.5 s read timeout and held one
request for 63 s; one that degrades to 0.01 tok/s would hold CI for hours. So
every request the harness makes runs under a :class:`RequestWatch` (via
:func:`watching`) whose deadline is enforced twice:

- each line's clock reading, which the stream reader takes anyway, is compared
  with it (one integer comparison per line: the per-token path stays cheap);
- a timer (``SIGALRM``, main thread only) raises :class:`RuntimeTimeout` in a
  read that blocks past it -- a stalled or byte-trickling stream that delivers
  no line.

:class:`RunLimits` turns the settings (``runtime.request_timeout_s``,
``runtime.run_timeout_s``) into one watch per request: the nearer of the
request's own deadline and what is left of the run's.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from perfgate.config import PerfgateConfig
from perfgate.errors import RuntimeTimeout

# A timer that fired into code that swallowed its exception fires again this often until the request ends.
_REFIRE_S = 1.0


class RequestWatch:
    """One request in flight: its deadline, and how many lines it has received (the progress line reads them)."""

    __slots__ = ("deadline_ns", "deadline_text", "limit_s", "lines", "started", "what")

    def __init__(self, what: str, limit_s: float | None = None, deadline_text: str = "") -> None:
        self.what = what  # "run 3/5 of short"
        self.limit_s = limit_s
        self.deadline_text = deadline_text  # "its 30 s deadline (runtime.request_timeout_s, --request-timeout)"
        self.lines = 0
        self.started = time.monotonic()
        self.deadline_ns = sys.maxsize  # on the client's clock; set when the request is first sent

    def sent(self, now_ns: int) -> None:
        """The request is going out at ``now_ns`` (client clock); its deadline counts from the first send."""
        if self.limit_s is not None and self.deadline_ns == sys.maxsize:
            self.deadline_ns = now_ns + int(self.limit_s * 1e9)

    def exceeded(self) -> RuntimeTimeout:
        received = f"{self.lines} line{'s' if self.lines != 1 else ''} received"
        return RuntimeTimeout(
            f"timed out: {self.what} did not finish within {self.deadline_text} ({received}); "
            "what was measured before it is kept"
        )


_UNWATCHED = RequestWatch("a request")  # requests made outside watching(): no deadline, lines counted nowhere
_current: ContextVar[RequestWatch] = ContextVar("perfgate_request_watch", default=_UNWATCHED)


def current_watch() -> RequestWatch:
    """The watch of the request being made in this context (a no-deadline stand-in outside :func:`watching`)."""
    return _current.get()


@contextmanager
def watching(watch: RequestWatch) -> Iterator[RequestWatch]:
    """Make the requests inside the block under ``watch``'s deadline."""
    token = _current.set(watch)
    alarm = _Alarm(watch) if watch.limit_s is not None else None
    try:
        yield watch
    finally:
        if alarm is not None:
            alarm.cancel()
        _current.reset(token)


class _Alarm:
    """``SIGALRM`` at the watch's deadline raises its timeout in the main thread, wherever it is blocked.

    A no-op outside the main thread (signal handlers run only there): the per-line
    check still holds there. The previous handler and timer are put back.
    """

    def __init__(self, watch: RequestWatch) -> None:
        self.watch: RequestWatch | None = None
        self.previous: Any = None
        self.previous_timer = (0.0, 0.0)
        self.armed_at = time.monotonic()
        if threading.current_thread() is not threading.main_thread() or watch.limit_s is None:
            return
        self.previous = signal.signal(signal.SIGALRM, self._fire)
        self.watch = watch
        self.previous_timer = signal.setitimer(signal.ITIMER_REAL, max(watch.limit_s, 1e-6), _REFIRE_S)

    def _fire(self, _signum: int, _frame: FrameType | None) -> None:
        watch = self.watch
        if watch is not None:
            raise watch.exceeded()

    def cancel(self) -> None:
        if self.watch is None:
            return
        self.watch = None  # first: a signal from here on is ignored by _fire
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
        delay, interval = self.previous_timer
        if delay > 0:  # someone else's timer was running: let it go on
            left = delay - (time.monotonic() - self.armed_at)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), interval)


@dataclass
class RunLimits:
    """The run's deadlines: each request's own (``runtime.request_timeout_s``) and the run's (``run_timeout_s``)."""

    request_timeout_s: float | None = None
    run_timeout_s: float | None = None
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()

    @classmethod
    def from_config(cls, config: PerfgateConfig, clock: Callable[[], float] = time.monotonic) -> RunLimits:
        return cls(config.runtime.request_timeout_s, config.runtime.run_timeout_s, clock)

    def run_left_s(self) -> float | None:
        return None if self.run_timeout_s is None else self.run_timeout_s - (self.clock() - self.started)

    def watch(self, what: str, *, request: bool = True) -> RequestWatch:
        """The watch for one request (``request=False``: an app's run, which has its own timeout).

        Raises :class:`RuntimeTimeout` when the run's deadline has already passed.
        """
        left = self.run_left_s()
        if left is not None and left <= 0:
            raise RuntimeTimeout(
                f"timed out: the run's {self.run_timeout_s:g} s deadline (runtime.run_timeout_s, --run-timeout) "
                f"passed before {what}; what was measured before it is kept"
            )
        own = self.request_timeout_s if request else None
        if left is not None and (own is None or left < own):
            text = f"the run's {self.run_timeout_s:g} s deadline (runtime.run_timeout_s, --run-timeout)"
            return RequestWatch(what, left, text)
        if own is None:
            return RequestWatch(what)
        text = f"its {own:g} s whole-request deadline (runtime.request_timeout_s, --request-timeout)"
        return RequestWatch(what, own, text)
