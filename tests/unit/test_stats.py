from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats as sps

from perfgate.decide.stats import (
    EXACT_LIMIT,
    Decision,
    Direction,
    MetricTest,
    decide,
    hodges_lehmann,
    holm,
    min_p,
    p_greater,
)

ALPHA = 0.05
Draw = Callable[[np.random.Generator], tuple[float, ...]]


def lognormal(median: float, cv: float, n: int) -> Draw:
    """n lognormal values whose logs have exactly mean log(median) and the sd that gives this CV.

    The draw is seeded and then standardised, so a case's effect and noise are
    exactly what its name says and only the arrangement comes from the seed.
    """

    def draw(rng: np.random.Generator) -> tuple[float, ...]:
        sigma = math.sqrt(math.log1p(cv * cv))
        z = rng.standard_normal(n)
        z = (z - z.mean()) / z.std(ddof=1) if n >= 2 else np.zeros(n)
        return tuple(float(v) for v in median * np.exp(sigma * z))

    return draw


def memory_mb(median: float, n: int) -> Draw:
    """Near-constant RSS figures rounded to 0.5 MB, as a sampler reports them: a few ties."""

    def draw(rng: np.random.Generator) -> tuple[float, ...]:
        return tuple(float(v) for v in np.round(rng.normal(median, 1.5, n) * 2) / 2)

    return draw


def constant(value: float, n: int) -> Draw:
    return lambda rng: (value,) * n


def spread(median: float, n: int) -> tuple[float, ...]:
    """n values symmetric around `median` on the log scale (±0.1 %): their HL shift is exactly the ratio."""
    return tuple(float(v) for v in median * np.exp(np.linspace(-0.001, 0.001, n)))


def decide_one(test: MetricTest, *, alpha: float = ALPHA) -> Decision:
    (decision,) = decide([test], alpha=alpha)
    return decision


def oriented(values: tuple[float, ...], direction: Direction) -> np.ndarray:
    logs = np.log(np.asarray(values))
    return logs if direction == "lower" else -logs


# ----------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Case:
    direction: Direction
    threshold: float
    baseline: Draw
    current: Draw
    true_change: float  # current / baseline - 1 the samples were built with
    expected: frozenset[str]


VERDICT_CASES = {
    "ttft +30 %, CV 3 %, 5 vs 15 -> regressed": Case(
        "lower", 0.10, lognormal(200, 0.03, 15), lognormal(260, 0.03, 5), 0.30, frozenset({"regressed"})
    ),
    "decode_tok_s -20 % (higher is better) -> regressed": Case(
        "higher", 0.05, lognormal(45, 0.03, 15), lognormal(36, 0.03, 5), -0.20, frozenset({"regressed"})
    ),
    "ttft -20 % -> improved": Case(
        "lower", 0.10, lognormal(200, 0.03, 15), lognormal(160, 0.03, 5), -0.20, frozenset({"improved"})
    ),
    "prefill_tok_s +20 % (higher is better) -> improved": Case(
        "higher", 0.10, lognormal(900, 0.03, 15), lognormal(1080, 0.03, 5), 0.20, frozenset({"improved"})
    ),
    "ttft A/A, CV 3 % -> unchanged": Case(
        "lower", 0.10, lognormal(200, 0.03, 15), lognormal(200, 0.03, 5), 0.0, frozenset({"unchanged"})
    ),
    "peak RSS +10 %, near-constant with ties -> regressed": Case(
        "lower", 0.05, memory_mb(5200, 15), memory_mb(5720, 5), 0.10, frozenset({"regressed"})
    ),
    "peak RSS equal, near-constant with ties -> unchanged": Case(
        "lower", 0.05, memory_mb(5200, 15), memory_mb(5200, 5), 0.0, frozenset({"unchanged"})
    ),
    "peak RSS every value identical -> unchanged": Case(
        "lower", 0.05, constant(5200.0, 15), constant(5200.0, 5), 0.0, frozenset({"unchanged"})
    ),
    "ttft +3 %, CV 0.5 % (small but significant) -> changed, not regressed": Case(
        "lower",
        0.10,
        lognormal(200, 0.005, 15),
        lognormal(206, 0.005, 5),
        0.03,
        frozenset({"changed"}),
    ),
}


