"""A process tree's members and their resident memory, read without scanning every process on the machine.

psutil's ``children(recursive=True)`` builds a parent map of *every* process
on each call (Linux: one ``/proc/<pid>/stat`` read per process; macOS: one
sysctl per process): about 2 ms of CPU at 75 processes, 12–36 ms on a
logged-in Mac, spent in the sampler's thread while the measuring thread may be
waiting for the GIL to stamp a token. The kernel already keeps each process's
children, so the tree is walked from its root instead:

- Linux: ``/proc/<pid>/task/<tid>/children``, one file per thread because a
  child belongs to the thread that forked it (kernel option
  CONFIG_PROC_CHILDREN, on in mainstream distribution kernels);
- macOS: libproc's ``proc_listchildpids``, one call per member;
- anywhere else, or when the OS listing fails: psutil's scan.

Each function here raises psutil's own ``NoSuchProcess`` / ``AccessDenied``
for a process that has gone or cannot be read, so the sampler handles every
method alike. Listing how often is ``treewatch.TreeWatch``'s business.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import psutil

from perfgate.measure.footprint import LIBPROC_PATH

ChildrenOf = Callable[[int], list[int]]
"""Direct children of a pid, zombies included.

Raises NoSuchProcess when the pid has gone, ListingFailed when the method does not work here.
"""


class ListingFailed(Exception):
    """The OS's child listing does not work here (a kernel without it, a sandbox): use psutil's scan instead.

    Internal to the measure layer: TreeLister catches it and falls back, so it
    never reaches a user.
    """


# --------------------------------------------------------------------------- Linux: /proc/<pid>/task/<tid>/children

PROC = "/proc"


def _read_small(path: str, pid: int) -> bytes:
    """One /proc file's content, in psutil's exception vocabulary."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError as exc:
        raise psutil.NoSuchProcess(pid) from exc
    except PermissionError as exc:  # /proc mounted with hidepid
        raise psutil.AccessDenied(pid) from exc
    try:
        chunks = []
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    except ProcessLookupError as exc:  # ended between open and read
        raise psutil.NoSuchProcess(pid) from exc
    finally:
        os.close(fd)
    return b"".join(chunks)


def proc_children_supported(proc: str = PROC) -> bool:
    """Whether this kernel has the per-thread children files (CONFIG_PROC_CHILDREN)."""
    return Path(f"{proc}/{os.getpid()}/task/{threading.get_native_id()}/children").exists()


def proc_children(pid: int, proc: str = PROC) -> list[int]:
    """Direct children of ``pid`` from ``/proc/<pid>/task/*/children``."""
    try:
        tids = os.listdir(f"{proc}/{pid}/task")  # noqa: PTH208 -- a sampler tick: names as str, no Path objects
    except FileNotFoundError as exc:
        raise psutil.NoSuchProcess(pid) from exc
    except PermissionError as exc:
        raise psutil.AccessDenied(pid) from exc
    children: list[int] = []
    for tid in tids:
        try:
            content = _read_small(f"{proc}/{pid}/task/{tid}/children", pid)
        except psutil.NoSuchProcess:
            # That thread ended after the directory listing; its children
            # moved to another thread of the process and are seen at the next
            # listing (the tree is re-listed every few ticks anyway).
            continue
        children += [int(field) for field in content.split()]
    return children


class StatmRss:
    """Resident set size from ``/proc/<pid>/statm`` (what psutil's ``memory_info().rss`` reads, at half the cost)."""

    def __init__(self, proc: str = PROC, page_size: int | None = None) -> None:
        self._proc = proc
        self._page = page_size if page_size is not None else os.sysconf("SC_PAGE_SIZE")

    def __call__(self, pid: int) -> int | None:
        fields = _read_small(f"{self._proc}/{pid}/statm", pid).split()
        if len(fields) < 2:
            raise psutil.NoSuchProcess(pid)  # never seen; an unreadable file is not 0 bytes
        # A zombie has no address space left: statm reads all zeros. No live
        # user process has nothing resident, so 0 means "holds no memory now".
        return int(fields[1]) * self._page or None

    def forget(self, pid: int) -> None:
        """Nothing kept per pid."""


# --------------------------------------------------------------------------- macOS: libproc proc_listchildpids

ProcListChildPids = Callable[[int, int, int], int]
"""``proc_listchildpids(ppid, buffer_address, buffer_bytes)`` as libproc exports it: the number of pids written."""

_FIRST_CAPACITY = 64  # pids; most processes have a handful of children
_MAX_CAPACITY = 1 << 16


