"""The measuring clock: ``perf_counter_ns``, and at each reading how long the thread had waited for a CPU.

A clock reading is late by however long its thread sat runnable but not
running before it read the clock. Linux keeps that per thread
(``/proc/thread-self/schedstat``, second field, nanoseconds; present whenever
the kernel has ``CONFIG_SCHED_INFO``, as distribution kernels do), so the
clients' clock notes it next to every reading (one ``pread``, about 1.5 µs).
The wait between two readings bounds how late the second is relative to the
first: between "sent" and the first content for TTFT, between the first and
the last content for the decode rate. macOS has no such counter for a thread;
there the waits are None and ``measure.samples.timing_suspect`` falls back on
the stream's own evidence.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from perfgate.contracts.results import StreamObservation

SCHEDSTAT = Path("/proc/thread-self/schedstat")


@dataclass(frozen=True)
class CpuWaits:
    """How long the measuring thread waited for a CPU within one request, in milliseconds."""

    total_ms: float  # from "sent" to the end of the stream
    ttft_ms: float | None  # from "sent" to the first content
    decode_ms: float | None  # from the first content to the last


class WaitClock:
    """A ``Clock`` (call it for nanoseconds) that keeps each reading's run-queue wait, until ``reset()``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or SCHEDSTAT
        self._fd: int | None = None
        self._thread: int | None = None
        self._broken = False
        self._readings: list[int] = []
        self._waits: list[int] = []

    def __call__(self) -> int:
        now = time.perf_counter_ns()
        wait = self._wait_ns()
        if wait is not None:
            self._readings.append(now)
            self._waits.append(wait)
        return now

    def reset(self) -> None:
        """Forget the readings so far (before each measured request)."""
        self._readings.clear()
        self._waits.clear()

    def waits(self, obs: StreamObservation) -> CpuWaits | None:
        """The waits within ``obs``'s request, or None where the OS does not say."""
        sent, done = self._at(obs.sent_ns), self._at(obs.done_ns)
        if sent is None or done is None:
            return None
        first = self._at(obs.first_content_ns)
        last = self._at(obs.last_content_ns)
        return CpuWaits(
            total_ms=(done - sent) / 1e6,
            ttft_ms=None if first is None else (first - sent) / 1e6,
            decode_ms=None if first is None or last is None else (last - first) / 1e6,
        )

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _at(self, reading: int | None) -> int | None:
        if reading is None:
            return None
        index = bisect.bisect_left(self._readings, reading)
        if index < len(self._readings) and self._readings[index] == reading:
            return self._waits[index]
        return None

    def _wait_ns(self) -> int | None:
        if self._broken:
            return None
        thread = threading.get_ident()
        try:
            if self._fd is None or self._thread != thread:  # thread-self is resolved when opened
                self.close()
                self._fd = os.open(self.path, os.O_RDONLY)
                self._thread = thread
            return int(os.pread(self._fd, 128, 0).split()[1])
        except (OSError, IndexError, ValueError):
            self._broken = True  # no such counter here: stop trying
            self.close()
            return None
