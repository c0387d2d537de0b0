"""One process tree followed across the sampler's ticks: listed every few ticks, its members read on every tick.

Reading a known member's memory is one small file (Linux) or one kernel call
(macOS); listing the tree costs one read per thread of every member (Linux)
or one call per member (macOS), and psutil's fallback scan costs one read per
process on the machine. So the tree is listed only when it may have changed:

- on the first tick, and again one tick after a listing that found a change;
- after a listing that found the same members as the one before, the gap to
  the next listing doubles, up to ``max_gap`` ticks (the sampler sets that
  from ``RELIST_BOUND_S``: 0.5 s, i.e. 10 ticks at the default 50 ms);
- at once, in the same tick, when a member is found gone or a zombie (its
  children, if any, have left the tree: the sum must not keep them).

The bound: a process that joins the tree is counted within ``max_gap`` ticks
(0.5 s) of appearing; while the tree is changing (a launcher starting its
app, a server starting its model runner) within one or two ticks, because
every change resets the gap. A member that ends stops being counted in the
tick that finds it gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import psutil

from perfgate.measure.proctree import RssReader, TreeLister

RELIST_BOUND_S = 0.5
"""A process that joins a watched tree is counted within this long (rounded to whole ticks)."""

T = TypeVar("T")


def max_gap_ticks(interval_s: float) -> int:
    """Ticks between listings of an unchanging tree, so a new member waits at most ``RELIST_BOUND_S``."""
    return max(1, int(RELIST_BOUND_S / interval_s + 1e-9))


class Root(Protocol):
    """The tree's root as psutil.Process offers it (a fake in unit tests)."""

    @property
    def pid(self) -> int: ...
    def is_running(self) -> bool: ...
    def status(self) -> str: ...


class TreeWatch:
    """A root process and its descendants; ``read`` gives this tick's reading of each live member."""

    def __init__(self, root: Root, *, lister: TreeLister, rss: RssReader, max_gap: int) -> None:
        if max_gap < 1:
            raise ValueError("max_gap must be at least 1")
        self.root = root
        self.rss = rss
        self._lister = lister
        self._max_gap = max_gap
        self._members: tuple[int, ...] | None = None
        self._zombies: set[int] = set()
        self._ticks = 0
        self._gap = 1
        self._next_listing = 0
        self.listings = 0  # how many times the tree was listed (the benchmark reports it)

    def read(self, read_one: Callable[[int], T | None]) -> list[tuple[int, T]]:
        """``read_one`` of every live member, root first, listing the tree first when due.

        ``read_one`` returns None for a zombie (it holds no memory) and raises
        ``NoSuchProcess`` for a process that has gone. Raises ``NoSuchProcess``
        when the root has exited (or is a zombie) and ``AccessDenied`` when the
        root cannot be listed or a member cannot be read.
        """
        listed = False
        if self._members is None or self._ticks >= self._next_listing:
            self._list()
            listed = True
        self._ticks += 1
        while True:
            readings, lost = self._read_members(read_one)
            if not lost:
                return readings
            if listed:
                if self.root.pid in lost:
                    raise psutil.NoSuchProcess(self.root.pid)  # ended since this tick's listing
                self._next_listing = self._ticks  # list again next tick, not one listing per read
                return readings
            self._list()  # something ended: its children (if any) are no longer in the tree
            listed = True

    def _read_members(self, read_one: Callable[[int], T | None]) -> tuple[list[tuple[int, T]], set[int]]:
        assert self._members is not None  # listed before the first read
        readings: list[tuple[int, T]] = []
        lost: set[int] = set()
        for pid in self._members:
            if pid in self._zombies:
                continue
            try:
                value = read_one(pid)
            except psutil.NoSuchProcess:  # ZombieProcess included
                value = None
            if value is None:
                lost.add(pid)
                if pid != self.root.pid:  # the root is checked by the listing instead
                    self._zombies.add(pid)  # gone or a zombie: skipped until a listing drops it
                    self.rss.forget(pid)
                continue
            readings.append((pid, value))
        return readings, lost

    def _list(self) -> None:
        root = self.root
        if not root.is_running() or root.status() == psutil.STATUS_ZOMBIE:
            # is_running() also compares the creation time, so a recycled PID
            # is not taken for the runtime. A zombie holds no memory.
            raise psutil.NoSuchProcess(root.pid)
        members = (root.pid, *self._lister(root.pid))
        self.listings += 1
        # A zombie stays listed until its parent reaps it; it is skipped
        # without listing again on every tick. A pid that is no longer
        # listed is forgotten (if it comes back, it is a new process).
        self._zombies &= set(members)
        changed = self._members is None or set(members) != set(self._members)
        for pid in set(self._members or ()) - set(members):
            self.rss.forget(pid)
        self._members = members
        self._gap = 1 if changed else min(self._gap * 2, self._max_gap)
        self._next_listing = self._ticks + self._gap
