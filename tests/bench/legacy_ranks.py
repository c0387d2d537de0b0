"""Today's rank tests, frozen: ``perfgate/decide/ranks.py`` as of commit 847ba02 (for ``legacy_rule``).

Copied line for line, without the module docstring and the two public
wrappers nothing here uses (``p_greater``, ``hodges_lehmann``). It is a
record of the rule ``bench_decision.py`` calls "today": do not fix anything here.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate
from statistics import NormalDist
from typing import NamedTuple

Samples = Sequence[float]

EXACT_LIMIT = 400  # n*m up to which the exact null distribution is counted

# ----------------------------------------------------------------- the normal distribution

_STANDARD_NORMAL = NormalDist()
_SQRT1_2 = 0.70710678118654752440  # cephes' SQRTH, the constant scipy's ndtr multiplies by
_MAXLOG = 7.09782712893383996843e2  # cephes' MAXLOG, log(DBL_MAX): its erfc is 0 past sqrt(MAXLOG)


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z: ``scipy.stats.norm.sf(z)``, i.e. ``scipy.special.ndtr(-z)``.

    Written as cephes' ``ndtr`` (which scipy uses) so the two agree to the last few
    bits: ``erf`` near the centre, ``erfc`` of the absolute value in the tails, where
    ``1 - erf`` would lose every digit of a small p-value.
    """
    x = -z * _SQRT1_2
    if abs(x) < _SQRT1_2:
        return 0.5 + 0.5 * math.erf(x)
    # Past z = 37.68 scipy's erfc returns 0 where libm's gives a subnormal; say 0 too, as scipy does.
    tail = 0.5 * math.erfc(abs(x)) if x * x <= _MAXLOG else 0.0
    return 1.0 - tail if x > 0 else tail


@lru_cache(maxsize=256)
def normal_ppf(q: float) -> float:
    """The standard normal quantile, ``scipy.stats.norm.ppf(q)`` for 0 < q < 1 (cached: a gate asks few levels)."""
    return _STANDARD_NORMAL.inv_cdf(q)


# ----------------------------------------------------------------- Mann–Whitney


@lru_cache(maxsize=256)
def _u_null_cdf(n: int, m: int) -> tuple[float, ...]:
    """P(U <= u) for u = 0..n*m under H0, by counting arrangements (no ties).

    The number of arrangements giving U = u is the coefficient of q**u in the
    Gaussian binomial [n+m choose n]_q = prod_{i=1..n} (1 - q**(m+i)) / (1 - q**i),
    computed as integer power series cut at degree n*m (the quotient is a
    polynomial of that degree, so the cut loses nothing). Integers are exact, and
    each probability is one correctly rounded division.
    """
    small, large = min(n, m), max(n, m)  # the distribution is symmetric in n and m
    top = small * large
    counts = [1] + [0] * top
    for i in range(1, small + 1):
        step = large + i
        for u in range(top, step - 1, -1):  # times (1 - q**step)
            counts[u] -= counts[u - step]
        for u in range(i, top + 1):  # divided by (1 - q**i)
            counts[u] += counts[u - i]
    total = math.comb(n + m, n)
    return tuple(cumulative / total for cumulative in accumulate(counts))


def min_p(n: int, m: int) -> float:
    """The smallest one-sided p-value Mann–Whitney can give with n and m samples."""
    return 1.0 / math.comb(n + m, n)


@lru_cache(maxsize=1024)
def _critical_rank(n: int, m: int, tail: float) -> int:
    """Largest k with P(U < k) <= tail: the Moses interval uses the k-th order statistics."""
    if n * m <= EXACT_LIMIT:
        # P(U <= u) <= tail  <=>  P(U < u+1) <= tail, so k counts such u (the cdf only rises).
        return bisect_right(_u_null_cdf(n, m), tail)
    mean = n * m / 2
    sd = math.sqrt(n * m * (n + m + 1) / 12)
    return max(0, math.floor(mean - normal_ppf(1 - tail) * sd))


def median_of_sorted(values: Sequence[float]) -> float:
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


class Pairs(NamedTuple):
    """Two samples c and b as the rank tests see them: every difference ``c - b``, sorted, and the pooled ties.

    One sort serves the shift estimate, its interval and both one-sided tests. (A named
    tuple: a gate builds hundreds, and a frozen dataclass costs several times as much to make.)
    """

    n: int  # size of c
    m: int  # size of b
    diffs: list[float]
    tie_term: int  # sum of t**3 - t over groups of t equal values in the pooled sample; 0 when no ties
    all_equal: bool  # every pooled value the same: no evidence either way

    def p_greater(self, *, c_greater: bool = True) -> float:
        """One-sided p-value for "c tends to be larger than b" (with ``c_greater=False``, b than c)."""
        n, m = (self.n, self.m) if c_greater else (self.m, self.n)
        # U = #(x > y) + 0.5 #(x == y) over all pairs, x from the sample said to be larger.
        below, above = bisect_left(self.diffs, 0.0), bisect_right(self.diffs, 0.0)
        u = (len(self.diffs) - above if c_greater else below) + 0.5 * (above - below)
        if not self.tie_term and n * m <= EXACT_LIMIT:
            # P(U >= u) = P(U <= n*m - u) by symmetry: a small p-value is then read directly
            # (as scipy's exact sf does), not as 1 - P(U < u), which would cancel its digits away.
            return _u_null_cdf(n, m)[n * m - round(u)]
        if self.all_equal:
            return 1.0
        # scipy.stats.mannwhitneyu(method="asymptotic", use_continuity=True), operation for operation:
        # the tie-corrected standard deviation, then half a unit of continuity correction.
        total = n + m
        sd = math.sqrt(n * m / 12 * ((total + 1) - float(self.tie_term) / (total * (total - 1))))
        p = normal_sf((u - n * m / 2 - 0.5) / sd)
        return 1.0 if math.isnan(p) else min(1.0, max(0.0, p))

    def shift(self, tail: float) -> tuple[float, float, float]:
        """Hodges–Lehmann estimate of the shift c - b and its (1 - 2*tail) Moses interval."""
        estimate = median_of_sorted(self.diffs)
        k = _critical_rank(self.n, self.m, tail)
        if k <= 0:
            return estimate, -math.inf, math.inf
        return estimate, self.diffs[k - 1], self.diffs[len(self.diffs) - k]


def pairs_of(c: Samples, b: Samples) -> Pairs:
    pooled = [*c, *b]
    distinct = len(set(pooled))
    # Most samples have no ties at all: count the groups only when there are some.
    tie_term = 0 if distinct == len(pooled) else sum(t**3 - t for t in Counter(pooled).values())
    return Pairs(len(c), len(b), sorted([x - y for x in c for y in b]), tie_term, distinct == 1)
