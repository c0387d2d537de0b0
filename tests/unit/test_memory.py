"""Memory sampling without a runtime process, and the macOS footprint reader.

The sampler over a real process tree, and finding the runtime by its socket or
name, start processes: they are in tests/integration/test_memory_sampler.py.
"""

from __future__ import annotations

import ctypes
import os
import sys

import psutil
import pytest

from perfgate.measure.footprint import RUSAGE_INFO_V4, MacFootprintReader, RusageInfoV4
from perfgate.measure.memory import MemorySampler


def _mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def test_no_runtime_is_none_with_a_reason_never_zero() -> None:
    peaks = MemorySampler(None, no_runtime_reason="no process found listening on 127.0.0.1:1").window()
    assert peaks.peak_runtime_rss_mb is None
    assert peaks.peak_combined_rss_mb is None
    assert peaks.peak_runtime_footprint_mb is None
    assert peaks.unavailable_reason == "no process found listening on 127.0.0.1:1"
    assert peaks.runtime_pids == ()
    assert peaks.ticks == 1
    assert peaks.peak_harness_rss_mb > 0

    default = MemorySampler(None).window()
    assert default.peak_runtime_rss_mb is None
    assert default.unavailable_reason


def test_values_are_mib_rounded_to_a_tenth() -> None:
    peaks = MemorySampler(os.getpid()).window()
    assert peaks.peak_runtime_rss_mb is not None
    # Runtime and harness are the same process here: same number, counted once.
    assert peaks.peak_runtime_rss_mb == pytest.approx(peaks.peak_harness_rss_mb, abs=5)
    assert peaks.peak_combined_rss_mb == peaks.peak_runtime_rss_mb
    assert round(peaks.peak_runtime_rss_mb, 1) == peaks.peak_runtime_rss_mb
    assert peaks.peak_runtime_rss_mb == pytest.approx(_mib(os.getpid()), abs=5)


# --------------------------------------------------------------------------- macOS footprint reader

# Offsets from Apple's <sys/resource.h>: 16-byte uuid, then uint64 fields;
# ri_resident_size is the 7th, ri_phys_footprint the 8th,
# ri_lifetime_max_phys_footprint the 29th, ri_runnable_time (last) the 35th.
RESIDENT_OFFSET = 16 + 6 * 8
FOOTPRINT_OFFSET = 16 + 7 * 8
LIFETIME_MAX_OFFSET = 16 + 28 * 8
V4_SIZE = 16 + 35 * 8


def test_rusage_info_v4_layout_matches_the_header() -> None:
    assert ctypes.sizeof(RusageInfoV4) == V4_SIZE
    assert RusageInfoV4.ri_phys_footprint.offset == FOOTPRINT_OFFSET
    assert RusageInfoV4.ri_lifetime_max_phys_footprint.offset == LIFETIME_MAX_OFFSET


def test_footprint_reader_reads_ri_phys_footprint_at_its_offset() -> None:
    calls: list[tuple[int, int]] = []

    def fake_proc_pid_rusage(pid: int, flavor: int, address: int) -> int:
        calls.append((pid, flavor))
        # What the kernel does: raw bytes into the caller's buffer. Neighbours
        # get other values so a wrong offset returns a wrong number.
        ctypes.c_uint64.from_address(address + RESIDENT_OFFSET).value = 111
        ctypes.c_uint64.from_address(address + FOOTPRINT_OFFSET).value = 987_654_321
        ctypes.c_uint64.from_address(address + LIFETIME_MAX_OFFSET).value = 333
        return 0

    reader = MacFootprintReader(fake_proc_pid_rusage)
    assert reader(4242) == 987_654_321
    assert calls == [(4242, RUSAGE_INFO_V4)]
    assert RUSAGE_INFO_V4 == 4


def test_footprint_reader_failure_is_none() -> None:
    assert MacFootprintReader(lambda _pid, _flavor, _address: -1)(1) is None


@pytest.mark.skipif(sys.platform == "darwin", reason="libproc exists on macOS")
def test_footprint_reader_without_libproc_is_none() -> None:
    assert MacFootprintReader()(os.getpid()) is None


@pytest.mark.mac
@pytest.mark.skipif(sys.platform != "darwin", reason="needs macOS libproc")
def test_footprint_reader_on_macos_reads_own_process() -> None:
    footprint = MacFootprintReader()(os.getpid())
    assert footprint is not None
    assert footprint > 1 * 2**20
