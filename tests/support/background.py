"""``perfgate`` (or ``perfgate sim``) running in the background, watched for what it starts and the ports they hold.

For tests that signal or kill something mid-run and then check that nothing
was left behind: every descendant seen while it ran, and every port they
listened on, must be gone once it ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from support.waiting import POLL_S, still_alive, wait_until


@dataclass
class Background:
    """One background process, its output files, and all it was seen to start."""

    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    descendants: dict[int, str] = field(default_factory=dict)  # pid -> command line
    ports: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def look(self) -> None:
        """Note its descendants now, and the TCP ports they listen on."""
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for child in children:
            with contextlib.suppress(psutil.Error):
                self.descendants.setdefault(child.pid, " ".join(child.cmdline()))
                for conn in child.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN:
                        self.ports.add(conn.laddr.port)

    def find(self, predicate: Callable[[str], bool]) -> int | None:
        """The PID of a live descendant whose command line matches (looking again first)."""
        self.look()
        for pid, cmdline in self.descendants.items():
            if predicate(cmdline) and psutil.pid_exists(pid):
                return pid
        return None

    def watch_until(self, moment: float) -> None:
        """Keep looking until ``moment`` (time.monotonic) or until it exits."""
        while time.monotonic() < moment and self.proc.poll() is None:
            self.look()
            time.sleep(POLL_S)

    def wait(self, timeout_s: float = 120) -> int:
        return self.proc.wait(timeout_s)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("perfgate:")]

    def leftovers(self) -> tuple[set[int], set[int]]:
        """(descendants still running, ports still listening) once it ended: both must be empty."""
        alive = still_alive(self.descendants)
        listening = {port for port in self.ports if _listening(port)}
        return alive, listening

    def stop(self) -> None:
        """For a test's clean-up: the process and everything it started, gone."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.descendants:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


def start(args: list[str], *, cwd: Path, env: dict[str, str], name: str = "perfgate") -> Background:
    """``python -m perfgate ARGS`` in its own session (so a signal to its group reaches exactly what it shares)."""
    out, err = cwd / f"{name}.stdout", cwd / f"{name}.stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "perfgate", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    return Background(proc, out, err)


def signal_group(bg: Background, signum: int) -> None:
    """What a terminal's Ctrl-C (or ``kill -INT %1``) does: the signal to every process of the job's group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(bg.pid, signum)


def handles_sigterm(pid: int) -> bool | None:
    """Whether ``pid`` has installed a SIGTERM handler yet (Linux /proc); None where the OS does not say."""
    status = Path(f"/proc/{pid}/status")
    if not Path("/proc/self/status").exists():
        return None
    try:
        text = status.read_text(encoding="ascii")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def wait_for_handlers(bg: Background) -> None:
    """Until perfgate has installed its signal handlers (or exited): before, a signal kills Python's way."""
    wait_until(lambda: bg.proc.poll() is not None or handles_sigterm(bg.pid) is not False, what="signal handlers")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_sim(cwd: Path, env: dict[str, str], *sim_args: str) -> tuple[Background, str]:
    """A separately started ``perfgate sim`` on a free port; returns it and its base URL once it listens."""
    bg = start(["sim", "--port", "0", *sim_args], cwd=cwd, env=env, name="sim")
    prefix = "perfgate sim listening on "

    def ready() -> bool:
        if bg.proc.poll() is not None:
            raise AssertionError(f"perfgate sim exited: {bg.stderr}")
        return prefix in bg.stdout

    wait_until(ready, what="perfgate sim listening")
    line = next(line for line in bg.stdout.splitlines() if line.startswith(prefix))
    return bg, line.removeprefix(prefix).strip()
