"""Start ``perfgate sim`` as a child process for the duration of a run.

A separate process (not a thread) so the simulated runtime has its own PID
and process tree to sample, as a real runtime does, and so its pacing never
competes with the harness for the GIL.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO

from perfgate.errors import RuntimeUnavailable
from perfgate.sim.profile import SimProfile
from perfgate.sim.server import EXIT_WITH_PARENT_ENV

READY_PATTERN = re.compile(r"^perfgate sim listening on (http://\S+)\s*$")
STDERR_TAIL_CHARS = 600


class SimProcess:
    """``perfgate sim`` in a child process; a context manager that never leaves orphans."""

    def __init__(self, profile: SimProfile, *, port: int = 0, startup_timeout_s: float = 15.0) -> None:
        self.profile = profile
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._base_url: str | None = None

    def argv(self) -> list[str]:
        """The command line of the child."""
        return [sys.executable, "-m", "perfgate", "sim", "--port", str(self.port), *self.profile.to_args()]

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("SimProcess is not started")
        return self._base_url

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("SimProcess is not started")
        return self._proc.pid

    def start(self) -> str:
        """Start the child and wait for its ready line; return the base URL."""
        # stderr goes to a file, not a pipe: nobody reads it while the child
        # runs, and a full pipe would block the simulator mid-stream.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop(), outlives this call
        try:
            self._proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env={**os.environ, EXIT_WITH_PARENT_ENV: str(os.getpid())},
            )
        except OSError as exc:
            self._close_files()
            raise RuntimeUnavailable(f"simulated runtime: cannot start {sys.executable}: {exc}") from exc
        assert self._proc.stdout is not None  # stdout=PIPE above guarantees it; this narrows the type
        line = _read_line(self._proc.stdout.fileno(), self.startup_timeout_s)
        match = READY_PATTERN.match(line)
        if match is None:
            code = self._proc.poll()
            if code is None and not line:
                # End of output usually means the child is exiting; give it a
                # moment so the reason names its exit code, not a timeout.
                try:
                    code = self._proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    code = None
            if code is not None:
                reason = f"exited with code {code}"
            elif line:
                reason = f"printed {line.strip()[:200]!r} instead of its ready line"
            else:
                reason = f"printed no ready line within {self.startup_timeout_s:g} s"
            tail = self._stderr_tail()
            self.stop()
            detail = f"; stderr: {tail}" if tail else ""
            raise RuntimeUnavailable(f"simulated runtime did not start: `perfgate sim` {reason}{detail}")
        self._base_url = match.group(1)
        return self._base_url

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """SIGTERM, wait, SIGKILL if needed. The sim's runner child exits on its own when the sim dies."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_files()
        self._proc = None
        self._base_url = None

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - STDERR_TAIL_CHARS))
        text = self._stderr.read().decode("utf-8", "replace").strip()
        return " | ".join(text.splitlines()[-5:])

    def _close_files(self) -> None:
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> SimProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _read_line(fd: int, timeout_s: float) -> str:
    """The first line the child prints, or whatever arrived before the timeout/EOF."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")
