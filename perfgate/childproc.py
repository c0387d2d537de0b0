"""A runtime server perfgate starts as its own child process, for the duration of a run.

A separate process (not a thread) so the runtime has its own PID and process
tree to sample, as a real runtime does, and so it never competes with the
harness for the GIL. The child prints one ready line naming its URL; until
then nothing is measured, and anything else it prints is a start-up failure.

The child runs in a session (and process group) of its own: the terminal's
Ctrl-C, or a ``kill -INT`` to perfgate's process group, reaches perfgate alone,
which records the interrupt and then stops the child itself. Sharing the group,
the child died first and the interrupt was recorded as the runtime's fault
(``stream_truncated``).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import tempfile
import time
from types import TracebackType
from typing import IO, Self

from perfgate.errors import RuntimeUnavailable

STDERR_TAIL_CHARS = 600


class ChildServer:
    """A server child process; a context manager that never leaves orphans.

    Subclasses say what to run (:meth:`argv`), how its ready line reads
    (``ready_pattern``, whose group 1 is the base URL) and how to name it in
    errors. With ``stdin_pipe`` the child's stdin is a pipe only this process
    holds, so the child sees end-of-file the moment its parent dies, however
    it dies.
    """

    ready_pattern: re.Pattern[str]
    runtime_name: str  # "simulated runtime"
    program_name: str  # "`perfgate sim`"
    stdin_pipe: bool = False

    def __init__(self, *, startup_timeout_s: float = 15.0) -> None:
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._base_url: str | None = None

    def argv(self) -> list[str]:
        """The command line of the child."""
        raise NotImplementedError

    def child_env(self) -> dict[str, str]:
        """The child's environment."""
        return dict(os.environ)

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._base_url

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._proc.pid

    def start(self) -> str:
        """Start the child and wait for its ready line; return the base URL."""
        # stderr goes to a file, not a pipe: nobody reads it while the child
        # runs, and a full pipe would block the child mid-stream.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop(), outlives this call
        argv = self.argv()
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if self.stdin_pipe else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=self.child_env(),
                start_new_session=True,  # signals for perfgate are perfgate's to act on (module docstring)
            )
        except OSError as exc:
            self._close_files()
            raise RuntimeUnavailable(f"{self.runtime_name}: cannot start {argv[0]}: {exc}") from exc
        assert self._proc.stdout is not None  # stdout=PIPE above guarantees it; this narrows the type
        try:
            raw = read_line(self._proc.stdout.fileno(), self.startup_timeout_s)
        except BaseException:
            self.stop()  # interrupted while waiting: the caller's `with` has not begun, so stop it here
            raise
        line = raw.decode("utf-8", "replace").rstrip("\n")
        match = self.ready_pattern.match(line)
        if match is None:
            reason = self._not_ready_reason(line)
            tail = self.stderr_tail()
            self.stop()
            detail = f"; stderr: {tail}" if tail else ""
            raise RuntimeUnavailable(f"{self.runtime_name} did not start: {self.program_name} {reason}{detail}")
        self._base_url = match.group(1)
        return self._base_url

    def _not_ready_reason(self, line: str) -> str:
        assert self._proc is not None
        code = self._proc.poll()
        if code is None and not line:
            # End of output usually means the child is exiting; give it a
            # moment so the reason names its exit code, not a timeout.
            try:
                code = self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        if code is not None:
            return f"exited with code {code}"
        if line:
            return f"printed {line.strip()[:200]!r} instead of its ready line"
        return f"printed no ready line within {self.startup_timeout_s:g} s"

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """SIGTERM (and end of stdin), wait, SIGKILL to its whole process group if needed."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                # The group is the child's own session (start()); killed before the leader is
                # reaped, so its ID cannot have been reused.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._close_files()
        self._proc = None
        self._base_url = None

    def stderr_tail(self) -> str:
        """The last lines the child wrote to stderr, joined on one line."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - STDERR_TAIL_CHARS))
        text = self._stderr.read().decode("utf-8", "replace").strip()
        return " | ".join(text.splitlines()[-5:])

    def _close_files(self) -> None:
        if self._proc is not None:
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def read_line(fd: int, timeout_s: float) -> bytes:
    """The next line a child prints (with its newline), or whatever arrived before the timeout/EOF.

    For a child that prints one line and then waits to be spoken to: bytes past
    the first newline are not expected and are dropped.
    """
    deadline = time.monotonic() + timeout_s
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
        if b"\n" in chunk:
            break
    head, newline, _ = data.partition(b"\n")
    return head + newline


def end_child(child: subprocess.Popen[bytes], *, timeout_s: float = 5.0) -> None:
    """Close the child's stdin (its signal to exit), then make sure it is gone."""
    if child.stdin is not None and not child.stdin.closed:
        with contextlib.suppress(BrokenPipeError):  # already gone
            child.stdin.close()
    try:
        child.wait(timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