@pytest.mark.parametrize("case", VERDICT_CASES.values(), ids=VERDICT_CASES.keys())
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_verdict_and_effect(case: Case, seed: int):
    rng = np.random.default_rng(seed)
    test = MetricTest(case.baseline(rng), case.current(rng), case.direction, case.threshold, case.threshold)
    d = decide_one(test)
    assert d.verdict in case.expected, d
    assert d.change == pytest.approx(case.true_change, abs=0.02)
    if d.verdict == "regressed":
        assert d.p_worse_adjusted < ALPHA
    if d.verdict == "improved":
        assert d.p_better_adjusted < ALPHA


def test_small_but_significant_change_is_not_a_regression():
    rng = np.random.default_rng(7)
    test = MetricTest(lognormal(200, 0.005, 15)(rng), lognormal(206, 0.005, 5)(rng), "lower", 0.10, 0.10)
    d = decide_one(test)
    # Every current run is slower than every baseline run: the smallest p there is...
    assert d.p_worse == pytest.approx(min_p(5, 15))
    # ...yet +3 % is below the 10 % that matters, and the interval shows it: changed, within threshold.
    assert d.verdict == "changed"
    assert 0.0 < d.change_low <= d.change <= d.change_high < 0.10


@pytest.mark.parametrize(
    ("shift", "n", "m", "seed", "runs"),
    [
        # 5 vs 30: more current runs can narrow the interval enough to show +25 % past 10 %, so say how
        # many; +15 % is too close to the threshold for a 30-run baseline at CV 30 % to tell apart.
        pytest.param(1.15, 5, 30, 0, type(None), id="+15 %, CV 30 %, 5 vs 30 -> baseline too noisy"),
        pytest.param(1.25, 5, 30, 0, int, id="+25 %, CV 30 %, 5 vs 30 -> runs_needed"),
        # 5 vs 15: the baseline alone leaves a half-width of about 1.645 * 0.29 / sqrt(15) ≈ 0.13,
        # as large as the effect itself, so no number of current runs settles it.
        pytest.param(1.15, 5, 15, 0, type(None), id="+15 %, CV 30 %, 5 vs 15 -> baseline too noisy"),
    ],
)
def test_large_but_noisy_change_is_inconclusive(shift: float, n: int, m: int, seed: int, runs: type):
    rng = np.random.default_rng(seed)
    test = MetricTest(lognormal(100, 0.30, m)(rng), lognormal(100 * shift, 0.30, n)(rng), "lower", 0.10, 0.10)
    d = decide_one(test)
    assert d.verdict == "inconclusive"
    assert d.change > 0.10  # the estimate is large...
    assert d.p_worse >= ALPHA  # ...but not significant
    assert any(r.startswith("noisy current") for r in d.reasons)
    assert any(r.startswith("noisy baseline") for r in d.reasons)
    assert "large change but not significant" in d.reasons
    assert type(d.runs_needed) is runs
    if d.runs_needed is not None:
        assert 1 <= d.runs_needed <= 1000


def test_runs_needed_is_only_given_for_inconclusive_verdicts():
    rng = np.random.default_rng(0)
    decided = decide(
        [
            MetricTest(lognormal(200, 0.03, 15)(rng), lognormal(260, 0.03, 5)(rng), "lower", 0.10, 0.10),
            MetricTest(lognormal(200, 0.03, 15)(rng), lognormal(200, 0.03, 5)(rng), "lower", 0.10, 0.10),
        ]
    )
    assert [d.verdict for d in decided] == ["regressed", "unchanged"]
    assert [d.runs_needed for d in decided] == [None, None]


# ----------------------------------------------------------------- too few samples

TOO_FEW = "too few samples for α to be reachable"


@pytest.mark.parametrize(
    "current_median",
    [pytest.param(200.0, id="A/A"), pytest.param(400.0, id="+100 %")],
)
def test_one_current_run_is_inconclusive(current_median: float):
    rng = np.random.default_rng(3)
    d = decide_one(MetricTest(lognormal(200, 0.05, 15)(rng), (current_median,), "lower", 0.10, 0.10))
    # Even a doubling cannot be significant: with 1 vs 15 the smallest p is 1/16 > α.
    assert d.verdict == "inconclusive"
    assert d.p_worse >= 1 / 16
    assert any(r.startswith(TOO_FEW) for r in d.reasons)
    assert (d.change_low, d.change_high) == (-1.0, math.inf)  # no interval at all
    assert d.current_cv is None


