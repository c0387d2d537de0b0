"""Two modes in one sample set (``perfgate.decide.modes``), on fixed seeded examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from perfgate.decide.modes import (
    MIN_MODE_SHARE,
    Modes,
    find_modes,
    fisher_exact,
    mode_shares,
    threshold,
)


def lognormal(rng: np.random.Generator, n: int, cv: float, median: float = 100.0) -> list[float]:
    return [float(v) for v in median * np.exp(rng.normal(0.0, math.sqrt(math.log1p(cv * cv)), n))]


def throttled(seed: int, fast: int, slow: int, ratio: float = 1.25, cv: float = 0.03) -> list[float]:
    """``fast`` runs around 100 and ``slow`` runs around 100 × ratio, lognormal CV ``cv`` each, shuffled."""
    rng = np.random.default_rng(seed)
    values = lognormal(rng, fast, cv) + lognormal(rng, slow, cv, 100.0 * ratio)
    rng.shuffle(values)
    return values


def test_a_throttled_fifth_of_the_runs_is_a_second_mode() -> None:
    """The issue's thermal runner: 3 of 15 runs at ×1.25, CV 3 %."""
    values = throttled(1, fast=12, slow=3)
    modes = find_modes(values)
    assert modes.bimodal
    assert modes.upper_count == 3
    assert modes.upper_share == pytest.approx(0.2)
    assert modes.ratio == pytest.approx(1.25, rel=0.05)
    assert modes.split is not None
    assert max(v for v in values if v < modes.split) < modes.split < min(v for v in values if v > modes.split)
    assert modes.separation >= modes.threshold == threshold(15)


def test_a_fast_minority_is_found_too() -> None:
    """A throughput with a throttled fifth: the slow mode is the lower one."""
    values = throttled(2, fast=4, slow=16, ratio=1.25)  # 4 runs at 100, 16 at 125
    modes = find_modes(values)
    assert modes.bimodal
    assert modes.upper_count == 16
    assert modes.upper_share == pytest.approx(0.8)


@pytest.mark.parametrize("n", [5, 10, 15, 20, 45])
@pytest.mark.parametrize("cv", [0.03, 0.08])
def test_one_lognormal_mode_is_not_bimodal(n: int, cv: float) -> None:
    rng = np.random.default_rng(n * 1000 + int(cv * 100))
    for _ in range(20):
        modes = find_modes(lognormal(rng, n, cv))
        assert not modes.bimodal
        assert (modes.split, modes.upper_share, modes.ratio, modes.upper_count) == (None, None, None, 0)


def test_false_detections_stay_rare_and_detections_common_at_15_runs() -> None:
    """The benchmark's two headline rates, on fewer seeded samples (tests/bench/bench_modes.py has the rest)."""
    rng = np.random.default_rng(14)
    false = sum(find_modes(lognormal(rng, 15, 0.05)).bimodal for _ in range(2000))
    assert false / 2000 <= 0.015
    detected = sum(find_modes(throttled(seed, fast=12, slow=3)).bimodal for seed in range(300))
    assert detected / 300 >= 0.85


def test_one_stray_run_is_an_outlier_not_a_mode() -> None:
    assert not find_modes(throttled(3, fast=14, slow=1, ratio=1.5)).bimodal


def test_a_mode_needs_a_tenth_of_the_sample() -> None:
    # 4 of 45 runs at ×1.5 is under a tenth: stragglers. 5 of 45 is a mode.
    assert 4 / 45 < MIN_MODE_SHARE <= 5 / 45
    assert not find_modes(throttled(4, fast=41, slow=4, ratio=1.5)).bimodal
    assert find_modes(throttled(4, fast=40, slow=5, ratio=1.5)).bimodal


def test_a_coarse_grid_is_not_two_modes() -> None:
    # A 1 ms timer at 3 ms: two values a step apart are the timer's resolution.
    assert not find_modes([3.0] * 10 + [4.0] * 5).bimodal
    assert not find_modes([2.0, 3.0, 3.0, 3.0, 3.0, 4.0, 4.0, 5.0, 3.0, 3.0]).bimodal
    # Memory that steps between two figures: two distinct values, never bimodal.
    assert not find_modes([900.0] * 12 + [960.0] * 3).bimodal
    assert not find_modes([3.0] * 12 + [7.0] * 3).bimodal  # the grid could be 4 ms: nothing says otherwise
    # A 1 ms grid (3 and 4 ms), then a gap of 3 steps with nothing in it: that is a gap.
    modes = find_modes([3.0] * 10 + [4.0] * 2 + [7.0] * 3)
    assert modes.bimodal
    assert modes.upper_count == 3
    assert modes.ratio == pytest.approx(7 / 3)


