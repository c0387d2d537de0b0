"""Exact permutation p-values when values tie (``perfgate.decide.ranks``).

With ties, the p-value is P(U >= u) over every split of the pooled values into
the two sample sizes, U counted with mid-ranks (a tie is half a win). These
tests enumerate the splits by brute force for small samples and many tie
patterns, check the issue's two reproducers, and check that untied samples take
the same path as before.
"""

from __future__ import annotations

import math
import random
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from perfgate.decide import ranks
from perfgate.decide.ranks import EXACT_LIMIT, hodges_lehmann, min_p, p_greater, pairs_of
from perfgate.decide.stats import MetricTest, decide


def twice_u(x: list[float], y: list[float]) -> int:
    """2U of x against y, by definition: two for each pair won, one for each pair tied."""
    return sum(2 * (a > b) + (a == b) for a in x for b in y)


def brute_force(c: list[float], b: list[float]) -> tuple[float, float]:
    """(P(U_c >= u_c), P(U_b >= u_b)) over every split of the pooled values, counted one by one."""
    pooled, n = [*c, *b], len(c)
    observed = twice_u(c, b)
    at_least = at_most = 0
    for chosen in combinations(range(len(pooled)), n):
        inside = set(chosen)
        x = [pooled[i] for i in chosen]
        y = [pooled[i] for i in range(len(pooled)) if i not in inside]
        value = twice_u(x, y)
        at_least += value >= observed
        at_most += value <= observed  # U_b = nm - U_c: U_b >= u_b exactly when U_c <= u_c
    total = math.comb(len(pooled), n)
    return at_least / total, at_most / total


def tied_sample(rng: random.Random, size: int, levels: int) -> list[float]:
    return [float(rng.randrange(levels)) for _ in range(size)]


BRUTE_CASES = 300


def test_tied_p_values_equal_the_count_over_every_split() -> None:
    """Seeded random sizes 1..6 against 1..8, from two-valued to nearly untied data, both directions."""
    rng = random.Random(14)
    tied = 0
    for _ in range(BRUTE_CASES):
        n, m = rng.randint(1, 6), rng.randint(1, 8)
        levels = rng.choice([2, 3, 4, 6, 10])
        c, b = tied_sample(rng, n, levels), tied_sample(rng, m, levels)
        if rng.random() < 0.5:  # half the cases with a shift, so that small p-values come up too
            c = [v + rng.choice([1.0, 2.0]) for v in c]
        pairs = pairs_of(c, b)
        tied += bool(pairs.tie_groups)
        expected = brute_force(c, b)
        # Both sides are a count divided by C(n + m, n) once: equal to the last bit.
        assert (pairs.p_greater(), pairs.p_greater(c_greater=False)) == expected, (c, b)
    assert tied >= BRUTE_CASES * 0.9  # the cases are what the test is about


def test_the_floor_is_the_most_extreme_split() -> None:
    rng = random.Random(15)
    for _ in range(100):
        n, m = rng.randint(1, 5), rng.randint(1, 7)
        levels = rng.choice([2, 3, 5])
        c, b = tied_sample(rng, n, levels), tied_sample(rng, m, levels)
        pooled = [*c, *b]
        if len(set(pooled)) == 1:
            assert pairs_of(c, b).p_floor() == 1.0
            continue
        # The smallest p-value over every split of these values, each split's own p-value computed.
        smallest_greater = smallest_less = 1.0
        for chosen in combinations(range(n + m), n):
            x = [pooled[i] for i in chosen]
            y = [pooled[i] for i in range(n + m) if i not in chosen]
            split = pairs_of(x, y)
            smallest_greater = min(smallest_greater, split.p_greater())
            smallest_less = min(smallest_less, split.p_greater(c_greater=False))
        pairs = pairs_of(c, b)
        assert pairs.p_floor() == smallest_greater, (c, b)
        assert pairs.p_floor(c_greater=False) == smallest_less, (c, b)
        assert pairs.p_floor() >= min_p(n, m)


def test_without_ties_the_floor_is_min_p() -> None:
    assert pairs_of([5.0, 6.0], [1.0, 2.0, 3.0]).p_floor() == min_p(2, 3)
    assert pairs_of([5.0, 6.0], [1.0, 2.0, 3.0]).p_floor(c_greater=False) == min_p(2, 3)


def test_one_run_above_fifteen_equal_ones_gives_one_in_sixteen() -> None:
    """Issue 14: 15 × 900 MB against one run at 950 MB gave p = 1.5e-4 and `regressed`."""
    c, b = [950.0], [900.0] * 15
    assert brute_force(c, b)[0] == 1 / 16
    assert p_greater(c, b) == 1 / 16
    assert p_greater(c, b) >= min_p(1, 15)
    gate = [MetricTest(tuple(b), tuple(c), "lower", 0.05, 0.05), *a_a_tests(35)]
    decision = decide(gate)[0]
    assert decision.p_worse == 1 / 16
    assert decision.verdict != "regressed"


