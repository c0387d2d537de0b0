"""Shared test set-up.

This file's presence also puts ``tests/`` on ``sys.path``: under pytest's
default ``prepend`` import mode, a conftest in a directory without
``__init__.py`` has its directory inserted there. That is how test modules
import the shared helpers in ``tests/support/``, e.g.
``from support.synthetic import make_result``.

The suites: ``tests/unit/`` is pure (no process, socket, sleep or thread;
``tests/unit/conftest.py`` enforces it); ``tests/integration/`` runs perfgate
end to end over real sockets and processes; ``tests/e2e/`` runs it on
llama.cpp's real server. Live timings are asserted only in
``tests/integration/test_timing_accuracy.py``, and only in ways a loaded
machine cannot break.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.sim import StartSim, sim_servers


@pytest.fixture
def start_sim() -> Iterator[StartSim]:
    """``start_sim(**profile)``: an in-process simulator and an httpx client for it, stopped after the test."""
    with sim_servers() as start:
        yield start
