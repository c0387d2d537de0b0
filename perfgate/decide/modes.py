"""Two modes in one sample set: detect them, and compare how often two samples fall in the upper one.

A runner that throttles now and then (heat, a background job) gives a metric
two clusters of runs, e.g. a fifth of them 25 % slower. A shift test then sees
a wide, noisy sample and loses power, and a verdict can hinge on how many runs
happened to land in the slow cluster. This module says so; what to do about it
is the caller's.

The rule (``find_modes``), on the logs of the values, so that it reads ratios
and does not depend on the metric's scale:

1. sort the logs; every cut into a lower and an upper group with at least
   ``MIN_MODE_SIZE`` values and ``MIN_MODE_SHARE`` of the sample on each side
   is a candidate;
2. a cut's separation is the gap at the cut divided by the pooled within-group
   standard deviation (both groups' squared deviations about their own means,
   n − 2 degrees of freedom); the cut with the largest separation is kept;
3. the sample is bimodal when that separation reaches ``threshold(n)`` and,
   in the metric's own units, the gap is wider than ``RESOLUTION_STEPS`` times
   the smallest step between two distinct values: on a coarse grid (a 1 ms
   timer at 3 ms, memory in whole megabytes) a gap of a step or two is the
   grid, not two modes, and a sample of two distinct values is never bimodal.

Under one lognormal mode the logs are normal, so the false detection rate does
not depend on the CV; it does depend on n (few values leave a noisy pooled SD;
many values leave small gaps), hence a threshold that falls with n, to a floor
``SEPARATION_FLOOR``: 2.5, not the 1.0 one lognormal mode would allow at 45
values, so that a right-skewed single mode rarely passes for two. The constants
were chosen by simulation (``tests/bench/bench_modes.py``, figures in
``docs/statistics.md``). Modes that overlap are not found: 20 % of runs at
×1.25 is found at CV 3 % (a gap of about 5 SDs) and mostly missed at CV 5 %.

Pure functions: values in, frozen results out; standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

MIN_MODE_SIZE = 2  # one stray run is an outlier, not a mode
MIN_MODE_SHARE = 0.10  # nor is a handful of stragglers in a large sample
SEPARATION_FLOOR = 2.5  # the threshold from 18 values on (the gap: 2.5 within-mode SDs)
SMALL_SAMPLE_SCALE = 36.0  # threshold(n) = max(floor, scale / (n - 3)): 18 at 5 values, 5.1 at 10, 3.0 at 15
RESOLUTION_STEPS = 2.5  # on a grid, a gap of 3 steps or more (2 empty values) can be modes; 1 or 2 cannot


@dataclass(frozen=True)
class Modes:
    """What ``find_modes`` found in one sample set (``split``, ``upper_share``, ``ratio``: None unless bimodal)."""

    bimodal: bool
    split: float | None  # a value between the modes (the geometric mid-point of the gap)
    upper_count: int  # values above the split (0 unless bimodal)
    upper_share: float | None  # upper_count / n
    ratio: float | None  # median of the upper mode / median of the lower, e.g. 1.25
    separation: float  # the best cut's gap / pooled within-mode SD on logs (0.0: no cut; inf: two constant groups)
    threshold: float  # what the separation had to reach at this n


def threshold(n: int) -> float:
    """The separation a sample of n values must reach to be called bimodal (inf below 2 modes' worth)."""
    if n < 2 * MIN_MODE_SIZE or n <= 3:
        return math.inf
    return max(SEPARATION_FLOOR, SMALL_SAMPLE_SCALE / (n - 3))


def _sorted(values: Sequence[float]) -> list[float]:
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError("find_modes() works on ratios: every value must be finite and positive")
    return sorted(values)


def _median(ordered: Sequence[float]) -> float:
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _running_squares(xs: Sequence[float]) -> list[float]:
    """Sum of squared deviations about their mean of xs[:i], i = 0..n (Welford: exactly 0 on equal values)."""
    sums, mean, squares = [0.0], 0.0, 0.0
    for count, x in enumerate(xs, start=1):
        delta = x - mean
        mean += delta / count
        squares += delta * (x - mean)
        sums.append(squares)
    return sums


def _best_cut(logs: list[float]) -> tuple[float, int]:
    """(separation, index of the first upper value) of the best admissible cut; (0.0, 0) when none is."""
    n = len(logs)
    least = max(MIN_MODE_SIZE, math.ceil(MIN_MODE_SHARE * n - 1e-9))
    if n < 2 * least:
        return 0.0, 0
    below = _running_squares(logs)  # below[i]: the lower group logs[:i]
    above = _running_squares(logs[::-1])[::-1]  # above[i]: the upper group logs[i:]
    best, best_at = 0.0, 0
    for i in range(least, n - least + 1):
        gap = logs[i] - logs[i - 1]
        if gap <= 0:
            continue
        within = (below[i] + above[i]) / (n - 2)
        separation = gap / math.sqrt(within) if within > 0 else math.inf  # two constant groups: inf
        if separation > best:
            best, best_at = separation, i
    return best, best_at


def find_modes(values: Sequence[float]) -> Modes:
    """Whether ``values`` (finite, positive) fall into two separated clusters, and where."""
    ordered = _sorted(values)
    logs = [math.log(v) for v in ordered]
    n = len(logs)
    needed = threshold(n)
    separation, cut = _best_cut(logs)
    # A cut exists only at a positive gap, so there is a smallest step when it is read.
    resolved = cut > 0 and ordered[cut] - ordered[cut - 1] > RESOLUTION_STEPS * min(
        b - a for a, b in pairwise(ordered) if b > a
    )
    if not (separation >= needed and resolved):
        return Modes(False, None, 0, None, None, separation, needed)
    lower, upper = logs[:cut], logs[cut:]
    return Modes(
        bimodal=True,
        split=math.exp((logs[cut - 1] + logs[cut]) / 2),
        upper_count=len(upper),
        upper_share=len(upper) / n,
        ratio=math.exp(_median(upper) - _median(lower)),
        separation=separation,
        threshold=needed,
    )


@dataclass(frozen=True)
class ModeShares:
    """How many runs of each sample fall in the upper mode, and whether the shares differ."""

    split: float
    baseline_upper: int
    baseline_total: int
    current_upper: int
    current_total: int
    p_value: float  # Fisher's exact test, two-sided: the shares are the same under H0

    @property
    def baseline_share(self) -> float:
        return self.baseline_upper / self.baseline_total

    @property
    def current_share(self) -> float:
        return self.current_upper / self.current_total


def mode_shares(baseline: Sequence[float], current: Sequence[float], modes: Modes) -> ModeShares:
    """Count each sample's values above ``modes.split`` and test whether the two shares differ.

    ``modes`` is a bimodal result, typically of the baseline or of both samples
    pooled. For a lower-is-better metric the upper mode is the slow one (for a
    throughput, the fast one). E.g. a baseline with 3 of 15 runs in a slow mode
    and a current sample with 0 of 5: p = 0.54, the current sample may simply
    have missed the slow runs; 0 of 15 against 4 of 5: p = 0.001, the slow mode
    is new or more frequent.
    """
    if not modes.bimodal or modes.split is None:
        raise ValueError("mode_shares() needs a bimodal Modes (find_modes(...).bimodal)")
    if not baseline or not current:
        raise ValueError("mode_shares() needs at least one baseline and one current value")
    split = modes.split
    b_upper = sum(v > split for v in baseline)
    c_upper = sum(v > split for v in current)
    return ModeShares(
        split,
        b_upper,
        len(baseline),
        c_upper,
        len(current),
        fisher_exact(b_upper, len(baseline), c_upper, len(current)),
    )


def fisher_exact(a_hits: int, a_total: int, b_hits: int, b_total: int) -> float:
    """Two-sided Fisher exact p-value for "the two proportions are equal" (as ``scipy.stats.fisher_exact``).

    Conditioned on the total hits, the hits of the first sample are hypergeometric;
    the p-value sums every table no more likely than the one observed. Counts are
    integers, so "no more likely" is compared exactly.
    """
    hits, total = a_hits + b_hits, a_total + b_total
    weights = [math.comb(a_total, k) * math.comb(b_total, hits - k) for k in range(hits + 1)]
    observed = weights[a_hits]
    return min(1.0, sum(w for w in weights if w <= observed) / math.comb(total, hits))


def bimodal_notes(baseline: Sequence[float], current: Sequence[float], least_ratio: float = 1.0) -> list[str]:
    """Say when the runs fall into two modes (a throttled minority, say), and when the shares differ.

    Two modes make every spread figure misleading and the rank test weaker; a
    change in how many runs land in the slow mode is often the change itself.
    Modes closer than ``least_ratio`` (the decision rule passes half the
    metric's threshold) are not worth a note: a baseline of three sessions
    whose offsets differ by 3 % is two "modes" to the rule above, and a quiet
    session effect the session model already weighs, not throttling.
    """
    notes: list[str] = []
    for label, values in (("baseline", baseline), ("current", current)):
        modes = find_modes(values)
        if not modes.bimodal or modes.upper_share is None or modes.ratio is None or modes.ratio < least_ratio:
            continue
        notes.append(
            f"{label} bimodal: {modes.upper_count} of {len(values)} runs ×{modes.ratio:.2f} "
            "(throttling or background load?)"
        )
        shares = mode_shares(baseline, current, modes)
        if shares.p_value < 0.05:
            notes.append(
                f"runs above {shares.split:.4g}: {shares.current_upper}/{shares.current_total} current, "
                f"{shares.baseline_upper}/{shares.baseline_total} baseline"
            )
        break
    return notes
