"""The simulated runtime's "model runner" child process.

Ollama keeps the model's weights in a child process of ``ollama serve``; a
memory sampler that only looks at the server PID misses them. This child
plays that part: it holds ``--ballast-mb`` MiB resident, tells its parent it
is ready, and lives until its stdin reaches EOF -- which happens when the
server closes the pipe or dies, so it can never outlive the server.

Run as ``python -m perfgate.sim.runner --ballast-mb M``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from perfgate.childproc import end_child, read_line
from perfgate.errors import RuntimeUnavailable

PAGE_BYTES = 4096
READY_LINE = b"ready\n"


def allocate_ballast(megabytes: int) -> bytearray:
    """``megabytes`` MiB that are really resident.

    A fresh zeroed bytearray comes from calloc and maps the zero page: RSS
    would not grow until each page is written, so one byte per page is set.
    """
    ballast = bytearray(megabytes * 2**20)
    if ballast:
        pages = len(ballast[::PAGE_BYTES])
        ballast[::PAGE_BYTES] = b"\x01" * pages
    return ballast


def main(argv: list[str]) -> None:
    """Allocate, announce readiness on stdout, then block until stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m perfgate.sim.runner")
    parser.add_argument("--ballast-mb", type=int, default=0)
    args = parser.parse_args(argv)
    ballast = allocate_ballast(max(0, args.ballast_mb))
    try:
        sys.stdout.buffer.write(READY_LINE)
        sys.stdout.buffer.flush()
        while sys.stdin.buffer.read(4096):
            pass  # nothing is ever sent; only EOF matters
    except (KeyboardInterrupt, BrokenPipeError):
        # Ctrl-C reaches the whole process group; the server shuts us down itself.
        pass
    del ballast


# ---------------------------------------------------------------- parent side


def spawn(ballast_mb: int, *, ready_timeout_s: float = 30.0) -> subprocess.Popen[bytes]:
    """Start the runner child and wait until its ballast is resident.

    Its stdin is a pipe only this process holds, so the child sees EOF and
    exits when the server stops or dies.
    """
    argv = [sys.executable, "-m", "perfgate.sim.runner", "--ballast-mb", str(ballast_mb)]
    try:
        child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    except OSError as exc:
        raise RuntimeUnavailable(f"simulated runtime: cannot start its runner process: {exc}") from exc
    assert child.stdout is not None  # stdout=PIPE above guarantees it; this narrows the type
    line = read_line(child.stdout.fileno(), ready_timeout_s)
    child.stdout.close()
    if line != READY_LINE:
        code = child.poll()
        end_child(child)
        reason = f"exited with code {code}" if code is not None else f"not ready after {ready_timeout_s:g} s"
        raise RuntimeUnavailable(f"simulated runtime: runner process holding {ballast_mb} MiB {reason}")
    return child


if __name__ == "__main__":
    main(sys.argv[1:])
