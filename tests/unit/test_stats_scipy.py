"""The gate's rank tests and normal functions give scipy.stats' numbers without importing scipy.stats.

``perfgate.decide.ranks`` replaces ``scipy.stats.mannwhitneyu`` and
``scipy.stats.norm`` on the gate's hot path. These tests hold it to scipy's
figures on thousands of seeded random inputs: sample sizes 1..30 against
1..40, with and without ties, small and large shifts, both directions. Each
p-value is compared with scipy's on the path perfgate takes: exact without
ties up to ``EXACT_LIMIT``, the exact permutation test with ties up to it
(scipy's ``PermutationMethod``, where its enumeration is small enough to run
here; ``tests/unit/test_ranks_ties.py`` counts the rest by brute force), and
the tie-corrected normal approximation above it.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

import perfgate.decide
from perfgate.decide.ranks import EXACT_LIMIT, hodges_lehmann, normal_ppf, normal_sf, p_greater
from perfgate.decide.stats import MetricTest, decide

REL = 1e-12
CASES = 2000  # each compared in both directions: 4,000 p-values


def _same(ours: float, theirs: float) -> bool:
    return ours == theirs or math.isclose(ours, theirs, rel_tol=REL, abs_tol=0.0)


PERMUTATION_SPLITS = 600  # scipy enumerates every split: the tied cases it checks here stay this small


def _path(c: np.ndarray, b: np.ndarray) -> str:
    """Which p-value perfgate documents for these samples (the scipy method that gives it)."""
    if c.size * b.size > EXACT_LIMIT:
        return "asymptotic"
    tied = np.unique(np.concatenate([c, b])).size < c.size + b.size
    return "permutation" if tied else "exact"


def _scipy_p(c: np.ndarray, b: np.ndarray) -> float:
    """The one-sided p-value perfgate documents, from scipy."""
    path = _path(c, b)
    if path == "permutation":
        method = sps.PermutationMethod(n_resamples=np.inf)
        return float(sps.mannwhitneyu(c, b, alternative="greater", method=method).pvalue)
    return float(sps.mannwhitneyu(c, b, alternative="greater", method=path, use_continuity=True).pvalue)


def _scipy_can_check(c: np.ndarray, b: np.ndarray) -> bool:
    """scipy's permutation test wants 2+ values a sample and enumerates every split: keep it small."""
    if _path(c, b) != "permutation":
        return True
    return min(c.size, b.size) >= 2 and math.comb(c.size + b.size, c.size) <= PERMUTATION_SPLITS


def _draw(rng: np.random.Generator, size: int, kind: int, shift: float) -> np.ndarray:
    if kind == 0:  # continuous: no ties, the exact path while n*m <= 400
        return rng.normal(shift, 1.0, size)
    if kind == 1:  # RSS-like figures rounded to half a megabyte: a few ties
        return np.round(rng.normal(5200 + 3 * shift, 1.5, size) * 2) / 2
    return rng.integers(0, 4, size) + float(shift > 0)  # heavy ties


def _samples(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 31)), int(rng.integers(1, 41))
    kind = int(rng.integers(0, 3))
    shift = float(rng.choice([0.0, 0.3, 1.0, 3.0]))
    return _draw(rng, n, kind, shift), _draw(rng, m, kind, 0.0)


def test_p_values_equal_scipys_on_thousands_of_random_samples() -> None:
    paths = {"exact": 0, "permutation": 0, "asymptotic": 0, "asymptotic with ties": 0, "tiny p": 0}
    for seed in range(CASES):
        c, b = _samples(seed)
        if np.ptp(np.concatenate([c, b])) == 0 or not _scipy_can_check(c, b):
            continue  # every value equal: scipy says nan, perfgate 1.0 (the next test)
        paths[_path(c, b)] += 1
        paths["asymptotic with ties"] += _path(c, b) == "asymptotic" and np.unique(np.concatenate([c, b])).size < (
            c.size + b.size
        )
        for x, y in ((c, b), (b, c)):  # both one-sided tests a verdict uses
            ours, theirs = p_greater(x, y), _scipy_p(x, y)
            paths["tiny p"] += theirs < 1e-6
            assert _same(ours, theirs), (seed, x.size, y.size, ours, theirs)
    # The cases cover every path, the small p-values included (where 1 - P would have lost digits).
    assert paths["exact"] >= 300, paths
    assert paths["permutation"] >= 80, paths
    assert paths["asymptotic"] >= 300, paths
    assert paths["asymptotic with ties"] >= 300, paths
    assert paths["tiny p"] >= 100, paths


def test_p_value_is_one_when_every_value_is_equal() -> None:
    assert p_greater([3.0] * 4, [3.0] * 7) == 1.0
    assert p_greater([3.0], [3.0]) == 1.0


