"""tools/perfgate-rusage run for real (directly, without sudo) against a real process tree on this machine.

The "runtime" is a Python interpreter started through a symlink named
``llama-server`` (Linux names a process after the file it executes, so the
helper's name check sees a runtime), holding a touched ballast and a child
holding another: ``llama-server`` and a runner, as the helper finds them. Both
sleep on a fixed allocation, so their RSS does not move while the test reads
it; nothing here is timed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from support.waiting import command_line

from perfgate.measure.footprint import MacMemory, RusageDenied
from perfgate.measure.memory import MemorySampler
from perfgate.measure.memory_helper import HelperSpec

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "perfgate-rusage"
MIB = 2**20
SERVER_MIB, RUNNER_MIB = 64, 16
TOLERANCE = 4 * MIB  # an idle interpreter's RSS does not move; this only absorbs a stray page or two

# The runner fills its ballast with a non-zero byte so every page is resident.
RUNNER = 'import sys; ballast = b"\\x01" * (int(sys.argv[1]) * 2**20); print("ready", flush=True); sys.stdin.read()'
SERVER = """
import os, subprocess, sys
ballast = b"\\x01" * (int(sys.argv[2]) * 2**20)
runner = subprocess.Popen([sys.argv[1], "-c", sys.argv[3], sys.argv[4]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
runner.stdout.readline()
print(os.getpid(), runner.pid, flush=True)
sys.stdin.read()
"""


@dataclass
class Runtime:
    proc: subprocess.Popen[str]
    runner_pid: int

    @property
    def pid(self) -> int:
        return self.proc.pid


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    named = tmp_path / "llama-server"
    named.symlink_to(sys.executable)
    argv = [str(named), "-c", SERVER, sys.executable, str(SERVER_MIB), RUNNER, str(RUNNER_MIB)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        server_pid, runner_pid = (int(field) for field in proc.stdout.readline().split())
        assert server_pid == proc.pid
        yield Runtime(proc, runner_pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def _helper(*args: str, via: tuple[str, ...] = (sys.executable,)) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*via, str(SCRIPT), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def _read_lines(helper: subprocess.Popen[bytes], count: int) -> list[dict[str, object]]:
    assert helper.stdout is not None
    return [json.loads(helper.stdout.readline()) for _ in range(count)]


def _finish(helper: subprocess.Popen[bytes]) -> tuple[int, str]:
    _out, err = helper.communicate(timeout=30)  # closes stdin: the helper's cue to stop
    return helper.returncode, err.decode()


def test_the_helper_reads_the_tree_as_psutil_does(runtime: Runtime) -> None:
    helper = _helper(str(runtime.pid), "20")
    try:
        lines = _read_lines(helper, 3)
    finally:
        code, err = _finish(helper)
    assert (code, err) == (0, "perfgate-rusage: stdin closed\n")
    times = [line["t"] for line in lines]
    assert times == sorted(times)
    for line in lines:
        procs = line["procs"]
        assert isinstance(procs, list)
        assert [proc["pid"] for proc in procs] == [runtime.pid, runtime.runner_pid]  # the root first
        by_pid = {proc["pid"]: proc for proc in procs}
        for pid, ballast in ((runtime.pid, SERVER_MIB), (runtime.runner_pid, RUNNER_MIB)):
            figures = by_pid[pid]
            assert abs(figures["rss"] - _rss(pid)) <= TOLERANCE
            assert figures["rss"] >= ballast * MIB
            assert figures["hwm"] >= figures["rss"]
            assert (figures["footprint"], figures["resident"], figures["wired"]) == (None, None, None)  # macOS only


def test_a_process_that_is_not_a_runtime_and_bad_arguments_are_refused(runtime: Runtime) -> None:
    for args in (
        [str(os.getpid()), "50"],  # pytest's own interpreter: not a runtime by name
        ["/etc/passwd", "50"],
        ["-1", "50"],
        [str(runtime.pid), "100000"],
        [str(runtime.pid), "50", "extra"],
        [str(runtime.pid)],
    ):
        done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, timeout=30, check=False)
        assert done.returncode == 2, args
        assert done.stdout == b"", args  # not one sample
        assert done.stderr.startswith(b"perfgate-rusage: "), args
        assert done.stderr.count(b"\n") == 1, args
    not_runtime = _finish(_helper(str(os.getpid()), "50"))[1]
    assert "not a runtime (ollama, llama-server, ollama_llama_server)" in not_runtime


def test_the_helper_stops_when_the_runtime_ends(runtime: Runtime) -> None:
    helper = _helper(str(runtime.pid), "20")
    try:
        _read_lines(helper, 1)
        os.killpg(runtime.pid, signal.SIGKILL)
        runtime.proc.wait(timeout=30)
        assert helper.stdout is not None
        while helper.stdout.readline():  # lines sampled before the end, then end of file
            pass
        assert helper.wait(timeout=30) == 0
    finally:
        code, err = _finish(helper)
    assert (code, err) == (0, f"perfgate-rusage: process {runtime.pid} ended\n")


def _denied(pid: int) -> MacMemory | None:
    raise RusageDenied(pid)  # in process, macOS refuses another user's runtime so


def test_the_sampler_reads_through_the_real_helper_when_refused(runtime: Runtime) -> None:
    spec = HelperSpec(str(SCRIPT), via=(sys.executable,))
    sampler = MemorySampler(runtime.pid, interval_s=0.02, footprint_reader=_denied, memory_helper=spec)
    with sampler:
        peaks = sampler.window()
        again = sampler.window()
    assert peaks.unavailable_reason is None
    assert peaks.runtime_pids == tuple(sorted((runtime.pid, runtime.runner_pid)))
    expected = _rss(runtime.pid) + _rss(runtime.runner_pid)
    assert peaks.peak_runtime_rss_mb is not None
    assert abs(peaks.peak_runtime_rss_mb * MIB - expected) <= TOLERANCE
    assert peaks.peak_runtime_footprint_mb is None  # Linux: no footprint, as in process
    assert again.peak_runtime_rss_mb is not None
    assert abs(again.peak_runtime_rss_mb * MIB - expected) <= TOLERANCE
    assert not sampler.running
    helpers = [child for child in psutil.Process().children() if str(SCRIPT) in command_line(child)]
    assert helpers == []  # stopping the sampler ended its helper


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="the script's interpreter, /usr/bin/python3")
def test_the_installed_form_runs_by_its_own_first_line(runtime: Runtime) -> None:
    # As sudo runs it: the file itself, through "#!/usr/bin/python3 -I".
    helper = _helper(str(runtime.pid), "20", via=())
    try:
        (line,) = _read_lines(helper, 1)
    finally:
        code, _err = _finish(helper)
    assert code == 0
    assert [proc["pid"] for proc in line["procs"]] == [runtime.pid, runtime.runner_pid]


def test_a_sudo_that_refuses_is_named_with_the_rule_to_add(runtime: Runtime, tmp_path: Path) -> None:
    # This machine has no sudo; a stand-in answers as sudo -n does without a rule (plugins/sudoers/check.c).
    sudo = tmp_path / "sudo"
    sudo.write_text("#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n", encoding="utf-8")
    sudo.chmod(0o755)
    helper = "/usr/local/libexec/perfgate-rusage"
    spec = HelperSpec(helper, via=(str(sudo), "-n"))
    peaks = MemorySampler(runtime.pid, footprint_reader=_denied, memory_helper=spec).window()
    assert peaks.peak_runtime_rss_mb is None
    assert peaks.unavailable_reason is not None
    assert peaks.unavailable_reason.startswith(
        f"sudo refused to run the memory helper {helper} (sudo: a password is required); allow it with "
        f"/etc/sudoers.d/perfgate: '{psutil.Process().username()} ALL=(root) NOPASSWD: {helper}'"
    )
