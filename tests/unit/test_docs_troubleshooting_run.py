"""The run-robustness messages docs/troubleshooting.md quotes are the ones perfgate prints.

Deadlines, unwritable or locked results files, the fallback file and interrupts
(issue 15); the other entries are checked in test_docs_troubleshooting.py.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import tempfile
from pathlib import Path

import pytest
from support.docs import quoted
from support.synthetic import make_result

from perfgate.commands import Console
from perfgate.commands.run import _save
from perfgate.errors import RuntimeTimeout, UsageError
from perfgate.interrupts import Interrupted
from perfgate.measure.rounds import interrupted
from perfgate.outputs import OutputLock, check_writable
from perfgate.runtimes.deadline import RunLimits


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_request_past_its_deadline():
    watch = RunLimits(request_timeout_s=600).watch("run 3/5 of short-explain")
    watch.lines = 412
    assert watch.exceeded().message == quoted("timed out: run 3/5")


def test_the_run_past_its_deadline():
    ticks = Ticks()
    limits = RunLimits(request_timeout_s=600, run_timeout_s=1800, clock=ticks)
    ticks.now = 1800
    with pytest.raises(RuntimeTimeout) as info:
        limits.watch("run 4/5 of prefill")
    assert info.value.message == quoted("timed out: the run's")


def test_a_results_file_that_cannot_be_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def refused(**_kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", refused)  # as a directory this user may not write
    with pytest.raises(UsageError) as info:
        check_writable(Path("perf-results/results-pro.json"), "--out perf-results/results-pro.json")
    assert info.value.message == quoted("--out perf-results/results-pro.json: cannot write")


def test_another_run_writing_the_same_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = Path("perf-results/results-pro.json")
    out.parent.mkdir()
    with OutputLock(out, f"--out {out}"), pytest.raises(UsageError) as info, OutputLock(out, f"--out {out}"):
        pass
    assert re.sub(r"PID \d+", "PID 41872", info.value.message) == quoted("--out perf-results/results-pro.json: another")


def test_results_saved_to_a_fallback_file(monkeypatch):

    def disk_full(path: Path, _text: str) -> None:
        raise UsageError(f"{path}: cannot write: {os.strerror(errno.ENOSPC)}")  # as files.write_text_atomic says

    monkeypatch.setattr("perfgate.commands.run.write_text_atomic", disk_full)
    monkeypatch.setattr("perfgate.commands.run.write_fallback", lambda _text, stem: Path(f"/tmp/{stem}-k2j4x1qz.json"))
    problem = _save(Path("perf-results/results-pro.json"), make_result(seed=1, tier="pro"), Console())
    assert problem == quoted("perf-results/results-pro.json: cannot write")


def test_an_interrupted_run():

    failure = interrupted(Interrupted(signal.SIGTERM), "run 3/5 of short-explain", "short-explain", 2)
    assert failure.message == quoted("interrupted by SIGTERM")