def test_too_few_samples_counts_the_holm_family():
    rng = np.random.default_rng(4)

    def two_vs_fifteen() -> MetricTest:
        # CV 8 %: two runs cannot show "unchanged" against 10 %, so the verdicts stay open and say why.
        return MetricTest(lognormal(200, 0.08, 15)(rng), lognormal(200, 0.08, 2)(rng), "lower", 0.10, 0.10)

    # 2 vs 15: the smallest p is 1/136 ≈ 0.0074, below α alone but not below α/36.
    alone = decide_one(two_vs_fifteen())
    assert not any(r.startswith(TOO_FEW) for r in alone.reasons)
    in_gate = decide([two_vs_fifteen() for _ in range(36)])
    unsettled = [d for d in in_gate if d.verdict == "inconclusive"]
    assert unsettled
    assert all(any(r.startswith(TOO_FEW) for r in d.reasons) for d in unsettled)
    # A settled verdict (two runs can show "unchanged") needs no excuse.
    assert not any(r.startswith(TOO_FEW) for d in in_gate if d.verdict != "inconclusive" for r in d.reasons)


def test_a_significant_verdict_never_says_alpha_was_out_of_reach():
    """Seen in a PR comment: memory in whole MB, `changed` at Holm's last step, noted "too few samples"."""
    clear = [
        MetricTest(tuple(100.0 + i * 0.1 for i in range(15)), tuple(200.0 + i + j for i in range(5)), "lower", 0.1, 0.1)
        for j in range(9)
    ]
    tied = MetricTest((130.0,) * 15, (131.0,) * 3 + (130.0,) * 2, "lower", 0.05, 0.05)
    decision = decide([*clear, tied])[-1]
    # Its smallest possible p is above α / 10 (Holm's first step), yet as the last step it is below α.
    assert decision.p_worse > 0.05 / 10
    assert decision.p_worse_adjusted < 0.05
    assert decision.verdict == "changed"
    assert not any(r.startswith(TOO_FEW) for r in decision.reasons)


def test_empty_samples_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        decide([MetricTest((1.0, 2.0), (), "lower", 0.1, 0.1)])


# ----------------------------------------------------------------- Holm in the gate


def test_holm_turns_a_borderline_regression_inconclusive_in_a_large_gate():
    rng = np.random.default_rng(3)
    # A 1 % threshold: the interval is past it alone, so only the test against 0 can turn the verdict.
    borderline = MetricTest(lognormal(100, 0.08, 15)(rng), lognormal(115, 0.08, 5)(rng), "lower", 0.01, 0.01)
    aa = [
        MetricTest(lognormal(100, 0.05, 15)(rng), lognormal(100, 0.05, 5)(rng), "lower", 0.10, 0.10) for _ in range(35)
    ]

    alone = decide_one(borderline)
    assert alone.verdict == "regressed"
    assert alone.p_worse_adjusted == alone.p_worse  # a family of one
    assert ALPHA / 36 < alone.p_worse < ALPHA  # significant alone, not after 36 tests

    first, *others = decide([borderline, *aa])
    assert all(first.p_worse < d.p_worse for d in others)  # the smallest p: Holm multiplies it by 36
    assert first.p_worse == alone.p_worse
    assert first.p_worse_adjusted == pytest.approx(36 * alone.p_worse)
    assert first.p_worse_adjusted > ALPHA
    assert first.change == alone.change  # same estimate, different verdict
    assert first.verdict == "inconclusive"
    assert "large change but not significant" in first.reasons
    assert not any(d.verdict == "regressed" for d in others)


