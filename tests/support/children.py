"""A Python child that starts something, says its PID and waits: for tests that kill it and look for orphans."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def launcher(script: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Run ``script`` in a child interpreter; yield it and the PID it printed on its first line.

    Whatever the test did, the child is gone (killed and reaped) on leaving the block.
    """
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield child, int(child.stdout.readline())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def kill_hard(child: subprocess.Popen[str]) -> None:
    """SIGKILL: the child gets no chance to clean up, so whatever it started must notice by itself."""
    child.send_signal(signal.SIGKILL)
    child.wait(30)
