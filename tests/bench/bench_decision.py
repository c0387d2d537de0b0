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

Then the same simulated gates (same seeds, the same first 5 current runs) are
decided by the **sequential** policy of ``--until-conclusive``
(``perfgate.decide.sequential``): look 1 after 5 runs; at look k all 36 tests
are decided with ``decide(..., alpha=alpha_at_look(0.05, k, plan),
interval_alpha=0.05)``; every (tier, scenario) that
``unsettled_scenarios`` names — an unconfirmed regression, a suspected one
(inconclusive, estimate past the threshold), or an inconclusive metric whose
runs-needed estimate fits in the runs the plan has left — gets ``batch_runs``
fresh runs of all its metrics (drawn from the same distribution, injected
shift included); a
regression seen at two consecutive looks is confirmed (``newly_confirmed``);
the run stops when nothing is unsettled or after ``max_looks`` looks, and the
last look's verdicts are final. The extra runs come from their own seeded
stream, drawn run by run, so every plan sees the same extra samples in the
same order. A third table sets the fixed-n rule and each plan side by side:
A/A false alarms per gate (any final ``regressed``), power at +15 % / +20 %,
and the mean and 95th percentile of the runs used per scenario in the A/A
gates (target: mean ≤ 2 × 5 at CV 5 %); a fourth gives the sequential details
(confirmed = what triage would file; "any look" = a regressed verdict at some
look, the event the union bound keeps ≤ α). With several ``--plan`` a last
table ranks the plans by targets met at CV 5 %, then by mean runs.

Every setting has its own fixed seed, so the figures are reproducible and do
not depend on ``--jobs``. Run: ``nox -s bench -- decision`` or
``python tests/bench/bench_decision.py [--gates N] [--jobs J] [--plan K,B,RHO ...]``.
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

