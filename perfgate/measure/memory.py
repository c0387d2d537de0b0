"""Peak memory of the runtime's whole process tree (and an app command's), sampled in a background thread.

``ollama serve`` keeps the model in a child "runner" process that exists only
while a model is loaded and whose name changed across versions, so the sampler
never matches by name: it starts from the server's PID and re-enumerates every
descendant on every tick. A runtime that cannot be found is *unavailable with a
reason*, never 0 MB. An app scenario's command is watched the same way
(``watch_app``): its tree is re-enumerated on every tick, in the same tick as
the runtime's, so ``peak_combined_rss_mb`` is app + runtime at one moment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import psutil

from perfgate.contracts.results import MemoryPeaks
from perfgate.errors import MemoryUnavailable
from perfgate.measure.footprint import FootprintReader, default_footprint_reader

MIB = 2**20


# psutil errors that mean "this one process cannot be read right now"; a
# process tree changes between ticks, so each is handled per process.
GONE = (psutil.NoSuchProcess,)  # ZombieProcess is a subclass


DENIED = (psutil.AccessDenied, PermissionError)


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / MIB, 1)


@dataclass
class _Tick:
    runtime_rss: int | None
    runtime_footprint: int | None
    harness_rss: int | None
    pids: tuple[int, ...]
    harness_in_tree: bool
    reason: str | None
    app_watched: bool = False  # an app command was being watched (combined is then app + runtime)
    app_rss: int | None = None  # its tree's RSS; None once it has exited


@dataclass
class _Peaks:
    runtime_rss: int | None = None
    runtime_footprint: int | None = None
    harness_rss: int | None = None
    combined: int | None = None
    app_rss: int | None = None
    pids: set[int] = field(default_factory=set)
    ticks: int = 0
    reason: str | None = None

    def add(self, tick: _Tick) -> None:
        self.ticks += 1
        self.pids.update(tick.pids)
        self.runtime_rss = _max(self.runtime_rss, tick.runtime_rss)
        self.runtime_footprint = _max(self.runtime_footprint, tick.runtime_footprint)
        self.harness_rss = _max(self.harness_rss, tick.harness_rss)
        self.app_rss = _max(self.app_rss, tick.app_rss)
        if tick.app_watched:
            # The app's memory, not perfgate's: combined is what a user's machine holds.
            if tick.runtime_rss is not None and tick.app_rss is not None:
                self.combined = _max(self.combined, tick.runtime_rss + tick.app_rss)
        elif tick.runtime_rss is not None and tick.harness_rss is not None:
            # If the harness is itself part of the runtime tree (an in-process
            # server), it is already in the tree sum: count it once.
            both = tick.runtime_rss + (0 if tick.harness_in_tree else tick.harness_rss)
            self.combined = _max(self.combined, both)
        if tick.reason is not None:
            self.reason = tick.reason


def _max(current: int | None, new: int | None) -> int | None:
    if new is None:
        return current
    return new if current is None else max(current, new)


class MemorySampler:
    """Keeps running memory peaks of the runtime tree and the harness; ``window()`` hands them out.

    Use as a context manager (or ``start()``/``stop()``). Each ``window()``
    returns the peaks since the previous call and starts a new window, so the
    harness calls it after every measured request.
    """

    def __init__(
        self,
        runtime_pid: int | None,
        *,
        interval_s: float = 0.05,
        harness_pid: int | None = None,
        footprint_reader: FootprintReader | None = None,
        no_runtime_reason: str | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.runtime_pid = runtime_pid
        self.interval_s = interval_s
        self._footprint = footprint_reader if footprint_reader is not None else default_footprint_reader()
        try:
            self._harness = psutil.Process(os.getpid() if harness_pid is None else harness_pid)
        except GONE as exc:
            raise MemoryUnavailable(f"harness process {harness_pid} not found") from exc
        self._root: psutil.Process | None = None
        self._root_reason: str | None = None
        if runtime_pid is None:
            self._root_reason = no_runtime_reason or "no runtime process to sample"
        else:
            try:
                # Kept for the sampler's life so a recycled PID is noticed
                # (psutil compares the creation time) rather than sampled.
                self._root = psutil.Process(runtime_pid)
            except GONE:
                self._root_reason = f"runtime process {runtime_pid} not found"
        self._app: psutil.Process | None = None
        self._app_watched = False
        self._peaks = _Peaks()
        self._peaks_lock = threading.Lock()
        self._sample_lock = threading.Lock()  # window()'s own sample must not interleave with a tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("MemorySampler already started")
        self._thread = threading.Thread(target=self._run, name="perfgate-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    # ----------------------------------------------------------------- sampling

    def watch_app(self, pid: int | None) -> None:
        """Sample this app command's process tree with the runtime's from now on (None: stop).

        Call ``window()`` after starting to watch, so the window holds only
        ticks in which the app was watched.
        """
        app: psutil.Process | None = None
        if pid is not None:
            try:
                app = psutil.Process(pid)
            except GONE:
                app = None  # already ended: watched, but nothing left to read
        with self._sample_lock:
            self._app, self._app_watched = app, pid is not None

    def sample(self) -> None:
        """Take one sample now and fold it into the current window."""
        with self._sample_lock:
            tick = self._read()
        with self._peaks_lock:
            self._peaks.add(tick)

    def window(self) -> MemoryPeaks:
        """Peaks since the previous ``window()`` (or start); resets them."""
        self.sample()  # a window shorter than one interval still gets a tick
        with self._peaks_lock:
            peaks, self._peaks = self._peaks, _Peaks()
        if peaks.harness_rss is None:
            raise MemoryUnavailable(f"cannot read the harness's own memory (pid {self._harness.pid})")
        runtime_missing = peaks.runtime_rss is None
        return MemoryPeaks(
            peak_runtime_rss_mb=_mib(peaks.runtime_rss),
            peak_runtime_footprint_mb=None if runtime_missing else _mib(peaks.runtime_footprint),
            peak_harness_rss_mb=round(peaks.harness_rss / MIB, 1),
            peak_combined_rss_mb=_mib(peaks.combined),
            peak_app_rss_mb=_mib(peaks.app_rss),
            runtime_pids=tuple(sorted(peaks.pids)),
            ticks=peaks.ticks,
            unavailable_reason=(peaks.reason or "runtime memory could not be read") if runtime_missing else None,
        )

    def _read(self) -> _Tick:
        tick = self._read_runtime()
        if self._app_watched:
            tick.app_watched = True
            tick.app_rss = None if self._app is None else _tree_rss(self._app)
        return tick

    def _read_runtime(self) -> _Tick:
        harness_rss: int | None
        try:
            harness_rss = self._harness.memory_info().rss
        except (*GONE, *DENIED):
            harness_rss = None
        if self._root is None:
            return _Tick(None, None, harness_rss, (), harness_in_tree=False, reason=self._root_reason)
        tree = self._tree(self._root)
        if isinstance(tree, str):
            return _Tick(None, None, harness_rss, (), harness_in_tree=False, reason=tree)
        rss_total, footprint_total, pids, reason = self._measure(tree)
        return _Tick(
            rss_total,
            footprint_total,
            harness_rss,
            pids,
            harness_in_tree=self._harness.pid in pids,
            reason=reason,
        )

    def _tree(self, root: psutil.Process) -> list[psutil.Process] | str:
        """The live runtime tree, or why there is none."""
        try:
            if not root.is_running() or root.status() == psutil.STATUS_ZOMBIE:
                # A zombie still has a PID but no memory: reporting its 0 MB would lie.
                return f"runtime process {root.pid} exited"
            children = root.children(recursive=True)
        except GONE:
            return f"runtime process {root.pid} exited"
        except DENIED:
            return f"access denied to runtime process {root.pid} (run perfgate as the runtime's user)"
        return [root, *children]

    def _measure(self, procs: Iterable[psutil.Process]) -> tuple[int | None, int | None, tuple[int, ...], str | None]:
        rss_total = 0
        footprint_total: int | None = 0 if self._footprint is not None else None
        pids: list[int] = []
        for proc in procs:
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                rss = proc.memory_info().rss
            except GONE:
                continue  # left between enumeration and reading: it holds no memory now
            except DENIED:
                # Leaving an unreadable member out would understate the tree
                # (it may be the model runner), so this tick has no number.
                return None, None, (), f"access denied to runtime process {proc.pid} (run perfgate as its user)"
            pids.append(proc.pid)
            rss_total += rss
            if footprint_total is not None and self._footprint is not None:
                footprint = self._footprint(proc.pid)
                # An incomplete footprint sum is not a footprint; drop it for this tick.
                footprint_total = None if footprint is None else footprint_total + footprint
        if not pids:
            return None, None, (), "runtime process tree exited"
        return rss_total, footprint_total, tuple(pids), None


def _tree_rss(root: psutil.Process) -> int | None:
    """Summed RSS of a process and its live descendants, enumerated now; None when it has ended or is unreadable."""
    try:
        procs = [root, *root.children(recursive=True)]
    except (*GONE, *DENIED):
        return None
    total: int | None = None
    for proc in procs:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                total = (total or 0) + proc.memory_info().rss
        except GONE:
            continue  # ended between enumeration and reading: holds no memory now
        except DENIED:
            return None  # a partial sum would understate the tree
    return total
