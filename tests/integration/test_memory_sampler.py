"""Process-tree memory sampling and runtime discovery over real processes and sockets.

The sampler tests use a "server" child that spawns a "runner" grandchild
holding a touched ballast, like ``ollama serve`` and its runner. They run
twice: with the OS's own child listing (/proc children files on Linux,
libproc on macOS) and with psutil's whole-machine scan, the fallback. Nothing here
sleeps a fixed time before asserting: ``CountingSampler`` says how many ticks
the background thread has taken, and a test waits until the ticks it needs
have happened (with a generous deadline), however slow the machine is.

(Moved from tests/unit/test_memory.py, which keeps the pure parts.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.cli import free_port
from support.waiting import wait_until

from perfgate.errors import MemoryUnavailable
from perfgate.measure.footprint import MacMemory
from perfgate.measure.locate import locate_runtime
from perfgate.measure.memory import MemorySampler
from perfgate.measure.proctree import (
    LibprocChildren,
    PsutilRss,
    TreeLister,
    default_tree_lister,
    load_proc_listchildpids,
    proc_children,
)
from perfgate.measure.treewatch import max_gap_ticks

BALLAST_MIB = 64

# The runner fills its ballast with a non-zero byte so every page is resident
# (a zeroed allocation may be lazily mapped and never counted in RSS).
RUNNER = """
import os, sys, time
ballast = b"\\x01" * (int(sys.argv[1]) * 2**20)
print("ready", os.getpid(), flush=True)
time.sleep(60)
"""

SERVER = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]]).wait()
time.sleep(60)  # outlive the runner so tests can watch the tree shrink
"""

LISTENER = """
import socket, sys, time
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(60)
"""

# Starts a runner for each line on stdin and prints its pid: a tree that grows
# when the test says so.
SPAWNER = """
import subprocess, sys
runners = []
for _line in sys.stdin:
    argv = [sys.executable, "-c", sys.argv[1], sys.argv[2]]
    runners.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    print(runners[-1].stdout.readline().split()[1], flush=True)
"""

# Lives until its stdin closes: the test decides when it exits, not a timer.
UNTIL_STDIN_CLOSES = "import sys; sys.stdin.read()"


class CountingSampler(MemorySampler):
    """A MemorySampler that counts its samples, so a test can wait for the thread's ticks."""

    def __init__(self, runtime_pid: int | None, **kwargs: Any) -> None:
        super().__init__(runtime_pid, **kwargs)
        self.samples = 0
        self._counted = threading.Lock()

    def sample(self) -> None:
        super().sample()
        with self._counted:
            self.samples += 1

    def wait_for_ticks(self, ticks: int) -> None:
        """Wait until the background thread has taken ``ticks`` more samples than it had.

        Call it only while no ``window()`` runs (its own sample would count too). Waiting for
        two ticks guarantees one whole tick *started* after this call.
        """
        target = self.samples + ticks
        wait_until(lambda: self.samples >= target, what=f"{ticks} sampler ticks")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the child and everything it spawned
    proc.wait(timeout=10)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


def _spawn(*argv: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *argv], stdin=stdin, stdout=subprocess.PIPE, text=True, start_new_session=True
    )


@dataclass
class Tree:
    server: subprocess.Popen[str]
    runner_pid: int


@pytest.fixture
def tree() -> Iterator[Tree]:
    server = _spawn("-c", SERVER, RUNNER, str(BALLAST_MIB))
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        assert line[:1] == ["ready"], f"runner did not start: {line!r}"
        yield Tree(server, int(line[1]))
    finally:
        _kill_group(server)


@pytest.fixture
def listener(request: pytest.FixtureRequest) -> Iterator[tuple[int, int]]:
    proc = _spawn("-c", LISTENER, getattr(request, "param", "127.0.0.1"))
    try:
        assert proc.stdout is not None
        yield proc.pid, int(proc.stdout.readline())
    finally:
        _kill_group(proc)


def _mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


@pytest.fixture(params=["os-listing", "psutil-scan"])
def how(request: pytest.FixtureRequest) -> dict[str, Any]:
    """How the sampler lists trees and reads memory: the machine's cheapest way, or psutil's (the fallback)."""
    if request.param == "psutil-scan":
        return {"tree_lister": TreeLister(None, "psutil"), "rss_reader": PsutilRss}
    return {}


# --------------------------------------------------------------------------- sampler over a real tree