from perfgate.contracts.gate import Verdict, VerdictKind
from perfgate.decide.sequential import SequentialPlan, alpha_at_look, newly_confirmed, unsettled_scenarios
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
N_SCENARIOS = TIERS * SCENARIOS  # (tier, scenario) pairs: the unit the sequential policy re-runs
# Test i is metric i % 6 of scenario i // 6 (tier-major), named as a gate report would.
SCENARIO_OF = tuple(i // len(METRICS) for i in range(N_TESTS))
SCENARIO_KEYS = tuple((f"tier{j // SCENARIOS}", f"scenario{j % SCENARIOS}") for j in range(N_SCENARIOS))
SCENARIO_INDEX = {key: j for j, key in enumerate(SCENARIO_KEYS)}

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
TARGET_MEAN_RUNS = 2 * N_CURRENT  # the sequential policy may at most double the runs on average (CV 5 %)
RULES = ("perfgate", "median ratio", "MW p<0.05")
PlanKey = tuple[int, int, float]  # (max_looks, batch_runs, rho): picklable for the worker processes


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


def simulate(noise: int, shift_index: int, gates: int, extra: int) -> tuple[np.ndarray, np.ndarray]:
    """Baseline (gates, tests, 15) and current (gates, tests, 5 + extra) samples, shift injected.

    The first 5 current runs are the fixed-n rule's, drawn exactly as before.
    The extra runs come from a second seeded stream, one run at a time, so run
    j is the same whatever the plan asks for in total.
    """
    _, cv, outliers = NOISES[noise]
    rng = np.random.default_rng(np.random.SeedSequence([SEED, noise, shift_index]))
    baseline = samples(rng, gates, N_BASELINE, cv, outliers)
    current = samples(rng, gates, N_CURRENT, cv, outliers)
    if extra > 0:
        more = np.random.default_rng(np.random.SeedSequence([SEED, noise, shift_index, 1]))
        current = np.concatenate([current, *(samples(more, gates, 1, cv, outliers) for _ in range(extra))], axis=-1)
    current[:, INJECTED, :] *= 1.0 + SHIFTS[shift_index]  # ttft_ms is lower-is-better: larger is worse
    return baseline, current


def run_setting(noise: int, shift_index: int, gates: int) -> SettingResult:
    shift = SHIFTS[shift_index]
    baseline, current = simulate(noise, shift_index, gates, 0)

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


@dataclass(frozen=True)
class SequentialResult:
    noise: int
    shift: float
    plan: PlanKey
    gates: int
    # gates with a final regressed verdict on any test (A/A) or on the injected test (shift > 0) ...
    flagged: int
    flagged_confirmed: int  # ... that is also confirmed (what triage files by default)
    flagged_any_look: int  # ... at any look, final or not (the event the union bound keeps <= α)
    runs: np.ndarray  # (gates, N_SCENARIOS): current runs each scenario ended with
    looks: np.ndarray  # (gates,): looks taken
    verdicts: dict[str, int]  # final verdicts over every test of every gate
    decide_seconds: float
    decide_calls: int


def plan_label(plan: PlanKey) -> str:
    looks, batch, rho = plan
    return f"sequential K={looks} B={batch} ρ={rho:g}"


def run_sequential(noise: int, shift_index: int, gates: int, plan_key: PlanKey) -> SequentialResult:
    """The --until-conclusive policy over the same gates as run_setting (same seeds, same first 5 runs)."""
    plan = SequentialPlan(*plan_key)
    shift = SHIFTS[shift_index]
    baseline, current = simulate(noise, shift_index, gates, (plan.max_looks - 1) * plan.batch_runs)
    levels = [alpha_at_look(ALPHA, k, plan) for k in range(1, plan.max_looks + 1)]
    thresholds = [float(t) for t in THRESHOLDS]
    names = [(*SCENARIO_KEYS[SCENARIO_OF[i]], METRICS[i % len(METRICS)][0]) for i in range(N_TESTS)]
    watched = range(N_TESTS) if shift == 0 else [INJECTED]
    runs = np.full((gates, N_SCENARIOS), N_CURRENT)
    looks = np.zeros(gates, dtype=int)
    verdict_counts = {"regressed": 0, "improved": 0, "unchanged": 0, "inconclusive": 0}
    flagged = flagged_confirmed = flagged_any_look = calls = 0

    start = time.process_time()
    b_rows, c_rows = baseline.tolist(), current.tolist()
    for g in range(gates):
        n = runs[g]  # a view: updated in place as scenarios are re-run
        base = [tuple(row) for row in b_rows[g]]
        confirmed: set[tuple[str, str, str]] = set()
        previous: list[Verdict] = []
        seen = False
        for k, level in enumerate(levels, start=1):
            tests = [
                MetricTest(base[i], tuple(c_rows[g][i][: n[SCENARIO_OF[i]]]), DIRECTIONS[i], t, t)
                for i, t in enumerate(thresholds)
            ]
            decisions = decide(tests, alpha=level, interval_alpha=ALPHA)
            calls += 1
            verdicts = [
                Verdict(
                    tier=tier,
                    scenario=scenario,
                    metric=metric,
                    unit="",
                    direction=DIRECTIONS[i],
                    informational=False,
                    verdict=VerdictKind(d.verdict),
                    threshold_worse=thresholds[i],
                    threshold_better=thresholds[i],
                    runs_needed=d.runs_needed,
                    change=d.change,
                )
                for i, ((tier, scenario, metric), d) in enumerate(zip(names, decisions, strict=True))
            ]
            seen = seen or any(decisions[i].verdict == "regressed" for i in watched)
            confirmed |= newly_confirmed(previous, verdicts)
            left = (plan.max_looks - k) * plan.batch_runs  # runs any scenario may still get
            unsettled = unsettled_scenarios(verdicts, confirmed, dict.fromkeys(SCENARIO_KEYS, left))
            if not unsettled or k == plan.max_looks:
                break
            for key in unsettled:
                n[SCENARIO_INDEX[key]] += plan.batch_runs
            previous = verdicts
        looks[g] = k
        for d in decisions:
            verdict_counts[d.verdict] += 1
        final = [i for i in watched if decisions[i].verdict == "regressed"]
        flagged += bool(final)
        flagged_confirmed += any(names[i] in confirmed for i in final)
        flagged_any_look += seen
    elapsed = time.process_time() - start
    return SequentialResult(
        noise,
        shift,
        plan_key,
        gates,
        flagged,
        flagged_confirmed,
        flagged_any_look,
        runs,
        looks,
        verdict_counts,
        elapsed,
        calls,
    )


def run_task(task: tuple[int, int, int, PlanKey | None]) -> SettingResult | SequentialResult:
    noise, shift_index, gates, plan = task
    return run_setting(noise, shift_index, gates) if plan is None else run_sequential(noise, shift_index, gates, plan)


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


def runs_summary(result: SequentialResult) -> tuple[float, int]:
    """Mean and 95th percentile (an actual run count) of the runs used per scenario."""
    return float(result.runs.mean()), int(np.percentile(result.runs, 95, method="inverted_cdf"))


def mark_runs(mean: float, label: str) -> str:
    if label != POWER_TARGET_NOISE:
        return f"{mean:.1f}"
    return f"{mean:.1f} {'✓' if mean <= TARGET_MEAN_RUNS else '✗'}"


def power_cell(power: float, shift: float, label: str) -> str:
    return mark(power, TARGET_POWER[shift], at_most=False) if label == POWER_TARGET_NOISE else pct(power)


def comparison(results: list[SettingResult], sequential: list[SequentialResult], plans: list[PlanKey]) -> str:
    """Fixed n = 5 vs each sequential plan over the same gates; runs are the A/A gates'."""
    fixed = {(r.noise, r.shift): r for r in results}
    seq = {(r.noise, r.shift, r.plan): r for r in sequential}
    rows = []
    for noise, (label, _, _) in enumerate(NOISES):
        aa = fixed[(noise, 0.0)]
        row = [
            label,
            f"fixed n = {N_CURRENT}",
            mark(aa.flagged["perfgate"] / aa.gates, TARGET_FALSE_ALARM, at_most=True),
        ]
        row += [power_cell(fixed[(noise, s)].flagged["perfgate"] / aa.gates, s, label) for s in SHIFTS[1:]]
        row += [mark_runs(N_CURRENT, label), str(N_CURRENT)]
        rows.append(row)
        for plan in plans:
            aa_seq = seq[(noise, 0.0, plan)]
            mean, p95 = runs_summary(aa_seq)
            row = [label, plan_label(plan), mark(aa_seq.flagged / aa_seq.gates, TARGET_FALSE_ALARM, at_most=True)]
            row += [power_cell(seq[(noise, s, plan)].flagged / aa_seq.gates, s, label) for s in SHIFTS[1:]]
            row += [mark_runs(mean, label), str(p95)]
            rows.append(row)
    headers = [
        "noise",
        "policy",
        "A/A false alarms/gate",
        "power +15 %",
        "power +20 %",
        "runs/scenario mean",
        "runs/scenario p95",
    ]
    return tabulate(rows, headers=headers, colalign=("left", "left", *("right",) * 5))


def sequential_details(sequential: list[SequentialResult], plans: list[PlanKey]) -> str:
    """What the sequential runs did: union-bound event, confirmation, final verdict mix, looks."""
    seq = {(r.noise, r.shift, r.plan): r for r in sequential}
    rows = []
    for noise, (label, _, _) in enumerate(NOISES):
        for plan in plans:
            aa = seq[(noise, 0.0, plan)]
            total = sum(aa.verdicts.values())
            row = [
                label,
                plan_label(plan),
                mark(aa.flagged_any_look / aa.gates, ALPHA, at_most=True),
                pct(aa.flagged_confirmed / aa.gates),
                pct(aa.verdicts["unchanged"] / total),
                pct(aa.verdicts["inconclusive"] / total),
                f"{aa.looks.mean():.2f}",
            ]
            for shift in SHIFTS[1:]:
                r = seq[(noise, shift, plan)]
                row.append(f"{pct(r.flagged_confirmed / r.gates)} / {r.runs[:, SCENARIO_OF[INJECTED]].mean():.1f}")
            rows.append(row)
    headers = [
        "noise",
        "policy",
        "A/A regressed at any look",
        "A/A confirmed",
        "A/A final unchanged %",
        "A/A final inconclusive %",
        "A/A looks",
        "+15 %: confirmed / runs",
        "+20 %: confirmed / runs",
    ]
    return tabulate(rows, headers=headers, colalign=("left", "left", *("right",) * 7))


def plan_score(sequential: list[SequentialResult], plan: PlanKey) -> tuple[int, float, float, dict[str, float]]:
    """Targets met at CV 5 % (of 4), worst A/A false-alarm rate over the noise levels, mean runs at CV 5 %."""
    target_noise = next(i for i, (label, _, _) in enumerate(NOISES) if label == POWER_TARGET_NOISE)
    seq = {(r.noise, r.shift): r for r in sequential if r.plan == plan}
    aa = seq[(target_noise, 0.0)]
    figures = {
        "false alarms": aa.flagged / aa.gates,
        "power +15 %": seq[(target_noise, 0.15)].flagged / aa.gates,
        "power +20 %": seq[(target_noise, 0.20)].flagged / aa.gates,
        "mean runs": runs_summary(aa)[0],
    }
    met = (
        int(figures["false alarms"] <= TARGET_FALSE_ALARM)
        + int(figures["power +15 %"] >= TARGET_POWER[0.15])
        + int(figures["power +20 %"] >= TARGET_POWER[0.20])
        + int(figures["mean runs"] <= TARGET_MEAN_RUNS)
    )
    worst = max(r.flagged / r.gates for (_, shift), r in seq.items() if shift == 0.0)
    return met, worst, figures["mean runs"], figures


def ranking(sequential: list[SequentialResult], plans: list[PlanKey]) -> tuple[str, PlanKey]:
    """Plans ranked by targets met at CV 5 %, then fewer runs, then the worst A/A false-alarm rate."""
    scored = [(plan, *plan_score(sequential, plan)) for plan in plans]
    scored.sort(key=lambda row: (-row[1], row[3], row[2]))
    rows = [
        [
            plan_label(plan),
            f"{met} / 4",
            pct(figures["false alarms"]),
            pct(figures["power +15 %"]),
            pct(figures["power +20 %"]),
            f"{mean:.1f}",
            pct(worst),
        ]
        for plan, met, worst, mean, figures in scored
    ]
    headers = [
        "plan",
        "CV 5 % targets met",
        "A/A false alarms",
        "power +15 %",
        "power +20 %",
        "runs mean",
        "worst A/A false alarms (any noise)",
    ]
    return tabulate(rows, headers=headers, colalign=("left", *("right",) * 6)), scored[0][0]


def parse_plan(text: str) -> PlanKey:
    try:
        looks, batch, rho = text.split(",")
        plan = SequentialPlan(int(looks), int(batch), float(rho))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--plan wants K,B,RHO such as 4,5,2 ({exc})") from exc
    return plan.max_looks, plan.batch_runs, plan.rho


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gates", type=int, default=2000, help="simulated gates per setting (default 2000)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all CPUs)")
    parser.add_argument(
        "--plan",
        type=parse_plan,
        action="append",
        metavar="K,B,RHO",
        help="a sequential plan: max looks, runs per extra batch, spending exponent; repeat to compare "
        "(default: perfgate's SequentialPlan(), 5,3,2)",
    )
    args = parser.parse_args()
    gates, jobs = args.gates, max(1, args.jobs)
    default = SequentialPlan()
    plans: list[PlanKey] = list(dict.fromkeys(args.plan or [(default.max_looks, default.batch_runs, default.rho)]))

    start = time.perf_counter()
    settings = [(noise, s) for noise in range(len(NOISES)) for s in range(len(SHIFTS))]
    # Sequential tasks first: they are the long ones, so the pool ends evenly.
    tasks = [(noise, s, gates, plan) for plan in plans for noise, s in settings]
    tasks += [(noise, s, gates, None) for noise, s in settings]
    if jobs == 1:
        done = [run_task(task) for task in tasks]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(run_task, tasks))
    wall = time.perf_counter() - start
    results = [r for r in done if isinstance(r, SettingResult)]
    sequential = [r for r in done if isinstance(r, SequentialResult)]
    n_settings = len(settings)

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
    print("Fixed n vs sequential (--until-conclusive) over the same gates. Runs per scenario are the A/A gates';")
    print(f"target at {POWER_TARGET_NOISE}: mean ≤ {TARGET_MEAN_RUNS} (2 × {N_CURRENT}). α_k for k = 1..K per plan:")
    for plan in plans:
        levels = ", ".join(f"{alpha_at_look(ALPHA, k, SequentialPlan(*plan)):.5f}" for k in range(1, plan[0] + 1))
        print(f"  {plan_label(plan)}: {levels}")
    print()
    print(comparison(results, sequential, plans))
    print()
    print("Sequential details: A/A gates with a regressed verdict at any look (the union bound keeps it ≤ α),")
    print("A/A gates with a confirmed (filed) false alarm, the final verdict mix and looks taken; for the")
    print("injected regression, the share confirmed and the mean runs its scenario used:")
    print()
    print(sequential_details(sequential, plans))
    if len(plans) > 1:
        text, best = ranking(sequential, plans)
        print()
        print(f"Plans ranked by {POWER_TARGET_NOISE} targets met, then mean runs, then worst A/A false alarms:")
        print()
        print(text)
        print()
        print(f"Best plan: {plan_label(best)}.")
    print()
    # Binomial standard errors, so a ✗ near a target is read with its uncertainty.
    se_1 = math.sqrt(0.01 * 0.99 / gates)
    se_90 = math.sqrt(0.90 * 0.10 / gates)
    print(f"Monte Carlo standard error: ±{se_1 * 100:.2f} points at 1 %, ±{se_90 * 100:.2f} points at 90 %.")
    decide_total = sum(r.decide_seconds for r in results)
    decide_gates = gates * n_settings
    print(
        f"decide(): {decide_total:.1f} s CPU over {decide_gates} gates "
        f"({decide_total / decide_gates * 1e3:.2f} ms per {N_TESTS}-test gate) for the fixed-n rule;"
    )
    seq_total = sum(r.decide_seconds for r in sequential)
    seq_calls = sum(r.decide_calls for r in sequential)
    print(
        f"sequential: {seq_total:.1f} s CPU over {seq_calls} looks ({seq_total / seq_calls * 1e3:.2f} ms per look); "
        f"total wall time {wall:.1f} s with {jobs} worker(s)."
    )


if __name__ == "__main__":
    main()