class LibprocChildren:
    """Direct children through ``proc_listchildpids``: one kernel call that filters the process list by parent.

    libproc returns the pid *count* (its ``proc_listpids`` returns bytes and
    ``proc_listchildpids`` divides by ``sizeof(int)``), 0 with ``errno`` set
    on failure, and never more than fit: a full buffer is retried larger. A
    parent that does not exist simply has no children (the kernel only
    filters), so a gone root is noticed by the caller's own check.
    """

    def __init__(
        self,
        func: ProcListChildPids,
        *,
        get_errno: Callable[[], int] = ctypes.get_errno,
        set_errno: Callable[[int], int] = ctypes.set_errno,
    ) -> None:
        self._func = func
        self._get_errno = get_errno
        self._set_errno = set_errno
        self._capacity = _FIRST_CAPACITY

    def __call__(self, pid: int) -> list[int]:
        while True:
            buffer = (ctypes.c_int * self._capacity)()
            self._set_errno(0)
            count = self._func(pid, ctypes.addressof(buffer), ctypes.sizeof(buffer))
            if count < 0 or (count == 0 and self._get_errno() != 0):
                raise ListingFailed(f"proc_listchildpids({pid}) failed: {os.strerror(self._get_errno())}")
            if count < self._capacity:
                return list(buffer[:count])
            if self._capacity >= _MAX_CAPACITY:
                raise ListingFailed(f"proc_listchildpids({pid}) returned {count}+ children")
            self._capacity *= 2  # a full buffer may have been cut short: ask again with room to spare


def load_proc_listchildpids() -> ProcListChildPids | None:
    # Only macOS has libproc; elsewhere there is nothing to load (see footprint.py).
    if sys.platform != "darwin":
        return None
    try:
        libproc = ctypes.CDLL(LIBPROC_PATH, use_errno=True)
        func = libproc.proc_listchildpids
    except (OSError, AttributeError):
        return None
    func.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
    func.restype = ctypes.c_int
    lister: ProcListChildPids = func
    return lister


class PsutilRss:
    """Resident set size through psutil (macOS, and anywhere without /proc); one Process object kept per pid."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def __call__(self, pid: int) -> int | None:
        proc = self._procs.get(pid)
        if proc is None:
            proc = self._procs[pid] = psutil.Process(pid)  # NoSuchProcess when it has gone
        try:
            rss = proc.memory_info().rss
        except psutil.ZombieProcess:
            rss = 0
        except psutil.NoSuchProcess:
            self._procs.pop(pid, None)
            raise
        if not rss:
            self._procs.pop(pid, None)
            return None  # a zombie: holds no memory now
        return int(rss)

    def forget(self, pid: int) -> None:
        """Drop the Process object of a pid that left the tree."""
        self._procs.pop(pid, None)


# --------------------------------------------------------------------------- the tree


class RssReader(Protocol):
    """Bytes resident for a pid; None for a zombie; NoSuchProcess / AccessDenied when gone / unreadable."""

    def __call__(self, pid: int) -> int | None: ...
    def forget(self, pid: int) -> None: ...


def default_rss_reader() -> RssReader:
    """statm on Linux, psutil elsewhere."""
    return StatmRss() if sys.platform.startswith("linux") and Path(PROC).is_dir() else PsutilRss()


def walk(root: int, children_of: ChildrenOf) -> list[int]:
    """Every descendant of ``root``, breadth first, each once; NoSuchProcess only when the root itself has gone."""
    found: list[int] = []
    seen = {root}
    queue = deque([root])
    while queue:
        pid = queue.popleft()
        try:
            children = children_of(pid)
        except psutil.NoSuchProcess:
            if pid == root:
                raise
            # Ended during the walk: its children now belong to pid 1 or a
            # subreaper, outside the tree, as psutil's scan would also have it.
            continue
        for child in children:
            if child not in seen:
                seen.add(child)
                found.append(child)
                queue.append(child)
    return found


def psutil_descendants(root: int) -> list[int]:
    """psutil's scan of every process: the fallback."""
    return [proc.pid for proc in psutil.Process(root).children(recursive=True)]


class TreeLister:
    """Lists a process's descendants with the OS's child listing, falling back to psutil's scan for good if it fails."""

    def __init__(
        self, children_of: ChildrenOf | None, method: str, *, fallback: Callable[[int], list[int]] = psutil_descendants
    ) -> None:
        self._children_of = children_of
        self._fallback = fallback
        self.method = method if children_of is not None else "psutil"
        self.fallback_reason: str | None = None

    def __call__(self, root: int) -> list[int]:
        if self._children_of is not None:
            try:
                return walk(root, self._children_of)
            except ListingFailed as exc:
                # A listing that fails once (sandbox, kernel) fails every time:
                # stop paying for it on each tick.
                self._children_of, self.method, self.fallback_reason = None, "psutil", str(exc)
        return self._fallback(root)


def default_tree_lister() -> TreeLister:
    """The cheapest listing this machine has: /proc children on Linux, libproc on macOS, else psutil."""
    if sys.platform.startswith("linux") and proc_children_supported():
        return TreeLister(proc_children, "proc-children")
    func = load_proc_listchildpids()
    if func is not None:
        return TreeLister(LibprocChildren(func), "libproc")
    return TreeLister(None, "psutil")
