"""Peak memory of the runtime's whole process tree (and an app command's), sampled in a background thread.

``ollama serve`` keeps the model in a child "runner" process that exists only
while a model is loaded and whose name changed across versions, so the sampler
never matches by name: it starts from the server's PID and follows every
descendant. A runtime that cannot be found is *unavailable with a reason*,
never 0 MB. An app scenario's command is watched the same way (``watch_app``),
in the same tick as the runtime's, so ``peak_combined_rss_mb`` is app +
runtime at one moment.

The sampler shares the process with the measuring thread, so a tick must stay
cheap: each tree is listed with the OS's own child listing (``proctree``) and
only every few ticks, or at once when a member ends (``treewatch``, which
states the bound on how soon a new process is counted); every tick reads the
known members' memory, one small read each.

A runtime of another user (macOS refuses its memory to the runner's user)
is read through the root-owned helper when one is configured
(``memory_helper``): on the first refusal the sampler starts it and reads
its lines from then on, recording the same figures.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import psutil

from perfgate.contracts.results import MemoryPeaks
from perfgate.errors import MemoryUnavailable
from perfgate.measure.footprint import FootprintReader, MacMemory, default_footprint_reader
from perfgate.measure.memory_helper import HelperFailed, HelperReading, HelperSource, HelperStarter
from perfgate.measure.owner import denied_message
from perfgate.measure.proctree import RssReader, TreeLister, default_rss_reader, default_tree_lister
from perfgate.measure.treewatch import TreeWatch, max_gap_ticks

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
    runtime_mac: MacMemory | None  # footprint, resident and wired summed over the tree (macOS)
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
    runtime_resident: int | None = None
    runtime_wired: int | None = None
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
        if tick.runtime_mac is not None:
            self.runtime_footprint = _max(self.runtime_footprint, tick.runtime_mac.footprint)
            self.runtime_resident = _max(self.runtime_resident, tick.runtime_mac.resident)
            self.runtime_wired = _max(self.runtime_wired, tick.runtime_mac.wired)
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
    harness calls it after every measured request. ``tree_lister`` and
    ``rss_reader`` choose how trees are listed and memory read (default: the
    cheapest this machine has; the benchmark and tests pass others).
    ``memory_helper`` reads a runtime of another user (see ``memory_helper.py``).
    """

    def __init__(
        self,
        runtime_pid: int | None,
        *,
        interval_s: float = 0.05,
        harness_pid: int | None = None,
        footprint_reader: FootprintReader | None = None,
        no_runtime_reason: str | None = None,
        tree_lister: TreeLister | None = None,
        rss_reader: Callable[[], RssReader] = default_rss_reader,
        memory_helper: HelperStarter | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.runtime_pid = runtime_pid
        self.interval_s = interval_s
        self._footprint = footprint_reader if footprint_reader is not None else default_footprint_reader()
        self._lister = tree_lister if tree_lister is not None else default_tree_lister()
        self._new_rss_reader = rss_reader
        self._max_gap = max_gap_ticks(interval_s)
        self._harness_pid = os.getpid() if harness_pid is None else harness_pid
        if not psutil.pid_exists(self._harness_pid):
            raise MemoryUnavailable(f"harness process {harness_pid} not found")
        self._harness_rss = rss_reader()
        self._runtime: TreeWatch | None = None
        self._root_reason: str | None = None
        if runtime_pid is None:
            self._root_reason = no_runtime_reason or "no runtime process to sample"
        else:
            try:
                # Kept for the sampler's life so a recycled PID is noticed
                # (psutil compares the creation time) rather than sampled.
                self._runtime = self._watch(psutil.Process(runtime_pid))
            except GONE:
                self._root_reason = f"runtime process {runtime_pid} not found"
        self._denied: str | None = None  # the other-user line, worked out on the first refusal
        self._helper_spec = memory_helper
        self._helper: HelperSource | None = None  # started on the first refusal, when configured
        self._helper_failed: str | None = None  # why it could not start or stopped: not restarted
        self._app: TreeWatch | None = None
        self._app_watched = False
        self._peaks = _Peaks()
        self._peaks_lock = threading.Lock()
        self._sample_lock = threading.Lock()  # window()'s own sample must not interleave with a tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _watch(self, root: psutil.Process) -> TreeWatch:
        return TreeWatch(root, lister=self._lister, rss=self._new_rss_reader(), max_gap=self._max_gap)

    @property
    def listing_method(self) -> str:
        """How process trees are listed here: ``proc-children``, ``libproc`` or ``psutil``."""
        return self._lister.method

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
        with self._sample_lock:
            if self._helper is not None:
                self._helper.close()
                self._helper = None

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
        ticks in which the app was watched. The app's tree is listed on the
        first tick, and its launcher's children are counted as they appear
        (within one or two ticks while the tree is changing; see treewatch).
        """
        app: TreeWatch | None = None
        if pid is not None:
            try:
                app = self._watch(psutil.Process(pid))
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
            raise MemoryUnavailable(f"cannot read the harness's own memory (pid {self._harness_pid})")
        runtime_missing = peaks.runtime_rss is None
        return MemoryPeaks(
            peak_runtime_rss_mb=_mib(peaks.runtime_rss),
            peak_runtime_footprint_mb=None if runtime_missing else _mib(peaks.runtime_footprint),
            peak_runtime_resident_mb=None if runtime_missing else _mib(peaks.runtime_resident),
            peak_runtime_wired_mb=None if runtime_missing else _mib(peaks.runtime_wired),
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
            harness_rss = self._harness_rss(self._harness_pid)
        except (*GONE, *DENIED):
            harness_rss = None
        watch = self._runtime
        if watch is None:
            return _Tick(None, None, harness_rss, (), harness_in_tree=False, reason=self._root_reason)
        rss_total, mac_total, pids, reason = self._measure(watch)
        return _Tick(
            rss_total,
            mac_total,
            harness_rss,
            pids,
            harness_in_tree=self._harness_pid in pids,
            reason=reason,
        )

    def _measure(self, watch: TreeWatch) -> tuple[int | None, MacMemory | None, tuple[int, ...], str | None]:
        if self._helper is not None or self._helper_failed is not None:
            return self._through_helper()
        footprint_of = self._footprint

        def read_one(pid: int) -> tuple[int, MacMemory | None] | None:
            rss = watch.rss(pid)
            if rss is None:
                return None  # a zombie: it holds no memory
            return rss, None if footprint_of is None else footprint_of(pid)

        root = watch.root.pid
        try:
            readings = watch.read(read_one)
        except GONE:
            return None, None, (), f"runtime process {root} exited"
        except DENIED as exc:
            # Leaving an unreadable member out would understate the tree (it
            # may be the model runner), so this tick has no number.
            # macOS refuses another user's process (EPERM): say whose it is, once per sampler.
            pid = getattr(exc, "pid", None) or root
            if self._helper_spec is not None:
                try:
                    self._helper = self._helper_spec.start(root, self.interval_s)
                except HelperFailed as failed:
                    self._helper_failed = str(failed)
                return self._through_helper()
            if self._denied is None:
                self._denied = denied_message(pid)
            return None, None, (), self._denied
        if not readings:
            return None, None, (), "runtime process tree exited"
        rss_total = sum(rss for _pid, (rss, _mac) in readings)
        macs = [mac for _pid, (_rss, mac) in readings]
        # An incomplete sum is not the tree's figure; drop it for this tick.
        mac_total = None
        if footprint_of is not None and all(mac is not None for mac in macs):
            known = [mac for mac in macs if mac is not None]
            mac_total = MacMemory(*(sum(column) for column in zip(*known, strict=True)))
        return rss_total, mac_total, tuple(pid for pid, _reading in readings), None

    def _through_helper(self) -> tuple[int | None, MacMemory | None, tuple[int, ...], str | None]:
        """This tick's figures from the helper; without one (or once it has stopped) the reason there are none."""
        helper = self._helper
        if helper is None:
            return None, None, (), self._helper_failed
        try:
            readings = helper.readings()
        except HelperFailed as failed:
            helper.close()
            self._helper, self._helper_failed = None, str(failed)
            return None, None, (), self._helper_failed
        return (*_peak_of(readings), None)


def _peak_of(readings: list[HelperReading]) -> tuple[int, MacMemory | None, tuple[int, ...]]:
    """One tick from the helper's lines since the last: each figure's largest, every pid seen."""
    rss = max(reading.rss for reading in readings)
    macs = [reading.mac for reading in readings]
    known = [mac for mac in macs if mac is not None]
    mac = MacMemory(*(max(column) for column in zip(*known, strict=True))) if len(known) == len(macs) else None
    pids = sorted({pid for reading in readings for pid in reading.pids})
    return rss, mac, tuple(pids)


def _tree_rss(watch: TreeWatch) -> int | None:
    """Summed RSS of an app's tree this tick; None when it has ended or a member is unreadable.

    (A partial sum would understate the tree.)
    """
    try:
        readings = watch.read(watch.rss)
    except (*GONE, *DENIED):
        return None
    return sum(rss for _pid, rss in readings) if readings else None
