"""The sequential plan: alpha spending, which scenarios get more runs, confirmation, and error control."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from support.synthetic import make_result

from perfgate.config import SequentialConfig
from perfgate.contracts.gate import Verdict, VerdictKind
from perfgate.contracts.results import LoadedResults, ScenarioMetric, SequentialRecord
from perfgate.decide.sequential import (
    SequentialPlan,
    alpha_at_look,
    newly_confirmed,
    sequential_alpha,
    spent,
    suspected_regression,
    unsettled_scenarios,
)
from perfgate.decide.stats import MetricTest, decide

ALPHA = 0.05
PLANS = [SequentialPlan(k, b, rho) for k in (1, 2, 3, 4, 5, 6) for b in (3, 5) for rho in (0.5, 1.0, 2.0, 3.0)]


def verdict(
    scenario: str,
    metric: str,
    kind: VerdictKind,
    *,
    tier: str = "t",
    informational: bool = False,
    change: float | None = None,
    runs_needed: int | None = None,
    direction: str = "lower",
    interval: tuple[float, float] | None = None,
) -> Verdict:
    return Verdict(
        tier=tier,
        scenario=scenario,
        metric=metric,
        unit="ms",
        direction=direction,
        informational=informational,
        verdict=kind,
        threshold_worse=0.1,
        threshold_better=0.1,
        change=change,
        change_low=None if interval is None else interval[0],
        change_high=None if interval is None else interval[1],
        runs_needed=runs_needed,
    )


# ----------------------------------------------------------------- spending


def test_the_default_plan_is_six_looks_of_four_runs_spending_quadratically():
    assert SequentialPlan() == SequentialPlan(max_looks=6, batch_runs=4, rho=2.0)
    levels = [alpha_at_look(ALPHA, k, SequentialPlan()) for k in range(1, 7)]
    # 0.05 × (1, 3, 5, 7, 9, 11) / 36: the numbers docs/statistics.md shows
    assert levels == pytest.approx([0.05 * k / 36 for k in (1, 3, 5, 7, 9, 11)], rel=1e-12)
    assert [round(level, 4) for level in levels] == [0.0014, 0.0042, 0.0069, 0.0097, 0.0125, 0.0153]
    assert math.fsum(levels) == pytest.approx(ALPHA, rel=1e-12)


@pytest.mark.parametrize("plan", PLANS, ids=str)
def test_the_increments_add_up_to_alpha(plan):
    levels = [alpha_at_look(ALPHA, k, plan) for k in range(1, plan.max_looks + 1)]
    assert all(level > 0 for level in levels)
    assert spent(ALPHA, plan.max_looks, plan) == ALPHA
    assert spent(ALPHA, 0, plan) == 0
    assert math.fsum(levels) == pytest.approx(ALPHA, rel=1e-12, abs=0)


@pytest.mark.parametrize("rho", [1.5, 2.0, 3.0])
@pytest.mark.parametrize("looks", [2, 4, 6])
def test_later_looks_get_more_alpha_when_rho_exceeds_one(looks, rho):
    plan = SequentialPlan(max_looks=looks, rho=rho)
    levels = [alpha_at_look(ALPHA, k, plan) for k in range(1, looks + 1)]
    assert all(a < b for a, b in pairwise(levels))


def test_rho_one_spends_evenly():
    plan = SequentialPlan(max_looks=5, rho=1.0)
    assert [alpha_at_look(ALPHA, k, plan) for k in range(1, 6)] == pytest.approx([ALPHA / 5] * 5, rel=1e-12)


@pytest.mark.parametrize("look", [0, -1, 7, 100])
def test_a_look_outside_the_plan_is_refused(look):
    with pytest.raises(ValueError, match=r"outside 1\.\.6"):
        alpha_at_look(ALPHA, look, SequentialPlan())


@pytest.mark.parametrize(("looks", "batch", "rho"), [(0, 5, 2.0), (4, 0, 2.0), (4, 5, 0.0), (4, 5, -1.0)])
def test_a_plan_that_cannot_run_is_refused(looks, batch, rho):
    with pytest.raises(ValueError, match="must be >= 1"):
        SequentialPlan(looks, batch, rho)


# ----------------------------------------------------------------- which scenarios get more runs


def test_inconclusive_and_unconfirmed_regressed_gating_metrics_ask_for_more_runs():
    verdicts = [
        verdict("settled", "ttft_ms", VerdictKind.UNCHANGED),
        verdict("settled", "e2e_ms", VerdictKind.IMPROVED),
        verdict("doubtful", "ttft_ms", VerdictKind.UNCHANGED),
        verdict("doubtful", "e2e_ms", VerdictKind.INCONCLUSIVE),
        verdict("suspected", "ttft_ms", VerdictKind.REGRESSED),
        verdict("suspected", "e2e_ms", VerdictKind.UNCHANGED),
    ]
    assert unsettled_scenarios(verdicts, set()) == {("t", "doubtful"), ("t", "suspected")}


def test_informational_metrics_never_ask_for_more_runs():
    verdicts = [
        verdict("quiet", "ttft_ms", VerdictKind.UNCHANGED),
        verdict("quiet", "itl_ms_p50", VerdictKind.INCONCLUSIVE, informational=True),
        verdict("quiet", "client_decode_tok_s", VerdictKind.REGRESSED, informational=True),
    ]
    assert unsettled_scenarios(verdicts, set()) == set()


def test_a_confirmed_regression_is_not_rerun():
    verdicts = [
        verdict("slow", "ttft_ms", VerdictKind.REGRESSED),
        verdict("slow", "e2e_ms", VerdictKind.UNCHANGED),
        verdict("slow", "ttft_ms", VerdictKind.REGRESSED, tier="other"),  # same names, another tier
    ]
    assert unsettled_scenarios(verdicts, {("t", "slow", "ttft_ms")}) == {("other", "slow")}
    assert unsettled_scenarios(verdicts, {("t", "slow", "ttft_ms"), ("other", "slow", "ttft_ms")}) == set()


def test_a_confirmed_regression_does_not_hide_an_inconclusive_metric_of_its_scenario():
    verdicts = [verdict("slow", "ttft_ms", VerdictKind.REGRESSED), verdict("slow", "e2e_ms", VerdictKind.INCONCLUSIVE)]
    assert unsettled_scenarios(verdicts, {("t", "slow", "ttft_ms")}) == {("t", "slow")}


def test_with_a_budget_only_inconclusive_verdicts_within_reach_get_more_runs():
    verdicts = [
        verdict("near", "ttft_ms", VerdictKind.INCONCLUSIVE, change=0.02, runs_needed=4),
        verdict("far", "ttft_ms", VerdictKind.INCONCLUSIVE, change=0.02, runs_needed=40),
        verdict("baseline-bound", "ttft_ms", VerdictKind.INCONCLUSIVE, change=0.02, runs_needed=None),
        verdict("edge", "ttft_ms", VerdictKind.INCONCLUSIVE, change=-0.05, runs_needed=10),
    ]
    remaining = {("t", name): 10 for name in ("near", "far", "baseline-bound", "edge")}
    assert unsettled_scenarios(verdicts, set(), remaining) == {("t", "near"), ("t", "edge")}
    # without a budget every inconclusive verdict still asks for more runs
    assert len(unsettled_scenarios(verdicts, set())) == 4
    # a scenario with no room left is not within reach, whatever its estimate
    assert unsettled_scenarios(verdicts, set(), {("t", "near"): 0}) == set()


def test_suspected_regressions_and_unconfirmed_regressions_are_chased_whatever_the_estimate():
    verdicts = [
        verdict("past-threshold", "ttft_ms", VerdictKind.INCONCLUSIVE, change=0.14, runs_needed=None),
        verdict("slower-decode", "decode_tok_s", VerdictKind.INCONCLUSIVE, change=-0.14, direction="higher"),
        verdict("faster-decode", "decode_tok_s", VerdictKind.INCONCLUSIVE, change=0.14, direction="higher"),
        verdict("regressed", "ttft_ms", VerdictKind.REGRESSED, change=0.3),
    ]
    assert unsettled_scenarios(verdicts, set(), {}) == {
        ("t", "past-threshold"),
        ("t", "slower-decode"),
        ("t", "regressed"),
    }


@pytest.mark.parametrize(
    ("kind", "direction", "change", "expected"),
    [
        (VerdictKind.INCONCLUSIVE, "lower", 0.11, True),
        (VerdictKind.INCONCLUSIVE, "lower", 0.09, False),  # within the 10 % threshold
        (VerdictKind.INCONCLUSIVE, "lower", -0.2, False),  # an improvement
        (VerdictKind.INCONCLUSIVE, "higher", -0.11, True),  # throughput down 11 %
        (VerdictKind.INCONCLUSIVE, "higher", 0.2, False),
        (VerdictKind.INCONCLUSIVE, "lower", None, False),
        (VerdictKind.REGRESSED, "lower", 0.3, False),  # decided, not suspected
    ],
)
def test_a_suspected_regression_is_an_inconclusive_estimate_past_the_worse_threshold(kind, direction, change, expected):
    assert suspected_regression(verdict("s", "m", kind, change=change, direction=direction)) is expected


def test_a_regression_is_confirmed_when_seen_at_two_consecutive_looks():
    first = [
        verdict("a", "ttft_ms", VerdictKind.REGRESSED),
        verdict("a", "e2e_ms", VerdictKind.REGRESSED),
        verdict("b", "ttft_ms", VerdictKind.INCONCLUSIVE),
    ]
    second = [
        verdict("a", "ttft_ms", VerdictKind.REGRESSED),  # seen twice: confirmed
        verdict("a", "e2e_ms", VerdictKind.INCONCLUSIVE),  # not seen again
        verdict("b", "ttft_ms", VerdictKind.REGRESSED),  # seen once so far
    ]
    assert newly_confirmed(first, second) == {("t", "a", "ttft_ms")}
    assert newly_confirmed([], second) == set()  # the first look confirms nothing
    third = [verdict("b", "ttft_ms", VerdictKind.REGRESSED)]
    assert newly_confirmed(second, third) == {("t", "b", "ttft_ms")}


def test_only_regressions_are_confirmed():
    same = [verdict("a", "ttft_ms", kind) for kind in (VerdictKind.IMPROVED, VerdictKind.INCONCLUSIVE)]
    assert newly_confirmed(same, same) == set()


# ----------------------------------------------------------------- error control across looks


def a_a_false_alarm_rate(gates: int, plan: SequentialPlan, seed: int) -> float:
    """Gates of 6 A/A tests run sequentially; the share with a regressed verdict at ANY look.

    Each test is its own scenario. Thresholds are 0 so that "regressed" rests
    on the Holm-adjusted p alone (with a real threshold the rate would sit far
    below alpha and prove nothing) and nothing can be shown "unchanged": every
    scenario is re-run at every look, the worst case for the union bound.
    """
    rng = np.random.default_rng(seed)
    tests, n_baseline, n_first = 6, 15, 5
    n_max = n_first + (plan.max_looks - 1) * plan.batch_runs
    sigma = math.sqrt(math.log1p(0.05**2))
    baseline = 100.0 * np.exp(rng.normal(0.0, sigma, size=(gates, tests, n_baseline)))
    current = 100.0 * np.exp(rng.normal(0.0, sigma, size=(gates, tests, n_max)))
    alarms = 0
    for g in range(gates):
        runs = [n_first] * tests
        confirmed: set[tuple[str, str, str]] = set()
        previous: list[Verdict] = []
        alarmed = False
        for k in range(1, plan.max_looks + 1):
            decisions = decide(
                [
                    MetricTest(tuple(baseline[g, i].tolist()), tuple(current[g, i, : runs[i]].tolist()), "lower", 0, 0)
                    for i in range(tests)
                ],
                alpha=alpha_at_look(ALPHA, k, plan),
                interval_alpha=ALPHA,
            )
            verdicts = [verdict(f"s{i}", "ttft_ms", VerdictKind(d.verdict)) for i, d in enumerate(decisions)]
            alarmed = alarmed or any(v.verdict is VerdictKind.REGRESSED for v in verdicts)
            confirmed |= newly_confirmed(previous, verdicts)
            unsettled = unsettled_scenarios(verdicts, confirmed)
            if not unsettled:
                break
            for _, scenario in unsettled:
                runs[int(scenario[1:])] += plan.batch_runs
            previous = verdicts
        alarms += alarmed
    return alarms / gates


def test_the_gate_wide_false_alarm_rate_over_all_looks_stays_at_or_below_alpha():
    gates = 300
    rate = a_a_false_alarm_rate(gates, SequentialPlan(max_looks=4, batch_runs=5, rho=2.0), seed=20_240_601)
    standard_error = math.sqrt(ALPHA * (1 - ALPHA) / gates)
    assert rate <= ALPHA + 3 * standard_error


def test_the_configured_default_is_the_plan_the_benchmark_measured():
    settings = SequentialConfig()
    assert SequentialPlan(settings.max_looks, settings.batch_runs, settings.rho) == SequentialPlan()


@pytest.mark.parametrize(
    "key", [ScenarioMetric("short-explain", "ttft_ms"), ScenarioMetric("long/prefill", "e2e_ms")], ids=str
)
def test_a_scenario_metric_key_is_written_and_read_back_in_one_place(key):
    assert key.key == f"{key.scenario}/{key.metric}"
    assert ScenarioMetric.parse(key.key) == key  # a '/' in a scenario name stays in the scenario


# A record as results files have always held it: 'scenario/metric' strings.
RECORD_JSON = """{
  "max_looks": 5, "batch_runs": 3, "rho": 2.0,
  "looks": [
    {"index": 1, "alpha": 0.002, "runs": {"short-explain": 5}, "verdicts": {"short-explain/ttft_ms": "regressed"},
     "rerun": ["short-explain"]},
    {"index": 2, "alpha": 0.006, "runs": {"short-explain": 8}, "verdicts": {"short-explain/ttft_ms": "regressed"}}
  ],
  "confirmed": ["short-explain/ttft_ms", "long/prefill/e2e_ms"],
  "stopped": "settled"
}"""


def test_the_gate_reads_a_results_files_confirmed_regressions_and_tests_at_its_next_look():
    record = SequentialRecord.model_validate_json(RECORD_JSON)
    assert record.confirmed_metrics == (
        ScenarioMetric("short-explain", "ttft_ms"),
        ScenarioMetric("long/prefill", "e2e_ms"),
    )
    result = make_result(seed=2, n=5).model_copy(update={"sequential": record})
    levels, confirmed = sequential_alpha([LoadedResults(Path("r.json"), result)], ALPHA)
    assert confirmed == {("pro", "short-explain", "ttft_ms"), ("pro", "long/prefill", "e2e_ms")}
    assert levels == {"pro": pytest.approx(alpha_at_look(ALPHA, 2, SequentialPlan(5, 3, 2.0)))}


def test_fixed_n_results_leave_alpha_as_it_is():
    levels, confirmed = sequential_alpha([LoadedResults(Path("r.json"), make_result(seed=2, n=5))], ALPHA)
    assert (levels, confirmed) == ({}, frozenset())  # a tier not in the mapping is tested at alpha


@pytest.mark.parametrize(
    ("direction", "change", "interval", "expected"),
    [
        ("lower", 0.09, (0.06, 0.13), True),  # worse for sure, maybe past 10 %
        ("lower", 0.09, (-0.01, 0.13), False),  # maybe no change at all: not suspected
        ("lower", 0.05, (0.02, 0.08), False),  # worse, but within the threshold
        ("higher", -0.09, (-0.13, -0.06), True),  # throughput down 6-13 %
        ("higher", -0.09, (-0.13, 0.01), False),
    ],
)
def test_a_suspected_regression_is_also_a_worse_interval_that_reaches_the_threshold(
    direction, change, interval, expected
):
    v = verdict("s", "m", VerdictKind.INCONCLUSIVE, change=change, direction=direction, interval=interval)
    assert suspected_regression(v) is expected
