"""``tests/unit/`` is pure: no process, no socket, no sleep, no thread.

A unit test decides from what it builds in code (synthetic samples, scripted
HTTP transports, injected clocks and sleeps), so its outcome cannot depend on
how busy the machine is. The autouse fixture below makes that a rule rather
than a habit: starting a process, opening a socket, sleeping or starting a
thread fails the test with a message saying where such a test belongs
(``tests/integration/``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import perfgate.runtimes.clock

WHERE = "tests/unit is pure (see tests/unit/conftest.py): move a test that {} to tests/integration/"


def _refuse(what: str) -> Callable[..., object]:
    def refused(*_args: object, **_kwargs: object) -> object:
        raise AssertionError(WHERE.format(what))

    return refused


@pytest.fixture(autouse=True)
def pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse processes, sockets, sleeps and threads for the duration of each unit test."""
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("starts a process"))
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _refuse("starts a process"))
    for name in ("connect", "connect_ex", "bind", "listen"):
        monkeypatch.setattr(socket.socket, name, _refuse("opens a socket"))
    monkeypatch.setattr(socket, "create_connection", _refuse("opens a socket"))
    monkeypatch.setattr(threading.Thread, "start", _refuse("starts a thread"))
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if seconds > 0:
            raise AssertionError(WHERE.format("sleeps (inject the sleep, or wait on a condition)"))
        real_sleep(0)

    monkeypatch.setattr(time, "sleep", sleep)
    # How long this thread waited for a CPU is the live machine's business: unit tests see "unknown".
    monkeypatch.setattr(perfgate.runtimes.clock, "SCHEDSTAT", Path("/nonexistent/perfgate-unit-tests/schedstat"))
