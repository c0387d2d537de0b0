"""Memory sampling without a runtime process (the macOS reader: test_footprint.py).

The sampler over a real process tree, and finding the runtime by its socket or
name, start processes: they are in tests/integration/test_memory_sampler.py.
"""

from __future__ import annotations

import os

import psutil
import pytest

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