def test_informational_tests_are_outside_the_holm_family():
    rng = np.random.default_rng(11)
    gating = [
        MetricTest(lognormal(100, 0.05, 15)(rng), lognormal(100 * s, 0.05, 5)(rng), "lower", 0.10, 0.10)
        for s in (1.0, 1.0, 1.02, 1.06, 1.15, 0.97)
    ]
    informational = [
        MetricTest(lognormal(50, 0.03, 15)(rng), lognormal(50 * s, 0.03, 5)(rng), "higher", 0.05, 0.05, True)
        for s in (0.7, 0.8, 1.0, 1.3)
    ]
    alone = decide(gating)
    # Interleave them, so position in the list cannot matter either.
    mixed = decide([gating[0], informational[0], *gating[1:4], *informational[1:], *gating[4:]])
    mixed_gating = [mixed[0], *mixed[2:5], *mixed[8:]]
    mixed_info = [mixed[1], *mixed[5:8]]

    assert [d.p_worse_adjusted for d in mixed_gating] == [d.p_worse_adjusted for d in alone]
    assert [d.p_better_adjusted for d in mixed_gating] == [d.p_better_adjusted for d in alone]
    assert [d.p_worse_adjusted for d in alone] == pytest.approx(holm([d.p_worse for d in alone]))
    assert [d.verdict for d in mixed_gating] == [d.verdict for d in alone]
    # Informational tests keep their own p-values and are decided at α on their own.
    assert all(d.p_worse_adjusted == d.p_worse and d.p_better_adjusted == d.p_better for d in mixed_info)
    assert [d.verdict for d in mixed_info] == ["regressed", "regressed", "unchanged", "improved"]


# ----------------------------------------------------------------- Mann–Whitney


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 8), (3, 4), (4, 3), (5, 15), (15, 5), (8, 12), (20, 20)])
@pytest.mark.parametrize("shift", [0.0, 1.0, 3.0])
def test_exact_p_matches_scipy(n: int, m: int, shift: float):
    rng = np.random.default_rng(n * 1000 + m)
    for _ in range(5):
        c, b = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, m)
        expected = sps.mannwhitneyu(c, b, alternative="greater", method="exact").pvalue
        assert p_greater(c, b) == pytest.approx(expected, rel=1e-6, abs=1e-14)


@pytest.mark.parametrize(("n", "m"), [(25, 20), (40, 40)])
def test_large_samples_use_the_normal_approximation(n: int, m: int):
    rng = np.random.default_rng(5)
    c, b = rng.normal(0.3, 1.0, n), rng.normal(0.0, 1.0, m)
    expected = sps.mannwhitneyu(c, b, alternative="greater", method="asymptotic", use_continuity=True).pvalue
    assert p_greater(c, b) == pytest.approx(expected, rel=1e-9)


def test_ties_use_the_exact_permutation_test():
    rng = np.random.default_rng(2)
    b, c = memory_mb(5200, 15)(rng), memory_mb(5210, 5)(rng)
    assert len(set(b) | set(c)) < 20  # the case needs ties
    d = decide_one(MetricTest(b, c, "lower", 0.05, 0.05))
    ob, oc = oriented(b, "lower"), oriented(c, "lower")
    method = sps.PermutationMethod(n_resamples=np.inf)  # every one of the C(20, 5) splits
    expected = sps.mannwhitneyu(oc, ob, alternative="greater", method=method).pvalue
    assert d.p_worse == pytest.approx(expected, rel=1e-12)


def test_ties_above_the_exact_limit_use_the_tie_corrected_normal_approximation():
    rng = np.random.default_rng(2)
    b, c = memory_mb(5200, 30)(rng), memory_mb(5210, 15)(rng)
    assert len(set(b) | set(c)) < 45  # the case needs ties
    assert len(b) * len(c) > EXACT_LIMIT
    d = decide_one(MetricTest(b, c, "lower", 0.05, 0.05))
    ob, oc = oriented(b, "lower"), oriented(c, "lower")
    expected = sps.mannwhitneyu(oc, ob, alternative="greater", method="asymptotic", use_continuity=True).pvalue
    assert d.p_worse == pytest.approx(expected)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 15), (2, 15), (5, 15), (15, 5), (10, 10), (20, 20)])
def test_min_p_is_one_over_the_arrangements(n: int, m: int):
    assert min_p(n, m) == pytest.approx(1 / math.comb(n + m, n))
    # Complete separation reaches exactly that floor.
    separated = p_greater(np.arange(n, dtype=float) + m, np.arange(m, dtype=float))
    assert separated == pytest.approx(min_p(n, m), rel=1e-6)