def test_too_few_or_equal_values() -> None:
    for values in ([], [5.0], [5.0, 6.0], [5.0, 5.0, 9.0]):
        modes = find_modes(values)
        assert not modes.bimodal
        assert modes.threshold == math.inf
    assert find_modes([5.0] * 10) == Modes(False, None, 0, None, None, 0.0, threshold(10))


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_values_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="finite and positive"):
        find_modes([1.0, 2.0, bad, 3.0])


def test_the_scale_of_the_metric_does_not_matter() -> None:
    values = throttled(5, fast=12, slow=4)
    modes, scaled = find_modes(values), find_modes([v * 1000 for v in values])
    assert (modes.bimodal, modes.upper_count) == (scaled.bimodal, scaled.upper_count)
    assert scaled.separation == pytest.approx(modes.separation, rel=1e-9)
    assert scaled.ratio == pytest.approx(modes.ratio, rel=1e-12)


def test_the_threshold_falls_with_n_to_its_floor() -> None:
    assert threshold(3) == math.inf
    assert threshold(5) == pytest.approx(18.0)
    assert threshold(10) == pytest.approx(36 / 7)
    assert threshold(15) == pytest.approx(3.0)
    assert threshold(18) == threshold(45) == 2.5
    assert all(threshold(n) >= threshold(n + 1) for n in range(4, 100))


# ----------------------------------------------------------------- shares of the upper mode


def test_mode_shares_counts_each_sample_against_the_split() -> None:
    baseline = throttled(6, fast=12, slow=3)
    modes = find_modes(baseline)
    current = throttled(7, fast=5, slow=0)
    shares = mode_shares(baseline, current, modes)
    assert (shares.baseline_upper, shares.baseline_total, shares.current_upper, shares.current_total) == (3, 15, 0, 5)
    assert shares.baseline_share == pytest.approx(0.2)
    assert shares.current_share == 0.0
    # 0 of 5 against 3 of 15 proves nothing: the current runs may just have missed the slow mode.
    assert shares.p_value == pytest.approx(float(sps.fisher_exact([[3, 12], [0, 5]]).pvalue), rel=1e-12)
    assert shares.p_value > 0.5
    # 4 of 5 slow against 0 of 15 is a different mixture.
    shifted = mode_shares([100.0 + 0.1 * i for i in range(15)], throttled(8, fast=1, slow=4), modes)
    assert (shifted.baseline_upper, shifted.current_upper) == (0, 4)
    assert shifted.p_value < 0.01


def test_mode_shares_needs_two_modes_and_values() -> None:
    flat = find_modes([100.0, 101.0, 99.0, 100.5, 98.0])
    with pytest.raises(ValueError, match="bimodal"):
        mode_shares([1.0], [1.0], flat)
    modes = find_modes(throttled(9, fast=12, slow=3))
    with pytest.raises(ValueError, match="at least one"):
        mode_shares([], [1.0], modes)


def test_fisher_exact_equals_scipys() -> None:
    rng = np.random.default_rng(10)
    for _ in range(300):
        a_total, b_total = int(rng.integers(1, 46)), int(rng.integers(1, 46))
        a_hits, b_hits = int(rng.integers(0, a_total + 1)), int(rng.integers(0, b_total + 1))
        theirs = float(sps.fisher_exact([[a_hits, a_total - a_hits], [b_hits, b_total - b_hits]]).pvalue)
        assert fisher_exact(a_hits, a_total, b_hits, b_total) == pytest.approx(theirs, rel=1e-9, abs=1e-15)


def test_modes_closer_than_half_the_threshold_get_no_note() -> None:
    from perfgate.decide.stats import MetricTest, decide  # noqa: PLC0415

    rng = np.random.default_rng(31)
    # Three quiet sessions, one 3 % above the others: two "modes" to find_modes, a session offset in fact.
    sessions = [80.0, 80.0, 82.4]
    baseline = tuple(float(m * math.exp(e)) for m in sessions for e in rng.normal(0.0, 0.003, 5))
    current = tuple(float(80.0 * math.exp(e)) for e in rng.normal(0.0, 0.003, 5))
    assert find_modes(baseline).bimodal
    (quiet,) = decide([MetricTest(baseline, current, "lower", 0.10, 0.10, baseline_sessions=(5, 5, 5))])
    assert not any("bimodal" in reason for reason in quiet.reasons)
    # A throttled fifth at ×1.25 is past half of a 10 % threshold: noted.
    throttled = tuple(v * (1.25 if i % 5 == 0 else 1.0) for i, v in enumerate(baseline[:10] * 2))
    (hot,) = decide([MetricTest(throttled, current, "lower", 0.10, 0.10)])
    assert any("baseline bimodal" in reason for reason in hot.reasons)