def test_five_runs_at_the_top_value_of_a_two_valued_baseline() -> None:
    """Issue 14: 12 × 900 + 3 × 960 against 5 × 960: adjusted p 0.044 and `regressed`; exact is 0.13 in 36."""
    c, b = [960.0] * 5, [900.0] * 12 + [960.0] * 3
    exact = math.comb(8, 5) / math.comb(20, 5)  # c holds 5 of the 8 values at 960, the most extreme split
    assert p_greater(c, b) == exact == pytest.approx(0.0036120, abs=1e-7)
    permutation = sps.mannwhitneyu(
        np.array(c), np.array(b), alternative="greater", method=sps.PermutationMethod(n_resamples=np.inf)
    )
    assert p_greater(c, b) == pytest.approx(float(permutation.pvalue), rel=1e-12)
    decision = decide([MetricTest(tuple(b), tuple(c), "lower", 0.05, 0.05), *a_a_tests(35)])[0]
    # Holm over 36 tests of the exact p is 0.130; the session model (the sorted baseline reads as
    # correlated runs) may only ask more, never less.
    assert 36 * exact == pytest.approx(0.13003, abs=1e-5)
    assert decision.p_worse_adjusted >= 36 * exact
    assert decision.verdict != "regressed"
    # Ties raise the floor: no split of these values could reach the Holm level alone.
    assert pairs_of(c, b).p_floor() == exact > 0.05 / 36 > min_p(5, 15)


def a_a_tests(count: int) -> list[MetricTest]:
    """Untied A/A tests with large p-values, to fill a gate of 36."""
    rng = random.Random(36)
    tests = []
    for _ in range(count):
        b = tuple(100 * math.exp(rng.gauss(0, 0.03)) for _ in range(15))
        c = tuple(100 * math.exp(rng.gauss(0, 0.03)) for _ in range(5))
        tests.append(MetricTest(b, c, "lower", 0.10, 0.10))
    return tests


@pytest.mark.parametrize(("n", "m"), [(3, 4), (5, 5), (4, 6), (6, 8)])
def test_tied_p_values_equal_scipys_permutation_test(n: int, m: int) -> None:
    """An independent implementation: scipy's exact permutation test of the Mann–Whitney statistic."""
    rng = np.random.default_rng(n * 100 + m)
    method = sps.PermutationMethod(n_resamples=np.inf)
    for _ in range(6):
        c = rng.integers(0, 4, n).astype(float) + float(rng.integers(0, 2))
        b = rng.integers(0, 4, m).astype(float)
        if np.ptp(np.concatenate([c, b])) == 0:
            continue
        for x, y in ((c, b), (b, c)):
            theirs = float(sps.mannwhitneyu(x, y, alternative="greater", method=method).pvalue)
            assert p_greater(list(x), list(y)) == pytest.approx(theirs, rel=1e-12), (x, y)


def test_counting_either_sample_gives_the_same_distribution() -> None:
    """The count runs over the smaller sample; the larger one's 2U is 2nm minus the smaller's."""
    for groups in [(12, 8), (1, 2, 1, 3, 1), (4,) * 5, (1,) * 7 + (3,)]:
        total = sum(groups)
        for k in range(total + 1):
            assert ranks._tied_u_counts(groups, total - k) == ranks._tied_u_counts(groups, k)[::-1]
            assert sum(ranks._tied_u_counts(groups, k)) == math.comb(total, k)


def test_exact_p_values_are_valid_at_every_level() -> None:
    """P(p <= level) <= level under H0, exactly: each split of a tie pattern is equally likely.

    The normal approximation broke this with two-valued data (1.7–2.4 × the level at
    5 vs 15, up to 17 × at n = 1–2, issue 14); the exact distribution cannot.
    """
    for groups, n in [((12, 8), 5), ((15, 1), 1), ((10, 10), 2), ((3, 9, 3, 5), 5), ((1,) * 10 + (10,), 6)]:
        at_most, at_least = ranks._tied_u_null(groups, n)
        counts = ranks._tied_u_counts(groups, min(n, sum(groups) - n))
        if n > sum(groups) - n:
            counts = counts[::-1]
        total = math.comb(sum(groups), n)
        for level in (0.001, 0.01, 0.05, 0.1, 0.5):
            rejected = sum(k for s, k in enumerate(counts) if at_least[s] <= level)
            assert rejected / total <= level
            rejected = sum(k for s, k in enumerate(counts) if at_most[s] <= level)
            assert rejected / total <= level


# ----------------------------------------------------------------- the untied path is the one it was


def test_with_singleton_groups_the_count_is_the_gaussian_binomial() -> None:
    """The tied count with no ties at all agrees with the no-tie null the untied samples still use."""
    for n, m in [(1, 1), (1, 7), (5, 15), (15, 5), (8, 9), (20, 20)]:
        small = min(n, m)
        counts = ranks._tied_u_counts((1,) * (n + m), small)
        assert counts[1::2] == [0] * (n * m)  # no ties, no half-wins
        cdf = ranks._u_null_cdf(n, m)
        total = math.comb(n + m, n)
        running = 0
        for u in range(n * m + 1):
            running += counts[2 * u]
            assert running / total == cdf[u]


