"""Coarse steps (``perfgate.decide.coarse``): the means move where the median cannot."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as sps

from perfgate.decide.coarse import coarse_resolution, mean_shift
from perfgate.decide.stats import MetricTest, decide


def test_a_quantized_figure_is_told_apart_from_a_continuous_one() -> None:
    assert coarse_resolution([3.0, 4.0, 3.0], [3.0] * 15, math.log1p(0.10)) is not None  # 33 % steps
    assert coarse_resolution([3.0, 3.0, 3.0], [3.0] * 15, math.log1p(0.10)) is None  # one value: no step seen
    assert coarse_resolution([3.01, 3.2, 3.1], [3.05, 3.15, 2.9], math.log1p(0.10)) is None  # no ties
    assert coarse_resolution([900.0, 901.0], [900.0, 902.0], math.log1p(0.05)) is None  # 1 MB steps, 5 %


def test_the_interval_is_welchs_on_the_log_of_the_ratio_of_means() -> None:
    rng = np.random.default_rng(5)
    current = [float(v) for v in np.round(rng.normal(3.5, 0.3, 12))]
    baseline = [float(v) for v in np.round(rng.normal(3.0, 0.3, 30))]
    effect, low, high = mean_shift(current, baseline, 0.05)
    assert effect == pytest.approx(math.log(np.mean(current) / np.mean(baseline)))
    # The same interval by the delta method, with scipy's Welch degrees of freedom.
    vc, vb = np.var(current, ddof=1) / len(current), np.var(baseline, ddof=1) / len(baseline)
    rel = vc / np.mean(current) ** 2 + vb / np.mean(baseline) ** 2
    rc, rb = vc / np.mean(current) ** 2, vb / np.mean(baseline) ** 2
    dof = rel**2 / (rc**2 / (len(current) - 1) + rb**2 / (len(baseline) - 1))
    half = sps.t.ppf(0.95, dof) * math.sqrt(rel)
    assert (low, high) == pytest.approx((effect - half, effect + half), rel=1e-9)
    assert mean_shift([4.0] * 5, [3.0] * 15, 0.05) == (math.log(4 / 3),) * 3  # no spread: the estimate itself


def _quantized(rng: np.random.Generator, median: float, n: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.maximum(1.0, np.round(median * np.exp(rng.normal(0.0, 0.05, n)))))


def test_more_runs_keep_a_quantized_regression_in_sight() -> None:
    """TTFT 3 ms on a 1 ms timer, +25 %: the median stays at 3 ms, the mean moves, more runs settle it."""
    rng = np.random.default_rng(7)
    baseline = _quantized(rng, 3.0, 45)
    current = _quantized(rng, 3.75, 40)
    decision = decide([MetricTest(baseline, current, "lower", 0.10, 0.10)])[0]
    assert decision.current_median == 4.0 or decision.change > 0.15  # the means' change, well past 10 %
    assert decision.verdict == "regressed"
    # A throughput (higher is better) is oriented the same way.
    speed = decide([MetricTest(tuple(1 / v for v in baseline), tuple(1 / v for v in current), "higher", 0.1, 0.1)])
    assert speed[0].verdict == "regressed"
    assert speed[0].change < -0.1


def test_equal_readings_are_no_evidence_of_no_change() -> None:
    decision = decide([MetricTest((3.0,) * 15, (3.0, 3.0, 3.0, 3.0, 4.0), "lower", 0.10, 0.10)])[0]
    assert decision.verdict == "inconclusive"  # issue 14: this was `unchanged`, +0.0 % [+0.0, +0.0]
    assert decision.change == pytest.approx(3.2 / 3.0 - 1)  # the means', not the median's 0
    steady = decide([MetricTest((3.0,) * 40 + (4.0,) * 4, (3.0,) * 36 + (4.0,) * 4, "lower", 0.10, 0.10)])[0]
    assert steady.verdict == "inconclusive"
    assert any("too coarse to show no change" in reason for reason in steady.reasons)
    assert steady.runs_needed is None  # no number of runs makes steps this coarse show "unchanged"
