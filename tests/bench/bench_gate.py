"""Benchmark (not a test): how long the gate takes, whole process, against ``import scipy.stats``.

Builds synthetic results and baselines (``tests/support/synthetic.py``: 10
current runs against 15 baseline runs of every metric, one tier's TTFT 20 %
slower, so every gate ends in a regression) for 2 tiers × 3 scenarios and
8 tiers × 25 scenarios, then times whole processes started from a clean
directory:

* ``python -c "import scipy.stats"``: the reference the floor is set against,
  with the interpreter that runs perfgate (``python -c pass`` is shown too:
  the interpreter's own start);
* ``python -m perfgate compare RESULTS --baselines-dir DIR`` (text to stdout);
* ``python -m perfgate gate --results-dir DIR --baselines-dir DIR`` (gate.json,
  the Markdown summary with its trimming passes, text to stdout; no GitHub).

The commands run interleaved, round after round in a rotating order, so a
busy spell on the machine falls on all of them alike; each figure is the
median of the rounds (``--rounds``, default 11) and the exit code of every run
is checked (1: the regression). The CPU time (user + system) of each run is
shown beside the wall time, which a busy machine stretches. Targets, from issue 13: ``compare`` at 2 × 3
below ``import scipy.stats``, and at 8 × 25 under twice its own 2 × 3 figure
(the same targets are shown for ``gate``). Last, the modules a ``compare``
process has imported by the end: scipy, numpy and the TLS stack should be absent.

First, in process: the cost of one ``decide()`` over a 36-test gate (2 tiers ×
3 scenarios × 6 metrics) at 5 vs 15, 17 vs 15 (a sequential run's last look)
and 20 vs 20 runs, on continuous values (no ties), on a realistic mix (the two
memory metrics of each scenario in whole megabytes: a handful of distinct
values) and with every test tied (every value rounded to 1 % resolution). Tied
samples take the exact permutation null, counted once per tie pattern, so each
figure is a "cold" call (every cache cleared first: each gate's patterns are
new) and a "warm" one (the same gate again): the median CPU time of
``--rounds`` × 5 gates.

Run: ``nox -s bench -- gate`` or ``python tests/bench/bench_gate.py [--rounds N] [--decide-only]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared helpers in tests/support

from support.synthetic import make_baseline, make_result, summarised, write_baselines

from perfgate.decide import ranks
from perfgate.decide.stats import MetricTest, decide
from perfgate.files import write_model

SIZES = ((2, 3), (8, 25))
DECIDE_SIZES = ((5, 15), (17, 15), (20, 20))
DECIDE_DATA = ("no ties", "memory in MB", "all tied (1 %)")
# 6 metrics a scenario: (direction, median); the last two are memory peaks.
GATE_METRICS = (("lower", 120.0), ("lower", 1500.0), ("higher", 45.0), ("higher", 900.0), ("lower", 5200.0))
GATE_METRICS += (("lower", 5260.0),)
HEAVY = ("scipy", "scipy.stats", "numpy", "httpx", "ssl", "certifi", "pydantic", "tabulate")


def build(root: Path, tiers: int, scenarios: int) -> Path:
    """Results and baselines of ``tiers`` × ``scenarios`` under ``root``; returns ``root``."""
    names = tuple(f"scenario-{i:02d}" for i in range(scenarios))
    results = root / "results"
    results.mkdir(parents=True)
    baselines = []
    for k in range(tiers):
        tier = f"tier{k}"
        scale = {"ttft_ms": 1.2} if k == 0 else None
        result = make_result(seed=100 + k, tier=tier, n=10, scenarios=names, scale=scale)
        write_model(results / f"results-{tier}.json", summarised(result))
        baselines.append(make_baseline(seed=1 + k, tier=tier, n=15, scenarios=names))
    write_baselines(root / "baselines", *baselines)
    return root


def commands(data: dict[tuple[int, int], Path]) -> dict[str, tuple[list[str], int]]:
    """Name -> (argv, expected exit code)."""
    py = sys.executable
    found = {
        "python -c pass": ([py, "-c", "pass"], 0),
        "python -c 'import scipy.stats'": ([py, "-c", "import scipy.stats"], 0),
    }
    for (tiers, scenarios), root in data.items():
        size = f"{tiers}×{scenarios}"
        baselines = str(root / "baselines")
        found[f"compare {size}"] = (
            [py, "-m", "perfgate", "compare", str(root / "results"), "--baselines-dir", baselines],
            1,
        )
        found[f"gate {size}"] = (
            [py, "-m", "perfgate", "gate", "--results-dir", str(root / "results"), "--baselines-dir", baselines],
            1,
        )
    return found


def clean_env() -> dict[str, str]:
    """The environment without anything that would make the gate talk to GitHub or read another config."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "PERFGATE_")) and k != "PYTHONPROFILEIMPORTTIME"
    }