def test_untied_samples_keep_the_exact_no_tie_null() -> None:
    rng = np.random.default_rng(16)
    for _ in range(200):
        n, m = int(rng.integers(1, 21)), int(rng.integers(1, 21))
        c, b = rng.normal(0.5, 1.0, n), rng.normal(0.0, 1.0, m)
        pairs = pairs_of(list(c), list(b))
        assert pairs.tie_groups == ()
        assert pairs.tie_term == 0
        if n * m <= EXACT_LIMIT:
            u = int(pairs.twice_u() // 2)
            cdf = ranks._u_null_cdf(n, m)
            assert pairs.p_greater() == cdf[n * m - u]
            assert pairs.p_greater(c_greater=False) == cdf[u]


def test_ties_above_the_limit_keep_the_normal_approximation() -> None:
    rng = np.random.default_rng(17)
    c, b = rng.integers(0, 5, 25).astype(float) + 1, rng.integers(0, 5, 20).astype(float)
    assert c.size * b.size > EXACT_LIMIT
    expected = sps.mannwhitneyu(c, b, alternative="greater", method="asymptotic", use_continuity=True).pvalue
    assert p_greater(list(c), list(b)) == pytest.approx(float(expected), rel=1e-12)


def test_the_tie_pattern_is_counted_once() -> None:
    ranks._tied_u_null.cache_clear()
    # Different values, same pattern of ties (2, 1, 3, 1, 1 by value): one count serves both.
    p_greater([1.0, 1.0, 2.0], [3.0, 3.0, 3.0, 4.0, 5.0])
    p_greater([10.0, 10.0, 20.0], [30.0, 30.0, 30.0, 41.0, 52.0])
    info = ranks._tied_u_null.cache_info()
    assert (info.misses, info.hits) == (1, 1)


# ----------------------------------------------------------------- the interval with ties


def test_the_moses_interval_keeps_its_coverage_on_quantized_data() -> None:
    """c is b shifted by a whole step on integer data: the closed interval covers at least 90 %."""
    rng = random.Random(18)
    trials, covered, zero_width = 2000, 0, 0
    for _ in range(trials):
        b = [float(round(rng.gauss(10, 1.0))) for _ in range(15)]
        c = [float(round(rng.gauss(10, 1.0))) + 1.0 for _ in range(5)]
        _, low, high = hodges_lehmann(c, b, 0.05)
        covered += low <= 1.0 <= high
        zero_width += low == high
    assert covered / trials >= 0.90
    assert zero_width > 0  # the case has intervals of zero width, and they cover too


# ----------------------------------------------------------------- the figures in docs/statistics.md

DOC = (Path(__file__).resolve().parents[2] / "docs" / "statistics.md").read_text(encoding="utf-8")


def test_the_doc_shows_the_reproducers_as_computed() -> None:
    first = p_greater([math.log(950.0)], [math.log(900.0)] * 15)
    assert f"p = 1/16 = {first:.4f}" in DOC
    c, b = [math.log(960.0)] * 5, [math.log(900.0)] * 12 + [math.log(960.0)] * 3
    second = decide([MetricTest(tuple([900.0] * 12 + [960.0] * 3), (960.0,) * 5, "lower", 0.05, 0.05), *a_a_tests(35)])
    assert f"p = {p_greater(c, b):.5f}" in DOC
    assert f"36 tests {36 * p_greater(c, b):.3f}" in DOC
    assert f"p = {second[0].p_worse:.5f} makes the gate's\n  36 tests {second[0].p_worse_adjusted:.3f}" in DOC
    normal = float(sps.mannwhitneyu(c, b, alternative="greater", method="asymptotic").pvalue)
    assert f"approximation said {normal:.5f}, adjusted {36 * normal:.3f}" in DOC
    old = float(sps.mannwhitneyu([math.log(950.0)], [math.log(900.0)] * 15, alternative="greater").pvalue)
    assert f"p = {old:.5f}" in DOC


def test_the_doc_shows_how_often_each_p_value_rejects_two_valued_data() -> None:
    """P(p <= level) over every outcome of 5 vs 15 runs, each at the higher value with probability 0.2."""
    n, m, share = 5, 15, 0.2
    for level, label in ((0.05, "0.05"), (0.01, "0.01"), (0.05 / 36, "0.05 / 36")):
        normal = exact = 0.0
        for high in range(n + m + 1):
            p_high = math.comb(n + m, high) * share**high * (1 - share) ** (n + m - high)
            for k in range(max(0, high - m), min(n, high) + 1):  # k of the current runs at the higher value
                weight = p_high * math.comb(high, k) * math.comb(n + m - high, n - k) / math.comb(n + m, n)
                c, b = [2.0] * k + [1.0] * (n - k), [2.0] * (high - k) + [1.0] * (m - high + k)
                if 0 < high < n + m:  # scipy gives nan when every value is equal; that is p = 1
                    scipy_p = sps.mannwhitneyu(c, b, alternative="greater", method="asymptotic").pvalue
                    normal += weight * (float(scipy_p) <= level)
                exact += weight * (p_greater(c, b) <= level)
        assert exact <= level
        assert f"| {label} | {normal / level:.2f} | {exact / level:.2f} |" in DOC
