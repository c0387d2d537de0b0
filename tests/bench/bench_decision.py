"""Benchmark (not a test): how the decision rule behaves at the floor, 5 current vs 15 baseline runs.

Simulates whole gates of 2 tiers × 3 scenarios × 6 metrics (36 gating tests:
``ttft_ms`` 10 % lower-is-better, ``e2e_ms`` 10 % lower, ``decode_tok_s`` 5 %
higher, ``prefill_tok_s`` 10 % higher, ``peak_runtime_rss_mb`` 5 % lower,
``itl_ms_p50`` 10 % lower) on synthetic lognormal samples with CV 3 %, 5 %, 8 %,
and CV 5 % with outliers (each sample independently × 1.5 with probability
0.05), and decides each gate with ``perfgate.decide.stats.decide`` at α = 0.05.

For every noise level it prints one row per rule:

* ``perfgate``: the gate's rule (Hodges–Lehmann effect beyond the threshold
  AND Holm-adjusted exact Mann–Whitney p < α);
* ``median ratio``: regressed when median(C)/median(B) − 1 is beyond the
  threshold in the worse direction (no significance test);
* ``MW p<0.05``: regressed when the per-metric one-sided Mann–Whitney p < 0.05
  (no threshold, no multiplicity control).

Columns: the A/A false-alarm rate per gate (any ``regressed`` verdict among the
36 tests when nothing changed; target ≤ 1 %), the share of A/A tests shown
``unchanged`` vs ``inconclusive`` (perfgate only: the other rules have no such
verdicts), and the power to flag a +15 % and a +20 % regression injected into
one tier × scenario's ``ttft_ms`` with the other 35 tests A/A (targets ≥ 90 %
and ≥ 99 % at CV 5 %). ✓ / ✗ mark targets met / missed. A second table
breaks perfgate's A/A false alarms down by metric and its misses on the
injected test down by cause (not significant after Holm, or estimate within
the threshold). The last lines give the Monte Carlo precision, the cost of
``decide()`` per gate and the wall time.

Every setting has its own fixed seed, so the figures are reproducible and do
not depend on ``--jobs``. Run: ``nox -s bench -- decision`` or
``python tests/bench/bench_decision.py [--gates N] [--jobs J]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from tabulate import tabulate

from perfgate.decide.stats import Direction, MetricTest, decide

SEED = 20_240_601
ALPHA = 0.05
N_CURRENT, N_BASELINE = 5, 15
TIERS, SCENARIOS = 2, 3

# name, direction, threshold (worse and better alike), a plausible median.
METRICS: tuple[tuple[str, Direction, float, float], ...] = (
    ("ttft_ms", "lower", 0.10, 180.0),
    ("e2e_ms", "lower", 0.10, 2400.0),
    ("decode_tok_s", "higher", 0.05, 45.0),
    ("prefill_tok_s", "higher", 0.10, 900.0),
    ("peak_runtime_rss_mb", "lower", 0.05, 5200.0),
    ("itl_ms_p50", "lower", 0.10, 22.0),
)
N_TESTS = TIERS * SCENARIOS * len(METRICS)
DIRECTIONS = tuple(METRICS[i % len(METRICS)][1] for i in range(N_TESTS))
THRESHOLDS = np.array([METRICS[i % len(METRICS)][2] for i in range(N_TESTS)])
MEDIANS = np.array([METRICS[i % len(METRICS)][3] for i in range(N_TESTS)])
HIGHER = np.array([d == "higher" for d in DIRECTIONS])
INJECTED = 0  # tier 0, scenario 0, ttft_ms

# label, CV, outlier probability
NOISES: tuple[tuple[str, float, float], ...] = (
    ("CV 3 %", 0.03, 0.0),
    ("CV 5 %", 0.05, 0.0),
    ("CV 8 %", 0.08, 0.0),
    ("CV 5 % + 5 % outliers ×1.5", 0.05, 0.05),
)
SHIFTS = (0.0, 0.15, 0.20)  # scenario 0 is A/A
TARGET_FALSE_ALARM = 0.01
TARGET_POWER = {0.15: 0.90, 0.20: 0.99}
POWER_TARGET_NOISE = "CV 5 %"
RULES = ("perfgate", "median ratio", "MW p<0.05")


@dataclass(frozen=True)
class SettingResult:
    noise: int
    shift: float
    gates: int
    # per rule: gates with any regressed test (A/A) or with the injected test regressed (shift > 0)
    flagged: dict[str, int]
    verdicts: dict[str, int]  # perfgate's verdicts over every test of every gate
    regressed_by_metric: dict[str, int]  # perfgate's regressed verdicts, summed over tiers × scenarios
    # perfgate's misses on the injected test: Holm-adjusted p >= α, estimate within the threshold
    missed_not_significant: int
    missed_within_threshold: int
    decide_seconds: float


def samples(rng: np.random.Generator, gates: int, n: int, cv: float, outliers: float) -> np.ndarray:
    """(gates, tests, n) lognormal samples with the given CV around each metric's median."""
    sigma = math.sqrt(math.log1p(cv * cv))
    values = MEDIANS[None, :, None] * np.exp(rng.normal(0.0, sigma, size=(gates, N_TESTS, n)))
    if outliers > 0:
        values *= np.where(rng.random(values.shape) < outliers, 1.5, 1.0)
    return values


