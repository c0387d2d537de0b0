"""The paired rule (``perfgate.decide.paired``) against brute force and ``scipy.stats.wilcoxon``.

Brute force enumerates every one of the 2^n sign assignments and every Walsh
average by hand; scipy is the reference for the exact untied p-value, for the
permutation p-value with ties and zeros (``PermutationMethod``, which counts
every sign assignment when there are few enough) and for the normal
approximation with the tie correction.
"""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest
from scipy import stats as sps

from perfgate.decide.paired import (
    EXACT_PAIRS,
    PairedTest,
    decide_paired,
    hodges_lehmann_interval,
    sign_flip_counts,
    signed_rank_p,
    walsh_averages,
)

REL = 1e-12


def brute_p(d: list[float]) -> float:
    """P(T+ >= observed) over every sign assignment of the nonzero differences (mid-ranks of |d|)."""
    nonzero = [x for x in d if x != 0]
    if not nonzero:
        return 1.0
    ranks = sps.rankdata([abs(x) for x in nonzero])
    observed = sum(r for r, x in zip(ranks, nonzero, strict=True) if x > 0)
    hits = 0
    for signs in itertools.product((False, True), repeat=len(nonzero)):
        if sum(r for r, positive in zip(ranks, signs, strict=True) if positive) >= observed - 1e-9:
            hits += 1
    return hits / 2 ** len(nonzero)


def draw(rng: np.random.Generator, n: int, kind: int) -> list[float]:
    if kind == 0:  # continuous: no ties, no zeros
        return [float(x) for x in rng.normal(0.3, 1.0, n)]
    if kind == 1:  # quantized: ties and zeros (a 1 ms timer, equal memory figures)
        return [float(x) for x in rng.integers(-2, 4, n)]
    return [float(x) for x in np.round(rng.normal(0.2, 1.0, n), 1)]  # a few ties


# ---------------------------------------------------------------- the null distribution and the p-value


def test_sign_flip_counts_are_the_subset_sums():
    weights = [2, 2, 3, 5]
    counts = sign_flip_counts(weights)
    brute = [0] * (sum(weights) + 1)
    for chosen in itertools.product((0, 1), repeat=len(weights)):
        brute[sum(w for w, c in zip(weights, chosen, strict=True) if c)] += 1
    assert list(counts) == brute
    assert sum(counts) == 2 ** len(weights)


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_p_value_is_the_brute_force_sign_flip_count(kind):
    rng = np.random.default_rng(10 + kind)
    for _ in range(150):
        d = draw(rng, int(rng.integers(1, 13)), kind)
        assert math.isclose(signed_rank_p(d), brute_p(d), rel_tol=REL), d


def test_without_ties_it_is_scipys_exact_wilcoxon():
    rng = np.random.default_rng(1)
    for _ in range(300):
        d = np.array(draw(rng, int(rng.integers(2, 26)), 0))
        theirs = sps.wilcoxon(d, alternative="greater", method="exact").pvalue
        assert math.isclose(signed_rank_p(list(d)), float(theirs), rel_tol=REL)


def test_with_ties_and_zeros_it_is_scipys_permutation_wilcoxon():
    rng = np.random.default_rng(2)
    method = sps.PermutationMethod(n_resamples=2**10)  # at least 2^n: scipy counts every assignment
    for _ in range(40):  # scipy's permutation path takes about 0.1 s a call
        d = np.array(draw(rng, int(rng.integers(3, 11)), 1))
        if not np.any(d):
            continue
        theirs = sps.wilcoxon(d, alternative="greater", method=method).pvalue
        assert math.isclose(signed_rank_p(list(d)), float(theirs), rel_tol=1e-9), d


def test_beyond_the_exact_limit_it_is_scipys_normal_approximation_with_ties():
    rng = np.random.default_rng(3)
    for kind in (0, 2):
        for _ in range(40):
            d = np.array(draw(rng, int(rng.integers(EXACT_PAIRS + 1, 150)), kind))
            if np.count_nonzero(d) <= EXACT_PAIRS:
                continue  # still counted exactly
            theirs = sps.wilcoxon(d, alternative="greater", method="asymptotic", correction=False).pvalue
            assert math.isclose(signed_rank_p(list(d)), float(theirs), rel_tol=1e-9)


def test_all_equal_pairs_are_no_evidence():
    assert signed_rank_p([0.0] * 8) == 1.0
    assert signed_rank_p([]) == 1.0


def test_eight_pairs_all_worse_give_the_smallest_p():
    assert signed_rank_p([0.1 * (i + 1) for i in range(8)]) == 1 / 256


# ---------------------------------------------------------------- estimate and interval


def test_the_estimate_is_the_median_of_the_walsh_averages():
    d = [0.3, -0.1, 0.25, 0.4, 0.05]
    walsh = [(d[i] + d[j]) / 2 for i in range(5) for j in range(i, 5)]
    assert walsh_averages(d) == sorted(walsh)
    assert hodges_lehmann_interval(d, 0.05)[0] == statistics.median(walsh)


def _untied_brute_p(d: list[float]) -> tuple[float, float]:
    """Both one-sided p-values of the signed-rank test of d (no ties, no zeros)."""
    return brute_p(d), brute_p([-x for x in d])