def test_normal_tail_equals_scipys_from_the_centre_to_the_far_tail() -> None:
    rng = np.random.default_rng(11)
    # Up to z = 37, where the tail (5.7e-301) is still a normal double; subnormals carry fewer digits.
    zs = np.concatenate([rng.uniform(-40, 37, 4000), np.linspace(-1, 1, 401), [0.0, -0.0, math.sqrt(2), 37.0]])
    for z in zs:
        ours, theirs = normal_sf(float(z)), float(sps.norm.sf(z))
        assert _same(ours, theirs), (z, ours, theirs)
    for z in (37.68, 38.0, 50.0, math.inf):  # where scipy's erfc gives 0, perfgate's does too
        assert normal_sf(z) == float(sps.norm.sf(z)) == 0.0
        assert normal_sf(-z) == float(sps.norm.sf(-z)) == 1.0


def test_normal_quantile_equals_scipys() -> None:
    rng = np.random.default_rng(12)
    # The levels a gate asks (1 - alpha / family, 1 - tail) and a spread over (0, 1), tails included.
    qs = [1 - 0.05 / k for k in range(1, 400)] + [1 - 0.01 / k for k in range(1, 400)]
    qs += (
        list(rng.uniform(0, 1, 3000))
        + list(10.0 ** -rng.uniform(1, 15, 500))
        + list(1 - 10.0 ** -rng.uniform(1, 15, 500))
    )
    for q in qs:
        ours, theirs = normal_ppf(float(q)), float(sps.norm.ppf(q))
        assert _same(ours, theirs), (q, ours, theirs)


def _scipy_cdf(n: int, m: int, u: int) -> float:
    """P(U <= u) under H0 by scipy's exact distribution: the "less" p-value of two samples whose U is u."""
    if u < 0:
        return 0.0
    b = np.arange(m, dtype=float)
    c, left = np.empty(n), u
    for i in range(n):  # c[i] sits above `above` of b's values, so the pairs with c > b add up to u
        above = min(m, left)
        c[i], left = above - 0.5, left - above
    return float(sps.mannwhitneyu(c, b, alternative="less", method="exact").pvalue)


@pytest.mark.parametrize(("n", "m"), [(3, 4), (5, 15), (15, 5), (10, 40), (12, 34), (30, 40)])
@pytest.mark.parametrize("tail", [0.05, 0.025, 0.001])
def test_moses_interval_is_cut_at_scipys_critical_rank(n: int, m: int, tail: float) -> None:
    rng = np.random.default_rng(n * m)
    c, b = rng.normal(0.2, 1.0, n), rng.normal(0.0, 1.0, m)
    _, low, high = hodges_lehmann(c, b, tail)
    if n * m > EXACT_LIMIT:  # the normal approximation's rank, with scipy's quantile
        k = math.floor(n * m / 2 - float(sps.norm.ppf(1 - tail)) * math.sqrt(n * m * (n + m + 1) / 12))
    else:  # the exact rank: P(U < k) <= tail < P(U < k + 1)
        k = next(k for k in range(n * m + 1) if _scipy_cdf(n, m, k) > tail)
        assert _scipy_cdf(n, m, k - 1) <= tail
    diffs = np.sort((c[:, None] - b[None, :]).ravel())
    if k <= 0:
        assert (low, high) == (-math.inf, math.inf)
    else:
        assert (low, high) == (diffs[k - 1], diffs[diffs.size - k])


def test_decisions_carry_scipys_p_values() -> None:
    rng = np.random.default_rng(13)
    tests, expected = [], []
    for _ in range(200):
        n, m = int(rng.integers(2, 31)), int(rng.integers(2, 41))
        b = tuple(float(v) for v in 100 * np.exp(rng.normal(0.0, 0.05, m)))
        c = tuple(float(v) for v in 100 * float(rng.choice([1.0, 1.1])) * np.exp(rng.normal(0.0, 0.05, n)))
        tests.append(MetricTest(b, c, "lower", 0.1, 0.1, informational=True))
        oc, ob = np.log(c), np.log(b)
        expected.append((_scipy_p(oc, ob), _scipy_p(ob, oc)))
    compared = 0
    for decision, (worse, better) in zip(decide(tests), expected, strict=True):
        if any(r.startswith("uncertainty ×") for r in decision.reasons):
            continue  # baseline runs looked correlated by chance: the session model's p-value, not the rank test's
        compared += 1
        assert _same(decision.p_worse, worse)
        assert _same(decision.p_better, better)
    assert compared >= 190


def test_the_decision_modules_import_neither_scipy_nor_numpy() -> None:
    """`perfgate compare` pays for what these import; scipy.stats alone cost more than the whole gate."""
    root = Path(perfgate.decide.__file__).parent
    for name in ("stats.py", "ranks.py", "modes.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        heavy = {module for module in imported if module.split(".")[0] in {"scipy", "numpy"}}
        assert not heavy, (name, heavy)
