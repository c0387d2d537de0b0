"""Wait on a condition, never a fixed time.

A fixed ``sleep`` before an assertion is a guess at how fast the machine is;
on a loaded one the guess is wrong. These helpers poll a predicate until it
holds and give up only after a deadline far beyond any normal wait, so a test
is as fast as the machine allows and fails only when the condition never comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import psutil

DEADLINE_S = 30.0  # generous: a loaded 2-core machine may take seconds where an idle one takes milliseconds
POLL_S = 0.01


def wait_until(predicate: Callable[[], object], *, timeout_s: float = DEADLINE_S, what: str = "condition") -> None:
    """Return as soon as ``predicate()`` is true; fail the test if it is still false after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout_s:g} s")
        time.sleep(POLL_S)


def is_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (exited, or a zombie waiting to be reaped)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def command_line(proc: psutil.Process) -> str:
    """``proc``'s command line, or "" once it has exited or become a zombie (children die while being polled)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def still_alive(pids: Iterable[int], *, timeout_s: float = DEADLINE_S) -> set[int]:
    """The PIDs still running after waiting up to ``timeout_s`` for all of them to go (empty when all went)."""
    alive = set(pids)
    deadline = time.monotonic() + timeout_s
    while alive:
        alive = {pid for pid in alive if not is_gone(pid)}
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return alive
