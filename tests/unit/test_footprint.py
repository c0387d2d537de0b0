"""The macOS memory reader (``proc_pid_rusage``) against a fake libproc that behaves as XNU's does.

The fake writes raw bytes at the offsets of ``struct rusage_info_v4`` in XNU's
``bsd/sys/resource.h`` (16-byte ``ri_uuid``, then 35 ``uint64_t`` fields: 296
bytes; ``ri_wired_size`` at 56, ``ri_resident_size`` at 64,
``ri_phys_footprint`` at 72) into the caller's buffer, and, like
``proc_pid_rusage`` in ``bsd/kern/kern_resource.c`` / libproc, fails with -1
and errno EPERM for a process of another user and ESRCH for one that is gone.
psutil's macOS implementation (``psutil/arch/osx/proc.c``) reads the same
struct through the same call.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys

import pytest

from perfgate.measure.footprint import RUSAGE_INFO_V4, MacFootprintReader, MacMemory, RusageDenied, RusageInfoV4
from perfgate.measure.memory import MemorySampler

V4_SIZE = 296
WIRED_OFFSET, RESIDENT_OFFSET, FOOTPRINT_OFFSET = 56, 64, 72
LIFETIME_MAX_OFFSET = 16 + 28 * 8


class FakeLibproc:
    """A ctypes-compatible stand-in for /usr/lib/libproc.dylib: ``proc_pid_rusage(pid, flavor, buffer)``."""

    def __init__(self, own: dict[int, tuple[int, int, int]], others: set[int]) -> None:
        self.own = own  # pid -> (footprint, resident, wired) of our user's processes
        self.others = others  # pids of another user's processes
        self.calls: list[tuple[int, int]] = []

    def proc_pid_rusage(self, pid: int, flavor: int, buffer: int) -> int:
        self.calls.append((pid, flavor))
        if flavor != RUSAGE_INFO_V4:
            ctypes.set_errno(errno.EINVAL)
            return -1
        if pid in self.others:
            ctypes.set_errno(errno.EPERM)
            return -1
        if pid not in self.own:
            ctypes.set_errno(errno.ESRCH)
            return -1
        footprint, resident, wired = self.own[pid]
        raw = bytearray(V4_SIZE)
        struct.pack_into("<Q", raw, WIRED_OFFSET, wired)
        struct.pack_into("<Q", raw, RESIDENT_OFFSET, resident)
        struct.pack_into("<Q", raw, FOOTPRINT_OFFSET, footprint)
        struct.pack_into("<Q", raw, LIFETIME_MAX_OFFSET, 999_999_999)  # a neighbour that must not be read
        ctypes.memmove(buffer, bytes(raw), V4_SIZE)
        return 0


def test_rusage_info_v4_layout_matches_the_header() -> None:
    assert ctypes.sizeof(RusageInfoV4) == V4_SIZE
    assert RusageInfoV4.ri_wired_size.offset == WIRED_OFFSET
    assert RusageInfoV4.ri_resident_size.offset == RESIDENT_OFFSET
    assert RusageInfoV4.ri_phys_footprint.offset == FOOTPRINT_OFFSET
    assert RusageInfoV4.ri_lifetime_max_phys_footprint.offset == LIFETIME_MAX_OFFSET


def test_one_call_reads_footprint_resident_and_wired_at_their_offsets() -> None:
    libproc = FakeLibproc({4242: (987_654_321, 5_000_000_000, 12_345)}, set())
    reader = MacFootprintReader(libproc.proc_pid_rusage)
    assert reader(4242) == MacMemory(footprint=987_654_321, resident=5_000_000_000, wired=12_345)
    assert libproc.calls == [(4242, RUSAGE_INFO_V4)]
    assert RUSAGE_INFO_V4 == 4


def test_another_users_process_raises_denied_never_zero() -> None:
    reader = MacFootprintReader(FakeLibproc({}, {501}).proc_pid_rusage)
    with pytest.raises(RusageDenied) as caught:
        reader(501)
    assert caught.value.pid == 501
    assert isinstance(caught.value, PermissionError)


def test_a_gone_process_is_none() -> None:
    assert MacFootprintReader(FakeLibproc({}, set()).proc_pid_rusage)(77) is None


@pytest.mark.skipif(sys.platform == "darwin", reason="libproc exists on macOS")
def test_without_libproc_the_reader_is_none() -> None:
    assert MacFootprintReader()(os.getpid()) is None


def test_sampler_sums_the_three_figures_and_names_the_other_user(monkeypatch: pytest.MonkeyPatch) -> None:
    me = os.getpid()
    mib = 2**20
    libproc = FakeLibproc({me: (300 * mib, 900 * mib, 2 * mib)}, set())
    peaks = MemorySampler(me, footprint_reader=MacFootprintReader(libproc.proc_pid_rusage)).window()
    assert (peaks.peak_runtime_footprint_mb, peaks.peak_runtime_resident_mb, peaks.peak_runtime_wired_mb) == (
        300.0,
        900.0,
        2.0,
    )

    # The runtime runs as another user: the sampler says so in one line, and records no figure.
    monkeypatch.setattr("perfgate.measure.owner.process_owner", lambda pid: "ollama")
    monkeypatch.setattr("perfgate.measure.owner.current_user", lambda: "perfrunner")
    denied = MacFootprintReader(FakeLibproc({}, {me}).proc_pid_rusage)
    peaks = MemorySampler(me, footprint_reader=denied).window()
    assert peaks.peak_runtime_rss_mb is None
    assert peaks.peak_runtime_footprint_mb is None
    assert peaks.unavailable_reason == (
        f"runtime PID {me} runs as user ollama, perfgate as perfrunner: memory cannot be read; run the runner as "
        "the runtime's user or the runtime under the runner's user, or set runtime.memory_helper "
        "(perfgate-rusage through sudo) — see docs/ci-setup.md"
    )


@pytest.mark.mac
@pytest.mark.skipif(sys.platform != "darwin", reason="needs macOS libproc")
def test_footprint_reader_on_macos_reads_own_process() -> None:
    memory = MacFootprintReader()(os.getpid())
    assert memory is not None
    assert memory.footprint > 1 * 2**20
    assert memory.resident >= memory.wired
