"""``perfgate`` as a user runs it: a subprocess of this interpreter, in a chosen directory and environment,
with a one-scenario project to run it in and the results file it writes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from perfgate.contracts.results import RESULTS_SCHEMA_VERSION, RunResult
from perfgate.files import read_model


def clean_env(**extra: str) -> dict[str, str]:
    """The test runner's environment without anything GitHub Actions or perfgate would read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PERFGATE_", "RUNNER_"))}
    env.update(extra)
    return env


def perfgate(
    *args: str | Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    wrap: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``python -m perfgate args`` in ``cwd`` (behind ``wrap``, e.g. taskset); the caller asserts on the outcome."""
    return subprocess.run(
        [*wrap, sys.executable, "-m", "perfgate", *map(str, args)],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The one-line errors perfgate printed (``perfgate: ...`` on stderr)."""
    return [line for line in proc.stderr.splitlines() if line.startswith("perfgate:")]


def free_port() -> int:
    """A loopback port nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_project(root: Path, *, num_predict: int = 16, runs: int = 5, warmup: int = 1, extra: str = "") -> None:
    """A pyproject.toml with one short scenario ('short') instead of the built-in ones."""
    (root / "pyproject.toml").write_text(
        f"""[tool.perfgate]
runs = {runs}
warmup = {warmup}
{extra}
[tool.perfgate.scenarios]
# Only the scenario below: the built-in ones are switched off.
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.short]
prompt = "Explain what Bzzbe does in two short sentences."
num_predict = {num_predict}
""",
        encoding="utf-8",
    )


def load_results(path: Path) -> RunResult:
    """A results file as perfgate reads it (schema-checked)."""
    return read_model(path, RunResult, what="results", current_version=RESULTS_SCHEMA_VERSION)
