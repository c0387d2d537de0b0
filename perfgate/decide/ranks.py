"""Mann–Whitney rank tests and the Hodges–Lehmann shift on plain floats (no numpy, no scipy).

The decision rule (``perfgate.decide.stats``) asks this module three things
about two small samples: the one-sided Mann–Whitney p-value, the
Hodges–Lehmann shift and its Moses interval. A gate asks them hundreds of
times for samples of 5–40 values, where an array library's per-call cost
dwarfs the arithmetic, and importing ``scipy.stats`` alone took longer than a
whole ``perfgate compare``. So everything here is the standard library:

* without ties, the exact null distribution of U is counted in integers (a
  Gaussian binomial), identical to the float64 counting it replaced;
* with ties, the exact permutation distribution of U with mid-ranks is counted
  in integers over every split of the pooled values (``_tied_u_counts``): the
  normal approximation it replaced gave p-values far too small on memory
  figures and coarse timers (15 × 900 MB against one run at 950 MB: 1.5e-4,
  where no split of 16 values can give less than 1/16);
* above ``EXACT_LIMIT``, the tie-corrected normal approximation is
  ``scipy.stats.mannwhitneyu``'s (``method="asymptotic"``,
  ``use_continuity=True``) operation for operation, with the normal tail
  computed as scipy's ``ndtr`` computes it, from ``math.erf`` / ``math.erfc``;
* the normal quantile is ``statistics.NormalDist.inv_cdf`` (Wichura's AS241,
  accurate to about 1e-16).

``tests/unit/test_stats_scipy.py`` checks every p-value and quantile against
``scipy.stats`` on thousands of seeded random inputs; ``tests/unit/test_ranks_ties.py``
checks the tied p-values against enumerating every split.
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

# n*m up to which the exact null distribution is counted, with or without ties. With ties the
# count costs about 0.1 ms at 5 vs 15 and 1 ms at 20 vs 20 per tie pattern (tests/bench/bench_gate.py).
EXACT_LIMIT = 400

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
    """The smallest one-sided p-value Mann–Whitney can give with n and m samples (no ties; ties only raise it)."""
    return 1.0 / math.comb(n + m, n)


def _tied_u_counts(groups: tuple[int, ...], k: int) -> list[int]:
    """How many of the C(N, k) ways to pick k of the N pooled values give each 2U = 0..2k(N-k).

    ``groups`` are the sizes of the runs of equal values, in increasing order of
    value. U of the picked sample counts its pairs with the rest, a win as 1 and a
    tie as 1/2 (the mid-rank statistic), so 2U is an integer. Picking j of a group
    of t after K of the `seen` smaller values were picked adds j * (seen - K) wins
    and j * (t - j) half-wins, in C(t, j) ways. The dynamic programme runs over the
    groups with one row per K; a row is a polynomial in 2U whose coefficients are
    stored in fixed-width bit slots of one Python integer, so that shifting 2U is a
    shift, and weighting and adding rows is integer arithmetic done in C (a list of
    counts per row, looped over in Python, was 5 to 50 times slower). Row K after
    `seen` values holds C(seen, K) ways in all, at most C(N, min(k, N // 2)), so a
    slot that wide never carries into the next.
    """
    total = sum(groups)
    width = 8 * -(-math.comb(total, min(k, total // 2)).bit_length() // 8)  # whole bytes, to read slots back
    rows = [1] + [0] * k
    seen = 0
    for t in groups:
        grown = [0] * (k + 1)
        # Rows that can no longer reach k picks (too few values left) are dropped.
        for picked in range(max(0, k - (total - seen)), min(seen, k) + 1):
            row = rows[picked]
            grown[picked] += row  # none of this group picked: no wins, no ties
            for j in range(1, min(t, k - picked) + 1):
                moved = row << width * (2 * j * (seen - picked) + j * (t - j))
                grown[picked + j] += moved if j == t else math.comb(t, j) * moved
        rows, seen = grown, seen + t
    slots, size = 2 * k * (total - k) + 1, width // 8
    raw = rows[k].to_bytes(slots * size, "little")
    return [int.from_bytes(raw[i : i + size], "little") for i in range(0, slots * size, size)]


@lru_cache(maxsize=1024)
def _tied_u_null(groups: tuple[int, ...], n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """P(2U <= s) and P(2U >= s), s = 0..2nm, for a sample of n among values tied in ``groups``.

    Under H0 every split of the pooled values into n and m is equally likely,
    ties and all: this is the exact permutation distribution. It depends on the
    values only through the group sizes, so a gate's tests with the same tie
    pattern share it. Counted for the smaller sample (fewer rows); the other's
    2U is 2nm minus it.
    """
    m = sum(groups) - n
    counts = _tied_u_counts(groups, n) if n <= m else _tied_u_counts(groups, m)[::-1]
    total = math.comb(n + m, n)
    # Each probability is one correctly rounded division of exact integer sums, tails read directly.
    at_most = tuple(c / total for c in accumulate(counts))
    at_least = tuple(c / total for c in reversed(list(accumulate(reversed(counts)))))
    return at_most, at_least


def _max_twice_u(groups: tuple[int, ...], k: int) -> int:
    """2U of a sample of k holding the k largest pooled values (``groups`` as in ``_tied_u_counts``)."""
    others = sum(groups) - k
    twice_u, others_at_or_above, left = 0, 0, k
    for t in reversed(groups):
        if not left:
            break
        picked = min(t, left)
        beside = t - picked  # the others tied with the picked values of this group: half a win each
        others_at_or_above += beside
        twice_u += picked * (2 * (others - others_at_or_above) + beside)
        left -= picked
    return twice_u


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
    tie_groups: tuple[int, ...] = ()  # sizes of the runs of equal pooled values, by value; () when no ties

    def twice_u(self) -> int:
        """2U of c: twice #(c > b) + #(c == b) over all pairs (an integer, ties and all)."""
        below, above = bisect_left(self.diffs, 0.0), bisect_right(self.diffs, 0.0)
        return 2 * (len(self.diffs) - above) + (above - below)

    def p_greater(self, *, c_greater: bool = True) -> float:
        """One-sided p-value for "c tends to be larger than b" (with ``c_greater=False``, b than c)."""
        return self._p_at(self.twice_u(), c_greater=c_greater)

    def p_floor(self, *, c_greater: bool = True) -> float:
        """The smallest p-value ``p_greater`` could give for any split of these pooled values into n and m.

        ``min_p(n, m)`` without ties; ties raise it (15 × 900 and 5 × 960 split 5 against 15
        can give no less than C(8, 5) / C(20, 5) = 0.0036, not 1 / C(20, 5)), so this says
        whether a level is reachable with the values at hand.
        """
        if self.all_equal:
            return 1.0
        if not self.tie_groups:
            return min_p(self.n, self.m)
        # The most extreme split: the sample said to be larger holds the largest values.
        if c_greater:
            return self._p_at(_max_twice_u(self.tie_groups, self.n), c_greater=True)
        return self._p_at(2 * self.n * self.m - _max_twice_u(self.tie_groups, self.m), c_greater=False)

    def _p_at(self, twice_u_c: int, *, c_greater: bool) -> float:
        """P(U >= u) for the sample said to be larger, where c's U is twice_u_c / 2."""
        n, m = self.n, self.m
        if self.all_equal:
            return 1.0
        if n * m <= EXACT_LIMIT:
            if not self.tie_groups:
                # P(U_c >= u) = P(U_c <= n*m - u) by symmetry: a small p-value is then read directly
                # (as scipy's exact sf does), not as 1 - P(U < u), which would cancel its digits away.
                # And P(U_b >= nm - u) = P(U_c <= u).
                cdf = _u_null_cdf(n, m)
                return cdf[n * m - twice_u_c // 2] if c_greater else cdf[twice_u_c // 2]
            at_most, at_least = _tied_u_null(self.tie_groups, n)
            return at_least[twice_u_c] if c_greater else at_most[twice_u_c]
        # scipy.stats.mannwhitneyu(method="asymptotic", use_continuity=True), operation for operation:
        # the tie-corrected standard deviation, then half a unit of continuity correction.
        u = twice_u_c / 2 if c_greater else n * m - twice_u_c / 2
        total = n + m
        sd = math.sqrt(n * m / 12 * ((total + 1) - float(self.tie_term) / (total * (total - 1))))
        p = normal_sf((u - n * m / 2 - 0.5) / sd)
        return 1.0 if math.isnan(p) else min(1.0, max(0.0, p))

    def shift(self, tail: float) -> tuple[float, float, float]:
        """Hodges–Lehmann estimate of the shift c - b and its (1 - 2*tail) Moses interval.

        The interval is cut at the critical rank of the no-tie null distribution, with
        ties too. That keeps its coverage at or above 1 - 2*tail when c is b shifted
        (discrete values included): the true shift falls below the interval only when
        fewer than k differences are <= it, and counting a tied difference as "<=" can
        only raise that count above what the continuous null, whose k it is, allows
        (breaking each tie at random gives the continuous case). On quantized data it is
        conservative, and can be of zero width when most differences tie (a 1 ms timer
        at 3 ms): that says the values moved by less than their resolution, not that the
        shift is known to be zero; ``tests/unit/test_ranks_ties.py`` measures the coverage.
        """
        estimate = median_of_sorted(self.diffs)
        k = _critical_rank(self.n, self.m, tail)
        if k <= 0:
            return estimate, -math.inf, math.inf
        return estimate, self.diffs[k - 1], self.diffs[len(self.diffs) - k]


def pairs_of(c: Samples, b: Samples) -> Pairs:
    pooled = [*c, *b]
    distinct = len(set(pooled))
    diffs = sorted([x - y for x in c for y in b])
    if distinct == len(pooled):  # most samples have no ties at all: count the groups only when there are some
        return Pairs(len(c), len(b), diffs, 0, False)
    groups = tuple(count for _, count in sorted(Counter(pooled).items()))
    tie_term = sum(t**3 - t for t in groups)
    return Pairs(len(c), len(b), diffs, tie_term, distinct == 1, groups)


def p_greater(c: Samples, b: Samples) -> float:
    """One-sided p-value for "c tends to be larger than b"."""
    return pairs_of(c, b).p_greater()


def hodges_lehmann(c: Samples, b: Samples, tail: float) -> tuple[float, float, float]:
    """Shift estimate and its (1 - 2*tail) interval from the pairwise differences."""
    return pairs_of(c, b).shift(tail)
