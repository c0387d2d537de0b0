"""The floor of issue 15: kill ``perfgate run`` at random points, many times, and find nothing lost or left.

Twenty rounds each of SIGINT and SIGTERM to the run's process group (what a
terminal's Ctrl-C, a ``kill %1`` or a cancelled CI job does) and of SIGKILL to
the runtime (the managed simulator, its runner, or a separately started
``perfgate sim``), each at a seeded random moment of a run. After every round:

- the results file is absent, or valid and complete up to its last measured
  sample (iterations 0..n-1, all of them when nothing failed);
- no process perfgate started, and no port they listened on, is left;
- the exit code and the failure kind say what happened: an interrupt is
  ``interrupted`` with 128 + the signal, never a runtime fault; a dead runtime
  is a runtime fault with exit 3, never an interrupt.

Nothing here is timed: the random moments are fractions of a calibration run
measured on this machine now, and every wait is for a condition, so the test
holds with every core busy.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from support.background import Background, signal_group, start, start_sim, wait_for_handlers
from support.cli import clean_env, load_results, write_project
from support.runs import assert_runs

from perfgate.errors import Kind

SEED = 1515
ROUNDS = 20
RUNS = 6
FAST_SIM = ["--sim-ttft-ms", "5", "--sim-tok-s", "150", "--sim-load-ms", "0", "--sim-ballast-mb", "8"]
SIM_FLAGS = ["--ttft-ms", "5", "--tok-s", "150", "--load-ms", "0", "--ballast-mb", "8"]
RUNTIME_FAULTS = {Kind.STREAM_TRUNCATED, Kind.RUNTIME_UNAVAILABLE, Kind.RUNTIME_ERROR, Kind.MEMORY_UNAVAILABLE}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill-loop")
    write_project(root, num_predict=32, runs=RUNS, warmup=1)  # about half of a run is measuring
    return root


@pytest.fixture(scope="module")
def run_s(project: Path) -> float:
    """How long one whole run takes on this machine now (the random moments are fractions of it)."""
    started = time.monotonic()
    bg = start(["run", "--runtime", "sim", *FAST_SIM, "--out", "calibration.json"], cwd=project, env=clean_env())
    assert bg.wait() == 0, bg.stderr
    _assert_complete_up_to_the_last_sample(project / "calibration.json", interrupted=False)
    return time.monotonic() - started


def _assert_complete_up_to_the_last_sample(path: Path, *, interrupted: bool) -> list[Kind]:
    """The file parses and validates; its samples are iterations 0..n-1, all RUNS of them if nothing failed."""
    result = load_results(path)
    for scenario in result.scenarios:
        assert [s.iteration for s in scenario.samples] == list(range(len(scenario.samples)))
    kinds = [f.kind for f in result.failures]
    if not kinds:
        assert len(result.scenarios) == 1
        assert_runs(result.scenarios[0], RUNS)
    assert (Kind.INTERRUPTED in kinds) == interrupted or not kinds
    return kinds


def _nothing_left(bg: Background, directory: Path) -> None:
    alive, listening = bg.leftovers()
    assert alive == set(), f"left running: {[bg.descendants[p] for p in alive]}"
    assert listening == set()
    strays = sorted(p.name for p in directory.iterdir() if p.name.endswith((".lock", ".tmp")))
    assert strays == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_any_moment_keeps_what_was_measured_and_is_recorded_as_an_interrupt(
    project: Path, run_s: float, signum: signal.Signals
) -> None:
    rng = random.Random(f"{SEED}-{signum.name}")
    outcomes: Counter[str] = Counter()
    for round_ in range(ROUNDS):
        out = project / f"{signum.name}-{round_}.json"
        moment = time.monotonic() + rng.uniform(0, run_s)
        bg = start(["run", "--runtime", "sim", *FAST_SIM, "--out", out.name], cwd=project, env=clean_env())
        try:
            wait_for_handlers(bg)  # before, a signal would kill Python's way: no perfgate code yet to judge
            bg.watch_until(moment)
            signal_group(bg, signum)
            code = bg.wait()
            bg.look()
        finally:
            bg.stop()
        _nothing_left(bg, project)
        errors = bg.error_lines()
        assert not any("internal error" in line or "Traceback" in line for line in errors), bg.stderr
        if code == 0:  # the signal came after the command had finished: held, and nothing to stop
            _assert_complete_up_to_the_last_sample(out, interrupted=False)
            outcomes["finished first (exit 0)"] += 1
            continue
        assert code == 128 + signum, bg.stderr
        assert any(line.startswith(f"perfgate: interrupted by {signum.name}") for line in errors), bg.stderr
        if not out.exists():  # before anything was measured (config, host probe, starting the simulator)
            outcomes["before measuring: no results file"] += 1
            continue
        kinds = _assert_complete_up_to_the_last_sample(out, interrupted=True)
        assert set(kinds) <= {Kind.INTERRUPTED}, kinds  # never the runtime's fault
        outcomes["interrupted: results kept" if kinds else "after measuring: complete results"] += 1
    print(f"\n{signum.name} x{ROUNDS}: {dict(outcomes)}")
    assert outcomes["interrupted: results kept"] > 0  # the loop did reach runs mid-measurement


def _is_sim(cmdline: str) -> bool:
    return " -m perfgate sim " in f"{cmdline} "


def _is_runner(cmdline: str) -> bool:
    return "perfgate.sim.runner" in cmdline


def _kill(bg: Background, target: str, sim: Background | None, delay_s: float) -> bool:
    """SIGKILL the runtime ``delay_s`` after it exists; False when the run ended first.

    The separately started sim exists before the run; the managed simulator and its runner
    from some moment of the run's start-up, which is where their delay counts from.
    """
    if target == "separate sim":
        assert sim is not None
        bg.watch_until(time.monotonic() + delay_s)
        sim.look()
        sim.proc.send_signal(signal.SIGKILL)
        return True
    wanted = _is_runner if target == "runner" else _is_sim
    pid = bg.find(wanted)
    while pid is None and bg.proc.poll() is None:
        time.sleep(0.005)
        pid = bg.find(wanted)
    bg.watch_until(time.monotonic() + delay_s)
    if pid is None or bg.proc.poll() is not None:
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def test_a_runtime_killed_at_any_moment_is_a_runtime_fault_and_the_run_keeps_its_samples(
    project: Path, run_s: float
) -> None:
    rng = random.Random(f"{SEED}-SIGKILL")
    targets = ["managed sim"] * 10 + ["runner"] * 4 + ["separate sim"] * 6
    outcomes: Counter[str] = Counter()
    for round_, target in enumerate(targets):
        out = project / f"SIGKILL-{round_}.json"
        sim: Background | None = None
        if target == "separate sim":
            sim, url = start_sim(project, clean_env(), *SIM_FLAGS)
            args = ["run", "--base-url", url, "--tier", "sim", "--out", out.name]
        else:
            args = ["run", "--runtime", "sim", *FAST_SIM, "--out", out.name]
        bg = start(args, cwd=project, env=clean_env())
        try:
            killed = _kill(bg, target, sim, rng.uniform(0, run_s if target == "separate sim" else run_s / 2))
            code = bg.wait()
        finally:
            bg.stop()
            if sim is not None:
                sim.stop()
        _nothing_left(bg, project)
        if sim is not None:
            _nothing_left(sim, project)
        errors = bg.error_lines()
        assert not any("internal error" in line for line in errors), bg.stderr
        if code == 0:  # too late (the run had ended), or the runner, which only holds memory: served to the end
            _assert_complete_up_to_the_last_sample(out, interrupted=False)
            outcomes[f"{target}: completed"] += 1
            continue
        assert killed, bg.stderr
        assert code == 3, bg.stderr
        if not out.exists():  # killed while starting: the run never had a runtime to measure
            assert any("did not start" in line for line in errors), bg.stderr
            outcomes[f"{target}: killed while starting"] += 1
            continue
        assert target != "runner", bg.stderr  # a dead runner leaves the server serving
        kinds = _assert_complete_up_to_the_last_sample(out, interrupted=False)
        assert kinds, "exit 3 with no failure recorded"
        assert set(kinds) <= RUNTIME_FAULTS, kinds  # a dead runtime is the runtime's fault, never an interrupt
        outcomes[f"{target}: {kinds[-1].value}"] += 1
    print(f"\nSIGKILL runtime x{len(targets)}: {dict(outcomes)}")
    assert any(key.split(": ")[1] in {k.value for k in RUNTIME_FAULTS} for key in outcomes)