def test_runtime_peak_counts_the_grandchild_and_harness_is_separate(tree: Tree, how: dict[str, Any]) -> None:
    assert _mib(tree.server.pid) < BALLAST_MIB  # so only the runner can lift the sum past the ballast
    assert _mib(tree.runner_pid) >= BALLAST_MIB  # the ballast really is resident
    own_before = _mib(os.getpid())

    with CountingSampler(tree.server.pid, interval_s=0.01, **how) as sampler:
        sampler.wait_for_ticks(1)
        peaks = sampler.window()

    assert peaks.unavailable_reason is None
    assert peaks.peak_runtime_rss_mb is not None
    assert peaks.peak_runtime_rss_mb >= BALLAST_MIB
    assert {tree.server.pid, tree.runner_pid} <= set(peaks.runtime_pids)
    assert os.getpid() not in peaks.runtime_pids
    assert peaks.ticks >= 2  # the thread's first tick plus window()'s own
    # The harness is the test process alone: its peak is near its own RSS and
    # does not contain the runner's ballast.
    assert abs(peaks.peak_harness_rss_mb - own_before) < BALLAST_MIB / 2
    assert peaks.peak_combined_rss_mb is not None
    assert peaks.peak_runtime_rss_mb <= peaks.peak_combined_rss_mb
    assert peaks.peak_combined_rss_mb <= peaks.peak_runtime_rss_mb + peaks.peak_harness_rss_mb + 0.2
    assert peaks.peak_combined_rss_mb >= BALLAST_MIB + peaks.peak_harness_rss_mb / 2
    assert peaks.peak_runtime_footprint_mb is None or sys.platform == "darwin"


def test_window_resets_and_the_tree_is_re_enumerated(tree: Tree, how: dict[str, Any]) -> None:
    with CountingSampler(tree.server.pid, interval_s=0.01, **how) as sampler:
        sampler.wait_for_ticks(1)
        first = sampler.window()
        assert first.peak_runtime_rss_mb is not None
        assert first.peak_runtime_rss_mb >= BALLAST_MIB

        os.kill(tree.runner_pid, signal.SIGKILL)
        wait_until(lambda: not psutil.pid_exists(tree.runner_pid), what="the runner reaped by the server")
        sampler.wait_for_ticks(2)  # a whole tick after the runner went: nothing older is still being added
        sampler.window()  # drop ticks taken while the runner was still alive
        sampler.wait_for_ticks(1)
        after = sampler.window()

    assert after.peak_runtime_rss_mb is not None
    assert after.peak_runtime_rss_mb < BALLAST_MIB
    assert after.runtime_pids == (tree.server.pid,)
    assert sampler.running is False


def test_immediate_window_still_has_a_tick(tree: Tree, how: dict[str, Any]) -> None:
    sampler = MemorySampler(tree.server.pid, interval_s=10, **how)  # thread never gets a second tick
    with sampler:
        sampler.window()
        peaks = sampler.window()
    assert peaks.ticks >= 1
    assert peaks.peak_runtime_rss_mb is not None
    assert peaks.peak_runtime_rss_mb >= BALLAST_MIB


def test_footprint_is_summed_over_the_tree_with_an_injected_reader(tree: Tree, how: dict[str, Any]) -> None:
    seen: list[int] = []

    def reader(pid: int) -> MacMemory | None:
        seen.append(pid)
        return MacMemory(footprint=10 * 2**20, resident=30 * 2**20, wired=2**20)

    with MemorySampler(tree.server.pid, interval_s=10, footprint_reader=reader, **how) as sampler:
        peaks = sampler.window()
    assert peaks.runtime_pids == tuple(sorted({tree.server.pid, tree.runner_pid}))
    assert peaks.peak_runtime_footprint_mb == 20.0
    assert peaks.peak_runtime_resident_mb == 60.0
    assert peaks.peak_runtime_wired_mb == 2.0
    assert {tree.server.pid, tree.runner_pid} <= set(seen)


def test_incomplete_footprint_is_not_reported(tree: Tree) -> None:
    def reader(pid: int) -> MacMemory | None:
        return None if pid == tree.runner_pid else MacMemory(10 * 2**20, 30 * 2**20, 0)

    peaks = MemorySampler(tree.server.pid, footprint_reader=reader).window()
    assert peaks.peak_runtime_footprint_mb is None
    assert peaks.peak_runtime_resident_mb is None
    assert peaks.peak_runtime_rss_mb is not None


def test_runtime_exiting_mid_sampling_does_not_crash(how: dict[str, Any]) -> None:
    proc = _spawn("-c", UNTIL_STDIN_CLOSES, stdin=subprocess.PIPE)
    try:
        with CountingSampler(proc.pid, interval_s=0.01, **how) as sampler:
            sampler.wait_for_ticks(1)  # the thread has seen the runtime alive
            assert proc.stdin is not None
            proc.stdin.close()  # now it exits
            proc.wait(timeout=30)
            sampler.wait_for_ticks(2)  # the thread keeps ticking over a vanished runtime
            while_alive = sampler.window()
            after = sampler.window()
            assert sampler.running
    finally:
        _kill_group(proc)

    assert while_alive.peak_runtime_rss_mb is not None
    assert while_alive.peak_runtime_rss_mb > 0
    assert after.peak_runtime_rss_mb is None
    assert after.peak_combined_rss_mb is None
    assert after.unavailable_reason is not None
    assert "exited" in after.unavailable_reason
    assert after.peak_harness_rss_mb > 0


