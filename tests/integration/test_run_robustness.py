"""``perfgate run`` never loses a measurement, never waits without end, and an interrupt is an interrupt.

End to end over real sockets against ``perfgate sim``: deadlines that end a
trickling or stalled runtime, the in-flight progress line, signals to the
run's process group, output files that cannot be written, and two runs
writing one file. Every wait is for a condition; nothing asserts a duration.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from support.background import Background, signal_group, start, start_sim, wait_for_handlers
from support.cli import clean_env, load_results, perfgate, write_project
from support.runs import assert_runs
from support.waiting import wait_until

from perfgate.errors import Kind

SLOW_SIM = ["--sim-ttft-ms", "5", "--sim-tok-s", "20", "--sim-load-ms", "0", "--sim-ballast-mb", "8"]
# read_timeout_s well past anything here: what ends these requests must be the whole-request deadline.
PATIENT = clean_env(PERFGATE_RUNTIME__READ_TIMEOUT_S="300")


def _ended(bg: Background) -> int:
    code = bg.wait()
    bg.look()
    alive, listening = bg.leftovers()
    assert (alive, listening) == (set(), set()), bg.descendants
    return code


def test_a_trickling_runtime_ends_at_the_whole_request_deadline_not_per_read(tmp_path: Path) -> None:
    """The issue's case: tokens 1 s apart never trip a 1.5 s read timeout; the request deadline ends it."""
    write_project(tmp_path, num_predict=64, runs=1, warmup=0)
    env = clean_env(PERFGATE_RUNTIME__READ_TIMEOUT_S="1.5")
    proc = perfgate(
        "run", "--runtime", "sim", "--sim-tok-s", "1", "--sim-load-ms", "0", "--request-timeout", "3",
        "--out", "r.json", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    (failure,) = load_results(tmp_path / "r.json").failures
    assert failure.kind is Kind.TIMEOUT
    assert failure.message.startswith(
        "timed out: run 1/1 of short did not finish within its 3 s whole-request deadline "
        "(runtime.request_timeout_s, --request-timeout) ("
    )
    assert f"perfgate: {failure.message}" in proc.stderr.splitlines()


def test_a_stalled_stream_ends_at_the_deadline_and_keeps_the_samples_before_it(tmp_path: Path) -> None:
    write_project(tmp_path, runs=5, warmup=1)
    sim, url = start_sim(tmp_path, clean_env(), "--fault", "stall", "--fault-after", "3", "--stall-s", "600")
    try:
        proc = perfgate(
            "run", "--base-url", url, "--request-timeout", "3", "--out", "r.json", cwd=tmp_path, env=PATIENT
        )
    finally:
        sim.stop()
    assert proc.returncode == 3, proc.stderr
    result = load_results(tmp_path / "r.json")
    (failure,) = result.failures
    assert (failure.kind, failure.iteration) == (Kind.TIMEOUT, 2)  # warm-up, runs 1 and 2, then the stall
    assert "run 3/5 of short did not finish within its 3 s whole-request deadline" in failure.message
    assert [s.iteration for s in result.scenarios[0].samples] == [0, 1]


def test_the_run_deadline_stops_the_run_cleanly_with_what_was_measured(tmp_path: Path) -> None:
    write_project(tmp_path, runs=50, warmup=1)  # about 40 s of requests: far past the deadline
    proc = perfgate("run", "--runtime", "sim", *SLOW_SIM, "--run-timeout", "4", "--out", "r.json", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    result = load_results(tmp_path / "r.json")
    (failure,) = result.failures
    assert failure.kind is Kind.TIMEOUT
    assert "the run's 4 s deadline (runtime.run_timeout_s, --run-timeout)" in failure.message
    samples = result.scenarios[0].samples if result.scenarios else ()
    assert [s.iteration for s in samples] == list(range(len(samples)))
    assert len(samples) < 50
    assert "ttft_ms" in proc.stdout  # the table of what was measured


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_process_group_mid_run_is_an_interrupt_not_a_runtime_fault(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """The managed simulator is in a session of its own: the signal reaches perfgate, which stops it."""
    write_project(tmp_path, runs=5, warmup=1)  # 0.8 s a request: four more after the first sample
    bg = start(["run", "--runtime", "sim", *SLOW_SIM, "--out", "r.json"], cwd=tmp_path, env=clean_env())
    try:
        wait_until(lambda: "short: run 1/5  ttft" in bg.stderr or bg.proc.poll() is not None, what="a first sample")
        bg.look()
        signal_group(bg, signum)  # what Ctrl-C in a terminal, or `kill -INT %1`, does
        code = _ended(bg)
    finally:
        bg.stop()
    assert code == 128 + signum, bg.stderr
    result = load_results(tmp_path / "r.json")
    (failure,) = result.failures
    assert failure.kind is Kind.INTERRUPTED  # it used to be stream_truncated: a P1 "Runtime" triage entry
    assert failure.message.startswith(f"interrupted by {signum.name} during run ")
    samples = result.scenarios[0].samples
    assert len(samples) >= 1
    assert [s.iteration for s in samples] == list(range(len(samples)))
    assert bg.error_lines()[-1] == f"perfgate: {failure.message}"
    assert not (tmp_path / "r.json.lock").exists()


def test_a_request_in_flight_says_so_and_an_interrupt_then_stops_it(tmp_path: Path) -> None:
    write_project(tmp_path, runs=5, warmup=1)
    sim, url = start_sim(tmp_path, clean_env(), "--fault", "stall", "--fault-after", "2", "--stall-s", "600")
    bg = start(["run", "--base-url", url, "--out", "r.json"], cwd=tmp_path, env=PATIENT)
    try:
        wait_until(lambda: "in flight for" in bg.stderr or bg.proc.poll() is not None, what="an in-flight line")
        wait_for_handlers(bg)
        os.kill(bg.pid, signal.SIGINT)
        code = _ended(bg)
    finally:
        bg.stop()
        sim.stop()
    assert code == 130, bg.stderr
    (note,) = [line for line in bg.stderr.splitlines() if "in flight" in line][:1]
    assert note.startswith("short: run 2/5 in flight for ")
    assert note.endswith(" received (deadline 600 s)")
    (failure,) = load_results(tmp_path / "r.json").failures
    assert (failure.kind, failure.iteration) == (Kind.INTERRUPTED, 1)


def test_a_second_run_writing_the_same_file_is_refused_before_it_measures(tmp_path: Path) -> None:
    write_project(tmp_path, runs=5, warmup=1)
    first = start(["run", "--runtime", "sim", *SLOW_SIM, "--out", "r.json"], cwd=tmp_path, env=clean_env())
    try:
        wait_until(lambda: (tmp_path / "r.json.lock").exists() or first.proc.poll() is not None, what="the lock")
        second = perfgate("run", "--runtime", "sim", "--out", "r.json", cwd=tmp_path, env=clean_env())
        assert first.wait() == 0, first.stderr
    finally:
        first.stop()
    assert second.returncode == 2
    assert second.stderr.splitlines() == [
        f"perfgate: --out r.json: another perfgate run (PID {first.pid}) is writing r.json (lock r.json.lock); "
        "wait for it to finish or write elsewhere (--out)"
    ]
    assert second.stdout == ""  # nothing measured
    assert_runs(load_results(tmp_path / "r.json").scenarios[0], 5)  # the first run's, whole


def test_results_that_cannot_be_written_after_measuring_are_kept_in_a_fallback_file(tmp_path: Path) -> None:
    write_project(tmp_path, runs=5, warmup=1)
    (tmp_path / "tmp").mkdir()
    bg = start(["run", "--runtime", "sim", *SLOW_SIM, "--out", "out/r.json"], cwd=tmp_path,
               env=clean_env(TMPDIR=str(tmp_path / "tmp")))  # fmt: skip
    try:
        wait_until(lambda: "short: run 1/5  ttft" in bg.stderr or bg.proc.poll() is not None, what="a first sample")
        (tmp_path / "out" / "r.json").mkdir()  # the file's place is taken while it measures
        code = _ended(bg)
    finally:
        bg.stop()
    assert code == 2, bg.stderr
    (fallback,) = (tmp_path / "tmp").glob("perfgate-results-sim-*.json")
    assert bg.error_lines() == [
        f"perfgate: out/r.json: cannot write: Is a directory; the results were saved to {fallback} instead"
    ]
    assert "ttft_ms" in bg.stdout
    assert_runs(load_results(fallback).scenarios[0], 5)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r.json"]  # no temp or lock file


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/sys/kernel").is_dir(), reason="needs a directory root cannot write")
def test_a_directory_that_cannot_be_written_is_refused_before_anything_starts(tmp_path: Path) -> None:
    write_project(tmp_path)
    proc = perfgate("run", "--runtime", "sim", "--out", "/sys/kernel/r.json", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "perfgate: --out /sys/kernel/r.json: cannot write in /sys/kernel (Permission denied); choose a writable path"
    ]
    assert proc.stdout == ""