def run_setting(noise: int, shift_index: int, gates: int) -> SettingResult:
    _, cv, outliers = NOISES[noise]
    shift = SHIFTS[shift_index]
    rng = np.random.default_rng(np.random.SeedSequence([SEED, noise, shift_index]))
    baseline = samples(rng, gates, N_BASELINE, cv, outliers)
    current = samples(rng, gates, N_CURRENT, cv, outliers)
    current[:, INJECTED, :] *= 1.0 + shift  # ttft_ms is lower-is-better: larger is worse

    # Baseline rules, vectorised over every test of every gate.
    ratio = np.median(current, axis=-1) / np.median(baseline, axis=-1) - 1.0
    worse = np.where(HIGHER, -ratio, ratio)
    median_regressed = worse > THRESHOLDS
    sign = np.where(HIGHER, -1.0, 1.0)[None, :, None]  # orient so that worse is larger
    mw_p = sps.mannwhitneyu(current * sign, baseline * sign, alternative="greater", method="exact", axis=-1).pvalue
    mw_regressed = mw_p < ALPHA

    start = time.process_time()  # this worker's CPU, so a busy machine does not inflate it
    perfgate_regressed = np.zeros((gates, N_TESTS), dtype=bool)
    verdicts = {"regressed": 0, "improved": 0, "unchanged": 0, "inconclusive": 0}
    not_significant = within_threshold = 0
    b_rows, c_rows = baseline.tolist(), current.tolist()
    for g in range(gates):
        tests = [
            MetricTest(
                tuple(b_rows[g][i]), tuple(c_rows[g][i]), DIRECTIONS[i], float(THRESHOLDS[i]), float(THRESHOLDS[i])
            )
            for i in range(N_TESTS)
        ]
        for i, d in enumerate(decide(tests, alpha=ALPHA)):
            verdicts[d.verdict] += 1
            perfgate_regressed[g, i] = d.verdict == "regressed"
            if i == INJECTED and shift > 0 and d.verdict != "regressed":
                not_significant += d.p_worse_adjusted >= ALPHA
                within_threshold += d.change <= THRESHOLDS[i]
    elapsed = time.process_time() - start

    def count(regressed: np.ndarray) -> int:
        hit = regressed.any(axis=1) if shift == 0 else regressed[:, INJECTED]
        return int(hit.sum())

    flagged = {
        "perfgate": count(perfgate_regressed),
        "median ratio": count(median_regressed),
        "MW p<0.05": count(mw_regressed),
    }
    per_metric = perfgate_regressed.sum(axis=0).reshape(TIERS * SCENARIOS, len(METRICS)).sum(axis=0)
    by_metric = {name: int(k) for (name, *_), k in zip(METRICS, per_metric, strict=True)}
    return SettingResult(noise, shift, gates, flagged, verdicts, by_metric, not_significant, within_threshold, elapsed)


def pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def mark(value: float, target: float, *, at_most: bool) -> str:
    met = value <= target if at_most else value >= target
    return f"{pct(value)} {'✓' if met else '✗'}"


def table(results: list[SettingResult]) -> str:
    by_key = {(r.noise, r.shift): r for r in results}
    rows = []
    for noise, (label, _, _) in enumerate(NOISES):
        aa = by_key[(noise, 0.0)]
        for rule in RULES:
            false_alarms = aa.flagged[rule] / aa.gates
            row = [label, rule, mark(false_alarms, TARGET_FALSE_ALARM, at_most=True)]
            if rule == "perfgate":
                total = sum(aa.verdicts.values())
                row += [pct(aa.verdicts["unchanged"] / total), pct(aa.verdicts["inconclusive"] / total)]
            else:
                row += ["—", "—"]
            for shift in SHIFTS[1:]:
                r = by_key[(noise, shift)]
                power = r.flagged[rule] / r.gates
                row.append(
                    mark(power, TARGET_POWER[shift], at_most=False) if label == POWER_TARGET_NOISE else pct(power)
                )
            rows.append(row)
    headers = [
        "noise",
        "rule",
        "A/A false alarms/gate",
        "A/A unchanged %",
        "A/A inconclusive %",
        "power +15 %",
        "power +20 %",
    ]
    return tabulate(rows, headers=headers, colalign=("left", "left", "right", "right", "right", "right", "right"))


def breakdown(results: list[SettingResult]) -> str:
    """Where perfgate's A/A false alarms and missed regressions come from."""
    by_key = {(r.noise, r.shift): r for r in results}
    rows = []
    for noise, (label, _, _) in enumerate(NOISES):
        aa = by_key[(noise, 0.0)]
        row: list[str | int] = [label, *(aa.regressed_by_metric[name] for name, *_ in METRICS)]
        for shift in SHIFTS[1:]:
            r = by_key[(noise, shift)]
            row.append(f"{r.missed_not_significant} / {r.missed_within_threshold}")
        rows.append(row)
    headers = ["noise", *(name for name, *_ in METRICS), "+15 % misses", "+20 % misses"]
    return tabulate(rows, headers=headers, colalign=("left", *("right",) * (len(headers) - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gates", type=int, default=2000, help="simulated gates per setting (default 2000)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all CPUs)")
    args = parser.parse_args()
    gates, jobs = args.gates, max(1, args.jobs)

    start = time.perf_counter()
    settings = [(noise, s) for noise in range(len(NOISES)) for s in range(len(SHIFTS))]
    n_settings = len(settings)
    if jobs == 1:
        results = [run_setting(noise, s, gates) for noise, s in settings]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(run_setting, *zip(*settings, strict=True), [gates] * n_settings))
    wall = time.perf_counter() - start

    print(
        f"{TIERS} tiers × {SCENARIOS} scenarios × {len(METRICS)} metrics = {N_TESTS} gating tests per gate, "
        f"{N_CURRENT} current vs {N_BASELINE} baseline runs, α = {ALPHA}, {gates} gates per setting, seed {SEED}"
    )
    print()
    print(table(results))
    print()
    print("perfgate's A/A regressed verdicts by metric (over all gates), and its misses on the injected")
    print("test as 'Holm-adjusted p >= α / estimate within the threshold' (a miss can be both):")
    print()
    print(breakdown(results))
    print()
    # Binomial standard errors, so a ✗ near a target is read with its uncertainty.
    se_1 = math.sqrt(0.01 * 0.99 / gates)
    se_90 = math.sqrt(0.90 * 0.10 / gates)
    print(f"Monte Carlo standard error: ±{se_1 * 100:.2f} points at 1 %, ±{se_90 * 100:.2f} points at 90 %.")
    decide_total = sum(r.decide_seconds for r in results)
    decide_gates = gates * n_settings
    print(
        f"decide(): {decide_total:.1f} s CPU over {decide_gates} gates "
        f"({decide_total / decide_gates * 1e3:.2f} ms per {N_TESTS}-test gate); "
        f"total wall time {wall:.1f} s with {jobs} worker(s)."
    )


if __name__ == "__main__":
    main()