def time_once(argv: list[str], expected: int, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != expected:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}, expected {expected}:\n{done.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imported_by_compare(argv: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    """Which of HEAVY a compare process has imported when it is done."""
    code = (
        "import json, sys\n"
        "from perfgate.cli import main\n"
        f"main({argv[3:]!r})\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    done = subprocess.run([argv[0], "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return list(json.loads(done.stderr.strip().splitlines()[-1]))


def gate_tests(seed: int, n: int, m: int, data: str) -> list[MetricTest]:
    """A 36-test gate (2 tiers × 3 scenarios × 6 metrics), CV 3 %, no change, values as ``data`` says."""
    rng = random.Random(seed)
    tests = []
    for _ in range(2 * 3):
        for index, (direction, median) in enumerate(GATE_METRICS):
            memory = index >= len(GATE_METRICS) - 2

            def draw(size: int, median: float = median, memory: bool = memory) -> tuple[float, ...]:
                values = [median * math.exp(rng.gauss(0.0, 0.03 if not memory else 0.0003)) for _ in range(size)]
                if data == "all tied (1 %)":
                    return tuple(median * round(v / median, 2) for v in values)
                if data == "memory in MB" and memory:
                    return tuple(float(round(v)) for v in values)
                return tuple(values)

            tests.append(MetricTest(draw(m), draw(n), direction, 0.05, 0.05))  # type: ignore[arg-type]
    return tests


def clear_caches() -> None:
    for name in ("_u_null_cdf", "_tied_u_null", "_critical_rank", "normal_ppf"):
        cached = getattr(ranks, name, None)  # _tied_u_null is new with the exact tied p-values
        if cached is not None:
            cached.cache_clear()


def decide_cost(rounds: int) -> None:
    """Milliseconds per decide() of a 36-test gate, cold (caches cleared) and warm."""
    table = []
    for n, m in DECIDE_SIZES:
        for data in DECIDE_DATA:
            gates = [gate_tests(1000 * n + seed, n, m, data) for seed in range(rounds * 5)]
            tied = sum(len(set(t.current + t.baseline)) < n + m for t in gates[0])
            cold, warm = [], []
            for tests in gates:
                clear_caches()
                start = time.process_time()  # CPU time: what the count costs, whatever else the machine runs
                decide(tests)
                cold.append(time.process_time() - start)
                start = time.process_time()
                decide(tests)
                warm.append(time.process_time() - start)
            cold_ms, warm_ms = statistics.median(cold) * 1e3, statistics.median(warm) * 1e3
            table.append([f"{n} vs {m}", data, f"{tied}/36", f"{cold_ms:.2f}", f"{warm_ms:.2f}"])
    print("decide() on a 36-test gate, in process, CPU milliseconds (median; cold = every cache cleared first)\n")
    print(tabulate(table, headers=["runs", "values", "tests tied", "cold ms", "warm ms"], disable_numparse=True))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds (the median is reported)")
    parser.add_argument("--decide-only", action="store_true", help="only the in-process decide() figures")
    args = parser.parse_args()
    decide_cost(args.rounds)
    if args.decide_only:
        return

    with tempfile.TemporaryDirectory(prefix="perfgate-bench-gate-") as tmp:
        work = Path(tmp)
        data = {size: build(work / f"{size[0]}x{size[1]}", *size) for size in SIZES}
        cwd = work / "cwd"  # no pyproject.toml here: the default config, as the files were built for
        cwd.mkdir()
        env = clean_env()
        runs = commands(data)
        names = list(runs)
        for name in names:  # one warm-up each: the page cache, .pyc files
            time_once(*runs[name], cwd, env)
        wall: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        started = time.perf_counter()
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                wall_s, cpu_s = time_once(*runs[name], cwd, env)
                wall[name].append(wall_s)
                cpu[name].append(cpu_s)
        spent = time.perf_counter() - started
        heavy = imported_by_compare(runs["compare 2×3"][0], cwd, env)
    report(wall, cpu, args.rounds)
    print(f"modules of {', '.join(HEAVY)} imported by `perfgate compare`: {', '.join(heavy) or 'none'}")
    print(f"wall time {spent:.1f} s")


def report(wall: dict[str, list[float]], cpu: dict[str, list[float]], rounds: int) -> None:
    """The table of medians with the targets, then the ratios."""
    median = {name: statistics.median(values) for name, values in wall.items()}
    cpu_median = {name: statistics.median(values) for name, values in cpu.items()}
    scipy_s = median["python -c 'import scipy.stats'"]

    def row(name: str, target: float | None = None, label: str = "") -> list[str]:
        low, high = min(wall[name]), max(wall[name])
        figures = [name, f"{median[name]:.3f}", f"{low:.3f}–{high:.3f}", f"{cpu_median[name]:.3f}"]
        if target is None:
            return [*figures, "", ""]
        return [*figures, f"< {target:.3f} ({label})", "✓" if median[name] < target else "✗"]

    table = [row("python -c pass"), row("python -c 'import scipy.stats'")]
    for command in ("compare", "gate"):
        table.append(row(f"{command} 2×3", scipy_s, "import scipy.stats"))
        table.append(row(f"{command} 8×25", 2 * median[f"{command} 2×3"], f"2 × {command} 2×3"))
    print(f"Whole process, seconds: wall time (median of {rounds} interleaved rounds, min–max) and CPU time (median)\n")
    headers = ["process", "wall s", "min–max", "cpu s", "target (wall)", ""]
    print(tabulate(table, headers=headers, disable_numparse=True))
    print()
    for command in ("compare", "gate"):
        small, large = f"{command} 2×3", f"{command} 8×25"
        cpu_ratio = cpu_median[large] / cpu_median[small]
        print(
            f"{command}: 2×3 is {median[small] / scipy_s:.2f}× import scipy.stats; 8×25 is "
            f"{median[large] / median[small]:.2f}× its 2×3 figure (CPU time: {cpu_ratio:.2f}×)"
        )


if __name__ == "__main__":
    main()
