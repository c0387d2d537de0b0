"""Figures whose values come in steps too coarse for their threshold (pure).

A 1 ms timer at a 3 ms median moves in steps of 33 %: a real +15 % change
makes more of the readings 4 ms, while the median — and the Hodges–Lehmann
shift, the median of pairwise differences — stays at 3 ms until more than half
of them are. More runs then make things worse: the share of 4 ms readings
settles below one half and the shift estimate settles at 0, so a sequential
run that adds looks loses the power a fixed one had.

For such a figure the change is estimated from the means instead: the mean of
the readings moves with the share of each step, by as little as the change
moves it. Its interval is Welch's, on the log of the ratio of the means (the
delta method), with Student's t on Welch's degrees of freedom. The p-values stay
the exact rank tests' (valid with any number of ties); ``unchanged`` stays out
of reach (``coarse_resolution``), since equal readings are no evidence of no
change smaller than a step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from perfgate.decide.ranks import median_of_sorted
from perfgate.decide.student import t_ppf


def coarse_resolution(current: Sequence[float], baseline: Sequence[float], bound: float) -> str | None:
    """Why "unchanged" cannot be shown when the values come in steps too coarse for ``bound``, else None.

    ``bound`` is the nearer threshold on the log scale. The step is the smallest
    gap between distinct values (looked for only when values tie, the mark of a
    quantized figure).
    """
    pooled = sorted({*current, *baseline})
    if len(pooled) < 2 or len(pooled) == len(current) + len(baseline):
        return None
    step = min(b - a for a, b in itertools.pairwise(pooled))
    median = median_of_sorted(sorted(baseline))
    if median <= 0 or math.log1p(step / median) <= bound:
        return None
    return f"values move in steps of {step:g} ({step / median * 100:.0f} % of the median): too coarse to show no change"


def _moments(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the variance of that mean (0 for one value)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, 0.0
    return mean, math.fsum((v - mean) ** 2 for v in values) / (n - 1) / n


def mean_shift(current: Sequence[float], baseline: Sequence[float], tail: float) -> tuple[float, float, float]:
    """log(mean(current) / mean(baseline)) and its (1 - 2 tail) Welch interval, on the values' own scale.

    Both samples are positive values (``decide()`` checks). With no spread in
    either sample the interval is the estimate itself.
    """
    mean_c, var_c = _moments(current)
    mean_b, var_b = _moments(baseline)
    effect = math.log(mean_c / mean_b)
    # Delta method: var(log mean) = var(mean) / mean².
    rel_c, rel_b = var_c / mean_c**2, var_b / mean_b**2
    se2 = rel_c + rel_b
    if se2 <= 0:
        return effect, effect, effect
    parts = [(rel, len(s) - 1) for rel, s in ((rel_c, current), (rel_b, baseline)) if rel > 0]
    dof = se2**2 / math.fsum(rel**2 / d for rel, d in parts)
    half = t_ppf(1 - tail, dof) * math.sqrt(se2)
    return effect, effect - half, effect + half