def test_zombie_runtime_is_unavailable_not_zero(how: dict[str, Any]) -> None:
    proc = _spawn("-c", "pass")
    try:
        # Not reaped yet: the PID exists but holds no memory.
        wait_until(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE, what="a zombie child")
        peaks = MemorySampler(proc.pid, **how).window()
    finally:
        _kill_group(proc)
    assert peaks.peak_runtime_rss_mb is None
    assert peaks.unavailable_reason == f"runtime process {proc.pid} exited"


def test_a_child_started_in_a_quiet_tree_is_counted_within_the_listing_bound(how: dict[str, Any]) -> None:
    server = _spawn("-c", SPAWNER, RUNNER, str(BALLAST_MIB), stdin=subprocess.PIPE)
    bound = max_gap_ticks(0.01)  # ticks between listings of a tree that has not changed for a while
    try:
        assert server.stdin is not None
        assert server.stdout is not None
        with CountingSampler(server.pid, interval_s=0.01, **how) as sampler:
            sampler.wait_for_ticks(3 * bound)  # unchanged for long: listings are as rare as they get
            before = sampler.window()
            server.stdin.write("start a runner\n")
            server.stdin.flush()
            runner_pid = int(server.stdout.readline())
            sampler.wait_for_ticks(bound + 2)  # `bound` whole ticks after the runner was ready
            after = sampler.window()
    finally:
        _kill_group(server)
    assert before.runtime_pids == (server.pid,)
    assert runner_pid in after.runtime_pids
    assert after.peak_runtime_rss_mb is not None
    assert after.peak_runtime_rss_mb >= BALLAST_MIB


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc children files are Linux's")
def test_linux_lists_children_from_proc_without_a_scan() -> None:
    assert default_tree_lister().method == "proc-children"
    proc = _spawn("-c", UNTIL_STDIN_CLOSES, stdin=subprocess.PIPE)
    try:
        assert proc.pid in proc_children(os.getpid())
        assert proc.pid in MemorySampler(os.getpid()).window().runtime_pids
    finally:
        _kill_group(proc)


@pytest.mark.mac
@pytest.mark.skipif(sys.platform != "darwin", reason="needs macOS libproc")
def test_macos_lists_children_with_proc_listchildpids() -> None:
    func = load_proc_listchildpids()
    assert func is not None
    assert default_tree_lister().method == "libproc"
    proc = _spawn("-c", UNTIL_STDIN_CLOSES, stdin=subprocess.PIPE)
    try:
        assert proc.pid in LibprocChildren(func)(os.getpid())
        assert proc.pid in MemorySampler(os.getpid()).window().runtime_pids
    finally:
        _kill_group(proc)


def test_runtime_pid_that_does_not_exist() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    peaks = MemorySampler(proc.pid).window()
    assert peaks.peak_runtime_rss_mb is None
    assert peaks.unavailable_reason is not None
    assert str(proc.pid) in peaks.unavailable_reason


# --------------------------------------------------------------------------- locate_runtime


@pytest.mark.parametrize("listener", ["127.0.0.1", "0.0.0.0"], indirect=True)
def test_locate_finds_the_listening_process(listener: tuple[int, int]) -> None:
    pid, port = listener
    assert locate_runtime(f"http://127.0.0.1:{port}") == pid
    assert locate_runtime(f"http://localhost:{port}/v1") == pid


def test_locate_raises_when_nothing_listens() -> None:
    port = free_port()
    with pytest.raises(MemoryUnavailable, match=f"no process found listening on 127.0.0.1:{port}") as info:
        locate_runtime(f"http://127.0.0.1:{port}")
    assert "\n" not in str(info.value)
    assert "--runtime-pid" in str(info.value)


def test_explicit_pid_wins_and_must_exist(listener: tuple[int, int]) -> None:
    _, port = listener
    assert locate_runtime(f"http://127.0.0.1:{port}", pid=os.getpid()) == os.getpid()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with pytest.raises(MemoryUnavailable, match=f"runtime pid {gone.pid} does not exist"):
        locate_runtime(f"http://127.0.0.1:{port}", pid=gone.pid)


def test_locate_by_process_name(tmp_path: Path) -> None:
    fake = tmp_path / "pgfakert"  # a name no other process on the machine has
    fake.symlink_to(Path(sys.executable).resolve())
    proc = subprocess.Popen(
        [str(fake), "-c", "import time; time.sleep(60)"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{free_port()}"
        assert locate_runtime(url, process_name="pgfakert") == proc.pid
        with pytest.raises(MemoryUnavailable, match="no process named 'pgfakert-missing'"):
            locate_runtime(url, process_name="pgfakert-missing")
    finally:
        _kill_group(proc)
