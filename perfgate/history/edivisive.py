"""E-divisive means change-point detection (Matteson & James 2014), as Apache Otava (formerly Hunter) runs it.

Pure: a sequence of floats in, change-point indices with p-values out; the
permutation test draws from a generator seeded by the caller.

For a split of ``x[0:n]`` at ``tau`` into ``X = x[:tau]`` and ``Y = x[tau:]``
(``alpha`` = 1, as Otava uses), the divergence of the two parts is::

    E = 2/(|X||Y|) Σ|x - y| - 1/C(|X|,2) Σ_{X pairs}|x - x'| - 1/C(|Y|,2) Σ_{Y pairs}|y - y'|
    Q(tau) = |X||Y| / n · E

The best split of a segment is the ``tau`` maximising ``Q``. It is accepted when a
permutation test says so: the segment's values shuffled ``permutations`` times,
``p = (1 + #{max Q of a shuffle >= max Q}) / (1 + permutations)``; a split with
``p <= max_p`` becomes a change point and both sides are searched again
(hierarchically: always the segment whose best split is strongest), until the
strongest remaining split is not significant. The test stops early once enough
shuffles beat the observed ``Q`` that ``p`` cannot reach ``max_p`` (the result
is the same; most tests of a flat segment end after a few shuffles).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Split:
    """An accepted change point: the values from ``index`` on differ from those before."""

    index: int
    q: float
    p_value: float


def _q_all(values: Floats, min_size: int) -> Floats:
    """Q(tau) for every tau in [min_size, n - min_size] (``-inf`` elsewhere), κ = n (the segment's end).

    ``values`` may be a stack of series (the permutation test's shuffles): the last axis is the series.
    Block sums of the distance matrix come from two running sums: each row's total, and each row's
    sum over the earlier values (so the pairs within a prefix accumulate as the prefix grows).
    """
    n = values.shape[-1]
    dist = np.abs(values[..., :, None] - values[..., None, :])
    cum_rows = np.cumsum(dist.sum(axis=-1), axis=-1)  # sum of dist[:t, :] at t - 1
    within = np.cumsum(np.tril(dist).sum(axis=-1), axis=-1)  # sum over pairs i < j < t, at t - 1
    taus = np.arange(min_size, n - min_size + 1)
    left = 2 * within[..., taus - 1]  # block [:tau, :tau]
    between = cum_rows[..., taus - 1] - left  # block [:tau, tau:]
    right = cum_rows[..., n - 1, None] - 2 * between - left  # block [tau:, tau:]
    m = n - taus
    divergence = 2 * between / (taus * m) - left / (taus * (taus - 1)) - right / (m * (m - 1))
    q = np.full((*values.shape[:-1], n + 1), -np.inf)
    q[..., taus] = taus * m / n * divergence
    return q


def best_split(values: Floats, min_size: int) -> tuple[int, float] | None:
    """The ``tau`` with the largest Q and that Q, or None when the segment is too short to split."""
    if values.shape[0] < 2 * min_size:
        return None
    q = _q_all(values, min_size)
    tau = int(np.argmax(q))
    return tau, float(q[tau])


def permutation_p(  # noqa: PLR0917 -- the test's inputs, each needed
    values: Floats, observed: float, min_size: int, permutations: int, max_p: float, rng: np.random.Generator
) -> float:
    """How often a shuffle of ``values`` splits at least as well as ``observed`` (early stop past ``max_p``)."""
    # More exceedances than this and p > max_p, whatever the remaining shuffles do.
    allowed = math.floor(max_p * (permutations + 1) + 1e-9) - 1
    exceed = 0
    done = 0
    while done < permutations:
        size = min(8 if done == 0 else 32, permutations - done)  # a small first batch: most tests end there
        shuffled = np.stack([rng.permutation(values) for _ in range(size)])
        best = _q_all(shuffled, min_size).max(axis=-1)
        exceed += int(np.count_nonzero(best >= observed * (1 - 1e-12)))
        done += size
        if exceed > allowed:
            break
    return (1 + exceed) / (1 + done)


def e_divisive(
    series: Sequence[float],
    *,
    max_p: float = 0.005,
    permutations: int = 199,
    min_size: int = 3,
    rng: np.random.Generator,
) -> list[Split]:
    """Change points of ``series``, in index order, each with the permutation test's p-value."""
    if min_size < 2:
        raise ValueError("min_size must be at least 2 (a segment's spread needs two values)")
    x = np.asarray(series, dtype=np.float64)
    bounds = [0, x.shape[0]]
    found: list[Split] = []
    while True:
        candidates: list[tuple[float, int, int, int]] = []
        for start, end in itertools.pairwise(bounds):
            split = best_split(x[start:end], min_size)
            if split is not None:
                candidates.append((split[1], start, end, start + split[0]))
        if not candidates:
            break
        q, start, end, index = max(candidates)
        p = permutation_p(x[start:end], q, min_size, permutations, max_p, rng)
        if p > max_p:
            # Otava stops at the first split that is not significant: weaker ones would not be either.
            break
        found.append(Split(index, q, p))
        bounds = sorted({*bounds, index})
    return sorted(found, key=lambda s: s.index)