HOLM_CASES = {
    "four, reordered": ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
    "step-down keeps monotone": ([0.5, 0.2], [0.5, 0.4]),
    "capped at 1": ([0.4, 0.5, 0.9], [1.0, 1.0, 1.0]),
    "ties": ([0.01, 0.01, 0.2], [0.03, 0.03, 0.2]),
    "single": ([0.03], [0.03]),
    "empty": ([], []),
}


@pytest.mark.parametrize(("raw", "adjusted"), HOLM_CASES.values(), ids=HOLM_CASES.keys())
def test_holm_against_hand_computed_values(raw: list[float], adjusted: list[float]):
    assert holm(raw) == pytest.approx(adjusted)


# ----------------------------------------------------------------- the interval


@pytest.mark.parametrize(
    ("direction", "n", "m", "true_change"),
    [
        pytest.param("lower", 5, 15, 0.20, id="latency +20 %, 5 vs 15"),
        pytest.param("higher", 5, 15, -0.20, id="throughput -20 %, 5 vs 15"),
        pytest.param("lower", 10, 10, 0.0, id="latency A/A, 10 vs 10"),
    ],
)
def test_moses_interval_covers_at_about_the_nominal_rate(direction: Direction, n: int, m: int, true_change: float):
    rng = np.random.default_rng(2024)
    sigma = math.sqrt(math.log1p(0.05**2))
    covered = 0
    draws = 400
    for _ in range(draws):
        b = tuple(100 * np.exp(rng.normal(0, sigma, m)))
        c = tuple(100 * (1 + true_change) * np.exp(rng.normal(0, sigma, n)))
        d = decide_one(MetricTest(b, c, direction, 0.10, 0.10), alpha=0.05)  # a 90 % interval
        covered += d.change_low <= true_change <= d.change_high
    assert 0.85 <= covered / draws <= 0.95


@pytest.mark.parametrize(("n", "m"), [(3, 4), (5, 15), (15, 5), (8, 12), (10, 10)])
@pytest.mark.parametrize("tail", [0.05, 0.025])
def test_moses_bounds_invert_the_exact_test(n: int, m: int, tail: float):
    """Each bound sits exactly where the one-sided test at level `tail` stops rejecting that shift."""
    rng = np.random.default_rng(n * 100 + m)
    eps = 1e-9
    for _ in range(5):
        c, b = rng.normal(0.5, 1.0, n), rng.normal(0.0, 1.0, m)
        _, low, high = hodges_lehmann(c, b, tail)
        if math.isinf(low):  # no shift can be rejected at all: even complete separation is too likely
            assert (low, high) == (-math.inf, math.inf)
            assert min_p(n, m) > tail
            continue
        assert p_greater(c - (low - eps), b) <= tail < p_greater(c - (low + eps), b)
        assert p_greater(b, c - (high + eps)) <= tail < p_greater(b, c - (high - eps))


def test_hodges_lehmann_is_the_median_pairwise_difference_and_shrugs_off_one_wild_run():
    rng = np.random.default_rng(9)
    c, b = rng.normal(0.1, 0.05, 5), rng.normal(0.0, 0.05, 15)
    estimate, _, _ = hodges_lehmann(c, b, 0.05)
    assert estimate == pytest.approx(float(np.median([x - y for x in c for y in b])))

    baseline = lognormal(200, 0.03, 15)(rng)
    current = (*lognormal(200, 0.03, 4)(rng), 2000.0)  # one run ten times slower
    d = decide_one(MetricTest(baseline, current, "lower", 0.10, 0.10))
    assert float(np.mean(current)) / float(np.mean(baseline)) > 2.5
    assert abs(d.change) < 0.05
    assert d.verdict != "regressed"