@pytest.mark.parametrize("n", [5, 6, 8, 10, 12])
def test_the_interval_holds_the_shifts_the_test_would_not_reject(n):
    # Inverting the test: a shift just inside a bound is not rejected at the tail's level on either
    # side, one just outside is. Checked by brute force on continuous data.
    rng = np.random.default_rng(n)
    tail = 0.05
    for _ in range(10):
        d = draw(rng, n, 0)
        _, low, high = hodges_lehmann_interval(d, tail)
        eps = 1e-9
        for theta, inside in ((low + eps, True), (high - eps, True), (low - eps, False), (high + eps, False)):
            p_up, p_down = _untied_brute_p([x - theta for x in d])
            assert (min(p_up, p_down) > tail) == inside, (d, theta, inside, p_up, p_down)


def test_too_few_pairs_leave_the_interval_unbounded():
    # 4 pairs: the smallest one-sided p is 1/16 > 0.05, so no bound can be set at 90 %.
    _, low, high = hodges_lehmann_interval([0.1, 0.2, 0.3, 0.4], 0.05)
    assert (low, high) == (-math.inf, math.inf)


def test_the_interval_is_cut_at_scipys_exact_critical_value():
    # The bounds are the k-th smallest and largest Walsh averages, k - 1 the largest t with P(T+ <= t) <= tail,
    # read here from scipy's own exact null distribution (private, but the one its exact p-values use).
    from scipy.stats._wilcoxon import WilcoxonDistribution  # noqa: PLC0415

    for n in range(5, 30):
        null = WilcoxonDistribution(np.asarray(n))
        k = 1 + max(t for t in range(n * (n + 1) // 2 + 1) if float(null.cdf(t)) <= 0.05)
        d = [float(x) for x in np.random.default_rng(n).normal(0, 1, n)]
        walsh = walsh_averages(d)
        _, low, high = hodges_lehmann_interval(d, 0.05)
        assert (low, high) == (walsh[k - 1], walsh[-k])


# ---------------------------------------------------------------- verdicts


def pairs(ratios: list[float], base: float = 100.0) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(base for _ in ratios), tuple(base * r for r in ratios)


WORSE_20 = [1.19, 1.21, 1.2, 1.22, 1.18, 1.2, 1.21, 1.19]
SAME = [1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 0.99]


def test_a_clear_slowdown_past_the_threshold_is_confirmed():
    (d,) = decide_paired([PairedTest(*pairs(WORSE_20), "lower", 0.10)])
    assert d.outcome == "confirmed"
    assert d.confirmed
    assert d.p_worse == 1 / 256
    assert 0.18 < d.change < 0.22
    assert 0.10 < d.change_low <= d.change <= d.change_high
    assert d.a_median == 100.0
    assert math.isclose(d.b_median, 120.0)


def test_no_change_is_within_threshold():
    (d,) = decide_paired([PairedTest(*pairs(SAME), "lower", 0.10)])
    assert d.outcome == "within_threshold"
    assert d.change_low > -0.10
    assert d.change_high < 0.10


def test_a_real_change_below_the_threshold_is_not_confirmed():
    # Every pair 3 % worse: significant against zero, but the interval lies short of 10 %.
    (d,) = decide_paired([PairedTest(*pairs([1.03, 1.031, 1.029, 1.032, 1.028, 1.03, 1.033, 1.027]), "lower", 0.10)])
    assert d.p_worse_adjusted < 0.05
    assert d.outcome == "within_threshold"
    assert "changed, within threshold" in d.reasons


def test_an_interval_that_straddles_the_threshold_is_inconclusive():
    (d,) = decide_paired([PairedTest(*pairs([1.02, 1.25, 1.05, 1.3, 1.0, 1.2, 1.08, 1.22]), "lower", 0.10)])
    assert d.outcome == "inconclusive"


def test_higher_is_better_metrics_are_worse_when_they_fall():
    (d,) = decide_paired([PairedTest(*pairs([1 / r for r in WORSE_20]), "higher", 0.10)])
    assert d.outcome == "confirmed"
    assert d.change < -0.15
    assert d.change_low <= d.change <= d.change_high < -0.09


def test_holm_runs_over_the_gating_metrics_only():
    gating = [PairedTest(*pairs(WORSE_20), "lower", 0.10) for _ in range(3)]
    info = PairedTest(*pairs(WORSE_20), "lower", 0.10, informational=True)
    decisions = decide_paired([*gating, info])
    assert [d.p_worse_adjusted for d in decisions[:3]] == [3 / 256] * 3
    assert decisions[3].p_worse_adjusted == decisions[3].p_worse == 1 / 256


def test_too_few_pairs_for_the_family_cannot_confirm_and_say_so():
    # 5 pairs, 4 gating metrics: the smallest Holm-adjusted p is 4/32 > 0.05.
    tests = [PairedTest(*pairs(WORSE_20[:5]), "lower", 0.10) for _ in range(4)]
    for d in decide_paired(tests):
        assert d.outcome == "inconclusive"
        assert any("too few pairs" in r for r in d.reasons)


def test_equal_pairs_are_counted_and_left_out_of_the_test():
    a, b = pairs([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    (d,) = decide_paired([PairedTest(a, b, "lower", 0.05)])
    assert d.n_equal == 8
    assert d.p_worse == 1.0
    assert d.outcome == "within_threshold"  # the interval is [0, 0]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="as many"):
        decide_paired([PairedTest((1.0, 2.0), (1.0,), "lower", 0.1)])
    with pytest.raises(ValueError, match="positive"):
        decide_paired([PairedTest((1.0, 0.0), (1.0, 1.0), "lower", 0.1)])
