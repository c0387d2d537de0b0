"""The paired rule of an A/B re-measure: pairs (a, b) of one metric in, a verdict on "B is worse" out.

``perfgate confirm`` measures the base commit (A) and the current one (B)
alternately in one session, so every pair shares the session's state
(thermal, caches, background load) and its difference does not. For each
metric:

* **differences**: ``d_i = log(b_i / a_i)``, oriented so that worse is positive
  (``-log`` for higher-is-better metrics);
* **effect**: the one-sample Hodges–Lehmann estimate, the median of the Walsh
  averages ``(d_i + d_j) / 2`` (i <= j);
* **interval**: the distribution-free (1 - 2·tail) interval for that estimate,
  read off the sorted Walsh averages at the signed-rank critical value
  (counted exactly up to ``EXACT_PAIRS`` pairs, normal beyond);
* **significance**: the one-sided Wilcoxon signed-rank test of "d > 0" as an
  exact sign-flip permutation test: pairs with equal values (``d = 0``) are left
  out, tied ``|d|`` share their mid-rank, and the null distribution is counted
  over every one of the ``2^m`` sign assignments (as integer subset sums, so
  ties cost nothing); beyond ``EXACT_PAIRS`` pairs, normal with the tie
  correction (``scipy.stats.wilcoxon(method="asymptotic")``);
* **Holm** over the gating metrics of one scenario.

A metric is **confirmed** worse only when its Holm-adjusted p-value is below
α **and** the whole interval lies past the threshold for the worse (the rule
the gate uses: a significant change that may be below the threshold is not a
regression). It is **within threshold** when the whole interval lies short of
that threshold, and **inconclusive** otherwise.

Pure functions on plain floats (no numpy, no scipy: see ``decide/ranks.py``);
``tests/unit/test_paired.py`` holds them to brute force and ``scipy.stats.wilcoxon``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Literal

from perfgate.decide.ranks import median_of_sorted, normal_ppf, normal_sf
from perfgate.decide.stats import holm

Direction = Literal["lower", "higher"]
Outcome = Literal["confirmed", "within_threshold", "inconclusive"]

EXACT_PAIRS = 64  # pairs up to which the signed-rank distributions are counted, not approximated


@dataclass(frozen=True)
class PairedTest:
    """One metric of one scenario: ``a[i]`` (base) and ``b[i]`` (current) were measured as pair i."""

    a: tuple[float, ...]
    b: tuple[float, ...]
    direction: Direction
    threshold_worse: float  # e.g. 0.10: B more than 10 % worse than A matters
    informational: bool = False


@dataclass(frozen=True)
class PairedDecision:
    """The verdict on one PairedTest, with every number behind it."""

    outcome: Outcome
    change: float  # b / a - 1 in the metric's own units (Hodges–Lehmann on the log ratios)
    change_low: float  # interval bounds of `change` (+-inf when there are too few pairs)
    change_high: float
    p_worse: float  # one-sided exact signed-rank p-value against no change, unadjusted
    p_worse_adjusted: float  # Holm-adjusted over the scenario's gating metrics
    a_median: float
    b_median: float
    n_pairs: int
    n_equal: int  # pairs whose two values are equal: no sign, left out of the test
    reasons: tuple[str, ...]

    @property
    def confirmed(self) -> bool:
        return self.outcome == "confirmed"


# ----------------------------------------------------------------- the signed-rank null distribution


def sign_flip_counts(weights: Sequence[int]) -> tuple[int, ...]:
    """``counts[s]``: how many of the ``2^m`` sign assignments give the positive weights the sum ``s``.

    Under "no change" each pair's difference is as likely positive as negative,
    independently, given its size: so the positive-rank sum is a random subset
    sum of the (integer) weights, counted here exactly as a polynomial product.
    """
    counts = [1] + [0] * sum(weights)
    reach = 0
    for weight in weights:
        reach += weight
        for total in range(reach, weight - 1, -1):
            counts[total] += counts[total - weight]
    return tuple(counts)


@lru_cache(maxsize=128)
def _untied_cdf(n: int) -> tuple[float, ...]:
    """P(T+ <= t), t = 0..n(n+1)/2, for n pairs with distinct nonzero differences (ranks 1..n)."""
    counts = sign_flip_counts(range(1, n + 1))
    total = 1 << n
    return tuple(cumulative / total for cumulative in accumulate(counts))


def _doubled_midranks(values: Sequence[float]) -> list[int]:
    """Twice the mid-rank of each value (ties share one, so twice it is a whole number)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    doubled = [0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            doubled[order[k]] = start + end + 2  # (start + 1) + (end + 1): twice the mean rank
        start = end + 1
    return doubled


def signed_rank_p(differences: Sequence[float]) -> float:
    """One-sided p-value for "the differences tend to be positive": P(T+ >= observed) under sign flips.

    Zeros are left out (Wilcoxon's convention); tied magnitudes share their
    mid-rank. Exact (every sign assignment counted) up to ``EXACT_PAIRS``
    nonzero differences; above, the normal approximation with the tie correction.
    """
    nonzero = [d for d in differences if d != 0]
    m = len(nonzero)
    if m == 0:
        return 1.0
    weights = _doubled_midranks([abs(d) for d in nonzero])
    observed = sum(w for w, d in zip(weights, nonzero, strict=True) if d > 0)
    if m <= EXACT_PAIRS:
        counts = sign_flip_counts(weights)
        return sum(counts[observed:]) / (1 << m)
    # Normal approximation in doubled units: mean sum(w)/2, variance sum(w^2)/4 (exact under sign flips).
    mean = sum(weights) / 2
    sd = math.sqrt(sum(w * w for w in weights)) / 2
    return min(1.0, max(0.0, normal_sf((observed - mean) / sd)))


def min_p(pairs: int) -> float:
    """The smallest one-sided p-value the signed-rank test can give with this many nonzero differences."""
    return 0.5**pairs


# ----------------------------------------------------------------- estimate and interval


def _critical_count(n: int, tail: float) -> int:
    """Largest k with P(T+ < k) <= tail: the interval's bounds are the k-th smallest and largest Walsh averages."""
    if n <= EXACT_PAIRS:
        return bisect_right(_untied_cdf(n), tail)
    mean = n * (n + 1) / 4
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    return max(0, math.floor(mean - normal_ppf(1 - tail) * sd))


def walsh_averages(differences: Sequence[float]) -> list[float]:
    """Every ``(d_i + d_j) / 2`` with i <= j, sorted: n(n+1)/2 of them."""
    n = len(differences)
    return sorted((differences[i] + differences[j]) / 2 for i in range(n) for j in range(i, n))


def hodges_lehmann_interval(differences: Sequence[float], tail: float) -> tuple[float, float, float]:
    """The one-sample Hodges–Lehmann estimate and its (1 - 2·tail) signed-rank interval.

    The interval inverts the signed-rank test: it holds every shift θ that the test
    of ``d - θ`` would not reject at level ``tail`` on either side. For almost every θ
    the shifted differences have no ties and no zeros, so the untied distribution of
    all n pairs gives the cut, whatever ties the data themselves hold.
    """
    walsh = walsh_averages(differences)
    estimate = median_of_sorted(walsh)
    k = _critical_count(len(differences), tail)
    if k <= 0:
        return estimate, -math.inf, math.inf
    return estimate, walsh[k - 1], walsh[len(walsh) - k]


# ----------------------------------------------------------------- the verdicts


def oriented_log_ratios(test: PairedTest) -> list[float]:
    """``log(b / a)`` per pair, negated for higher-is-better metrics: worse is positive."""
    if len(test.a) != len(test.b):
        raise ValueError("a paired test needs as many A values as B values")
    sign = 1.0 if test.direction == "lower" else -1.0
    return [sign * math.log(b / a) for a, b in zip(test.a, test.b, strict=True)]


def worse_bound(test: PairedTest) -> float:
    """The threshold for the worse on the oriented log scale (as ``decide.stats`` puts it)."""
    if test.direction == "lower":
        return math.log1p(test.threshold_worse)
    return -math.log1p(-test.threshold_worse) if test.threshold_worse < 1 else math.inf


def _to_change(oriented: float, direction: Direction) -> float:
    return math.exp(oriented if direction == "lower" else -oriented) - 1


def decide_paired(
    tests: Sequence[PairedTest], *, alpha: float = 0.05, interval_alpha: float | None = None
) -> list[PairedDecision]:
    """Verdicts for every metric of one scenario's A/B pairs; Holm runs over the gating ones together."""
    for t in tests:
        if not t.a:
            raise ValueError("decide_paired() needs at least one pair per test")
        if not all(math.isfinite(v) and v > 0 for v in (*t.a, *t.b)):
            raise ValueError("decide_paired() works on ratios: every value must be finite and positive")
    tail = alpha if interval_alpha is None else interval_alpha
    diffs = [oriented_log_ratios(t) for t in tests]
    p_values = [signed_rank_p(d) for d in diffs]
    gating = [i for i, t in enumerate(tests) if not t.informational]
    adjusted = dict(zip(gating, holm([p_values[i] for i in gating]), strict=True))
    family = max(1, len(gating))
    return [
        _decision(
            t, d, p, adjusted.get(i, p), alpha=alpha, reachable=alpha if t.informational else alpha / family, tail=tail
        )
        for i, (t, d, p) in enumerate(zip(tests, diffs, p_values, strict=True))
    ]


def _decision(
    test: PairedTest, d: list[float], p: float, p_adj: float, *, alpha: float, reachable: float, tail: float
) -> PairedDecision:
    """``reachable``: the first level of this test's Holm family, which its smallest p-value must clear."""
    estimate, low, high = hodges_lehmann_interval(d, tail)
    bound = worse_bound(test)
    n_equal = sum(1 for x in d if x == 0)
    reasons: list[str] = []
    outcome: Outcome
    if p_adj < alpha and low > bound:
        outcome = "confirmed"
    elif high < bound:
        outcome = "within_threshold"
        if p_adj < alpha and estimate > 0:
            reasons.append("changed, within threshold")
    else:
        outcome = "inconclusive"
        reasons.append(
            "past the threshold, not shown beyond doubt" if estimate > bound else "interval reaches past the threshold"
        )
        if min_p(len(d) - n_equal) >= reachable:  # then no data could have confirmed it
            reasons.append(f"too few pairs for α to be reachable ({len(d) - n_equal} with a difference)")
    if n_equal:
        reasons.append(f"{n_equal} pair{'' if n_equal == 1 else 's'} equal")
    lower = test.direction == "lower"
    return PairedDecision(
        outcome=outcome,
        change=_to_change(estimate, test.direction),
        change_low=_to_change(low if lower else high, test.direction),
        change_high=_to_change(high if lower else low, test.direction),
        p_worse=p,
        p_worse_adjusted=p_adj,
        a_median=median_of_sorted(sorted(test.a)),
        b_median=median_of_sorted(sorted(test.b)),
        n_pairs=len(d),
        n_equal=n_equal,
        reasons=tuple(reasons),
    )
