"""Listing a process tree and reading memory without psutil's whole-machine scan, on fakes.

The Linux readers read a fake /proc built in ``tmp_path``; the macOS lister
gets an injected ``proc_listchildpids`` that writes into the caller's buffer
as the kernel does. The same code over real processes is in
tests/integration/test_memory_sampler.py.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from pathlib import Path

import psutil
import pytest

from perfgate.measure.proctree import (
    LibprocChildren,
    ListingFailed,
    PsutilRss,
    StatmRss,
    TreeLister,
    proc_children,
    proc_children_supported,
    walk,
)

PAGE = 4096


def fake_proc(root: Path, tasks: dict[int, dict[int, list[int] | None]]) -> str:
    """A /proc with ``tasks[pid][tid]`` children files (None: the thread has no children file)."""
    for pid, threads in tasks.items():
        for tid, children in threads.items():
            task = root / str(pid) / "task" / str(tid)
            task.mkdir(parents=True)
            if children is not None:
                (task / "children").write_text("".join(f"{child} " for child in children), encoding="ascii")
    return str(root)


# --------------------------------------------------------------------------- Linux /proc


def test_proc_children_reads_every_thread_of_the_process(tmp_path: Path) -> None:
    # A Go server forks from whichever thread runs: children hang off several threads.
    proc = fake_proc(tmp_path, {10: {10: [11], 12: [], 13: [14, 15]}})
    assert sorted(proc_children(10, proc)) == [11, 14, 15]


def test_proc_children_of_a_gone_process_raises_no_such_process(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {10: {10: []}})
    with pytest.raises(psutil.NoSuchProcess):
        proc_children(99, proc)


def test_a_thread_that_ended_during_the_listing_is_skipped(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {10: {10: [11], 12: None}})  # task/12 listed, its children file gone
    assert proc_children(10, proc) == [11]


def test_support_is_probed_from_this_process_own_thread(tmp_path: Path) -> None:
    assert proc_children_supported(str(tmp_path)) is False
    fake_proc(tmp_path, {os.getpid(): {threading.get_native_id(): []}})
    assert proc_children_supported(str(tmp_path)) is True


def test_statm_rss_is_resident_pages_times_page_size(tmp_path: Path) -> None:
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "statm").write_text("5000 1234 300 10 0 900 0\n", encoding="ascii")
    assert StatmRss(str(tmp_path), page_size=PAGE)(7) == 1234 * PAGE


def test_statm_of_a_zombie_is_none_and_of_a_gone_process_raises(tmp_path: Path) -> None:
    (tmp_path / "8").mkdir()
    (tmp_path / "8" / "statm").write_text("0 0 0 0 0 0 0\n", encoding="ascii")
    reader = StatmRss(str(tmp_path), page_size=PAGE)
    assert reader(8) is None
    with pytest.raises(psutil.NoSuchProcess):
        reader(9)


def test_statm_rss_equals_psutil_memory_info_for_this_process() -> None:
    if not Path(f"/proc/{os.getpid()}/statm").exists():
        pytest.skip("no /proc on this platform")
    # Same file, same arithmetic: the two may differ only by what moved in between.
    assert StatmRss()(os.getpid()) == pytest.approx(psutil.Process().memory_info().rss, abs=4 * 2**20)


def test_psutil_rss_reads_this_process() -> None:
    reader = PsutilRss()
    rss = reader(os.getpid())
    assert rss is not None
    assert rss > 2**20
    reader.forget(os.getpid())


# --------------------------------------------------------------------------- macOS libproc (injected)


class FakeListChildPids:
    """``proc_listchildpids`` as libproc behaves: writes at most what fits, returns the count."""

    def __init__(self, children: dict[int, list[int]], *, fail_errno: int = 0) -> None:
        self.children = children
        self.fail_errno = fail_errno
        self.sizes: list[int] = []

    def __call__(self, ppid: int, address: int, size: int) -> int:
        self.sizes.append(size)
        if self.fail_errno:
            ctypes.set_errno(self.fail_errno)
            return 0
        pids = self.children.get(ppid, [])[: size // ctypes.sizeof(ctypes.c_int)]
        for index, pid in enumerate(pids):
            ctypes.c_int.from_address(address + index * ctypes.sizeof(ctypes.c_int)).value = pid
        return len(pids)


def test_libproc_children_reads_the_pids_the_call_wrote() -> None:
    fake = FakeListChildPids({100: [101, 102]})
    assert LibprocChildren(fake)(100) == [101, 102]
    assert LibprocChildren(fake)(555) == []  # no such parent: the kernel filters, so no children
    assert fake.sizes[0] == 64 * ctypes.sizeof(ctypes.c_int)


def test_libproc_children_retries_with_a_larger_buffer_when_it_was_full() -> None:
    many = list(range(1000, 1100))  # more than the first buffer holds
    fake = FakeListChildPids({1: many})
    assert LibprocChildren(fake)(1) == many
    assert fake.sizes == [64 * 4, 128 * 4]


def test_libproc_failure_is_listing_failed_not_no_children() -> None:
    with pytest.raises(ListingFailed, match="proc_listchildpids"):
        LibprocChildren(FakeListChildPids({}, fail_errno=errno.EPERM))(1)
    with pytest.raises(ListingFailed):
        LibprocChildren(lambda _pid, _address, _size: -1)(1)


# --------------------------------------------------------------------------- walking the tree


def children_from(tree: dict[int, list[int]], gone: frozenset[int] = frozenset()) -> TreeLister:
    def children_of(pid: int) -> list[int]:
        if pid in gone:
            raise psutil.NoSuchProcess(pid)
        return tree.get(pid, [])

    return TreeLister(children_of, "fake", fallback=lambda _root: [999])


def test_walk_finds_every_descendant_once() -> None:
    tree = {1: [2, 3], 2: [4], 3: [4, 5], 5: [1]}  # 4 listed twice, a cycle back to the root
    assert walk(1, lambda pid: tree.get(pid, [])) == [2, 3, 4, 5]


def test_walk_skips_a_child_that_ended_but_not_a_gone_root() -> None:
    tree = {1: [2, 3], 2: [6], 3: [7]}
    assert children_from(tree, gone=frozenset({2}))(1) == [2, 3, 7]
    with pytest.raises(psutil.NoSuchProcess):
        children_from(tree, gone=frozenset({1}))(1)


def test_a_listing_that_fails_falls_back_to_psutil_for_good() -> None:
    calls: list[int] = []

    def broken(pid: int) -> list[int]:
        calls.append(pid)
        raise ListingFailed("sandboxed")

    lister = TreeLister(broken, "libproc", fallback=lambda root: [root + 1])
    assert lister.method == "libproc"
    assert lister(10) == [11]
    assert lister(20) == [21]
    assert calls == [10]  # not tried again
    assert lister.method == "psutil"
    assert lister.fallback_reason == "sandboxed"
    assert TreeLister(None, "anything").method == "psutil"