@pytest.mark.parametrize(
    ("direction", "ratio", "cv"),
    [
        pytest.param("higher", 0.80, 0.03, id="throughput -20 %"),
        pytest.param("higher", 1.20, 0.03, id="throughput +20 %"),
        pytest.param("lower", 1.20, 0.03, id="latency +20 %"),
        pytest.param("lower", 0.80, 0.03, id="latency -20 %"),
        pytest.param("higher", 0.90, 0.15, id="noisy throughput -10 %"),
        pytest.param("lower", 1.10, 0.15, id="noisy latency +10 %"),
    ],
)
def test_change_is_in_the_metrics_own_direction(direction: Direction, ratio: float, cv: float):
    rng = np.random.default_rng(8)
    d = decide_one(MetricTest(lognormal(100, cv, 15)(rng), lognormal(100 * ratio, cv, 5)(rng), direction, 0.05, 0.05))
    assert math.copysign(1.0, d.change) == math.copysign(1.0, ratio - 1)
    assert d.change_low < d.change < d.change_high
    assert d.change_low < ratio - 1 < d.change_high
    assert d.current_median / d.baseline_median - 1 == pytest.approx(d.change, abs=0.05 if cv > 0.1 else 0.02)
    if direction == "higher" and ratio < 1:
        assert d.p_worse < d.p_better  # a throughput drop is evidence of "worse"


# ----------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("direction", "ratio", "expected"),
    [
        pytest.param("lower", 1.105, {"regressed"}, id="latency +10.5 % > 10 % -> regressed"),
        pytest.param("lower", 1.095, {"changed"}, id="latency +9.5 % < 10 % -> changed, within threshold"),
        pytest.param("lower", 0.895, {"improved"}, id="latency -10.5 % -> improved"),
        pytest.param("higher", 0.895, {"regressed"}, id="throughput -10.5 % -> regressed"),
        pytest.param("higher", 1.095, {"changed"}, id="throughput +9.5 % -> changed, within threshold"),
    ],
)
def test_threshold_is_applied_to_the_reported_change(direction: Direction, ratio: float, expected: set[str]):
    test = MetricTest(spread(100, 15), spread(100 * ratio, 5), direction, 0.10, 0.10)
    d = decide_one(test)
    assert d.change == pytest.approx(ratio - 1, abs=1e-9)
    assert d.verdict in expected


@pytest.mark.parametrize(
    ("ratio", "threshold", "expected"),
    [
        # The interval crosses the threshold: not shown past it, so not a regression (nor shown within it).
        pytest.param(0.951, 0.05, "inconclusive", id="decode_tok_s -4.9 % with a 5 % threshold is not a regression"),
        pytest.param(1.105, 0.10, "improved", id="prefill_tok_s +10.5 % with a 10 % threshold is an improvement"),
    ],
)
def test_higher_is_better_threshold_matches_the_reported_change(ratio: float, threshold: float, expected: str):
    d = decide_one(MetricTest(spread(45, 15), spread(45 * ratio, 5), "higher", threshold, threshold))
    assert d.change == pytest.approx(ratio - 1, abs=1e-9)
    assert d.verdict == expected


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_values_that_are_not_ratios_are_refused(bad: float):
    with pytest.raises(ValueError, match="finite and positive"):
        decide([MetricTest((10.0, 11.0, 12.0) * 5, (bad, 10.0, 11.0, 12.0, 10.2), "lower", 0.1, 0.1)])


def test_a_bimodal_baseline_is_named_and_a_changed_slow_share_is_counted():
    rng = np.random.default_rng(21)
    fast = [float(v) for v in 100 * np.exp(rng.normal(0.0, 0.01, 12))]
    slow = [float(v) for v in 125 * np.exp(rng.normal(0.0, 0.01, 4))]
    baseline = tuple(fast[:3] + slow[:1] + fast[3:6] + slow[1:2] + fast[6:9] + slow[2:3] + fast[9:] + slow[3:])
    current = tuple(float(v) for v in 125 * np.exp(rng.normal(0.0, 0.01, 5)))  # every run throttled
    d = decide_one(MetricTest(baseline, current, "lower", 0.10, 0.10))
    note = re.compile(r"baseline bimodal: 4 of 16 runs ×1\.2[3-7] \(throttling or background load\?\)")
    assert any(note.fullmatch(r) for r in d.reasons), d.reasons
    assert any(r.startswith("runs above") and r.endswith(": 5/5 current, 4/16 baseline") for r in d.reasons)


def test_one_mode_says_nothing_about_modes():
    rng = np.random.default_rng(22)
    d = decide_one(MetricTest(lognormal(100, 0.05, 15)(rng), lognormal(100, 0.05, 5)(rng), "lower", 0.1, 0.1))
    assert not any("bimodal" in r for r in d.reasons)
