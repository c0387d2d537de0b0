"""The look worker: each sequential look decided in one long-lived child process.

(Moved from tests/unit/test_sequential_loop.py: every test here starts a process.
The look loop itself, with looks decided in this process, stays there.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from support.synthetic import baseline_of, make_result, write_baselines

from perfgate.config import PerfgateConfig
from perfgate.errors import ExitCode, LookFailed
from perfgate.measure.look_worker import LookRequest, LookWorker, decide_look


@pytest.fixture
def baselines(tmp_path: Path) -> Path:
    """A 15-run baseline of tier 'pro' at 2 % CV."""
    return write_baselines(tmp_path / "baselines", baseline_of(make_result(seed=1, n=15)))


def config(baselines: Path) -> PerfgateConfig:
    return PerfgateConfig(baselines_dir=str(baselines))


def test_looks_decided_in_one_child_process_match_looks_decided_here(baselines):
    first = make_result(seed=2, n=5, scale={"ttft_ms": 1.3})
    cfg = config(baselines)
    with LookWorker() as worker:
        there = [worker(first, cfg, alpha) for alpha in (0.002, 0.006)]
        pid = worker.pid
        assert pid is not None
    assert worker.pid is None  # closed on leaving the block
    with pytest.raises(psutil.NoSuchProcess):
        psutil.Process(pid).status()
    for alpha, report in zip((0.002, 0.006), there, strict=True):
        here = decide_look(first, cfg, alpha)
        assert report.verdicts == here.verdicts
        assert (report.status, report.exit_code, report.look_alpha) == (here.status, here.exit_code, alpha)


def test_a_corrupt_baseline_is_a_one_line_error_and_the_worker_goes_on(baselines, tmp_path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "pro.json").write_text('{"schema_version": 1, "tier": "pro"', encoding="utf-8")
    with LookWorker() as worker:
        with pytest.raises(LookFailed) as caught:
            worker(make_result(seed=2, n=5), config(corrupt), 0.01)
        assert worker(make_result(seed=2, n=5), config(baselines), 0.01).verdicts  # same child, next look
    assert caught.value.exit_code == ExitCode.COULD_NOT_MEASURE
    assert caught.value.message.startswith("deciding a look failed: ")
    assert "pro.json" in caught.value.message
    assert "\n" not in caught.value.message


def test_a_worker_that_dies_is_a_could_not_measure_error_not_a_hang(baselines):
    with LookWorker(timeout_s=30) as worker:
        worker(make_result(seed=2, n=5), config(baselines), 0.01)
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        with pytest.raises(LookFailed) as caught:
            worker(make_result(seed=2, n=5), config(baselines), 0.01)
    assert caught.value.exit_code == ExitCode.COULD_NOT_MEASURE
    assert caught.value.message.startswith("the look process exited (code -9)")


def test_the_measuring_process_never_loads_the_gate_libraries(baselines):
    # The harness's own RSS is measured; a look must not bring scipy/numpy into it.
    request = LookRequest(config=config(baselines), result=make_result(seed=2, n=5), alpha=0.01)
    script = (
        "import sys\n"
        "from perfgate.commands import run\n"
        "from perfgate.measure.look_worker import LookRequest, LookWorker\n"
        "from perfgate.measure.sequential import run_until_conclusive\n"
        "r = LookRequest.model_validate_json(sys.stdin.read())\n"
        "with LookWorker() as look:\n"
        "    report = look(r.result, r.config, r.alpha)\n"
        "print(len(report.verdicts), sorted(m for m in ('scipy', 'numpy') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], input=request.model_dump_json(), capture_output=True, text=True, check=True
    )
    count, loaded = proc.stdout.split(" ", 1)
    assert int(count) > 0
    assert loaded.strip() == "[]"
