"""Drift detection on synthetic series (pure, seeded): change points, magnitude, cumulative drift, triage."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest

from perfgate.config import PerfgateConfig, TriageConfig
from perfgate.errors import Kind
from perfgate.history.drift import (
    BaselineLevel,
    DriftSettings,
    analyse,
    change_points,
    compared_any,
    outdated_baselines,
)
from perfgate.history.edivisive import _q_all, e_divisive
from perfgate.history.series import Point, SeriesKey
from perfgate.triage.drift import drift_findings, file_drift
from perfgate.triage.policy import RunContext

KEY = SeriesKey("sim", "short", "ttft_ms")
CONFIG = PerfgateConfig()


def noisy(n: int, *, seed: int, cv: float = 0.05, level: float = 100.0) -> np.ndarray:
    return level * np.exp(np.random.default_rng(seed).normal(0.0, cv, n))


def sha(i: int) -> str:
    """A commit named by its position: the first 12 characters (what messages show) tell them apart."""
    return f"{i:04d}".ljust(40, "a")


def points(values, *, start_day: int = 1) -> list[Point]:
    return [
        Point(sha(i), f"2026-12-{start_day + i // 24:02d}T{i % 24:02d}:00:00Z", float(v), 5, None, None)
        for i, v in enumerate(values)
    ]


def test_q_matches_the_definition_by_brute_force():
    x = np.random.default_rng(3).normal(size=13)
    q = _q_all(x, 2)
    for tau in range(2, 12):
        left, right = x[:tau], x[tau:]
        between = np.mean([abs(a - b) for a in left for b in right])
        within_left = np.mean([abs(a - b) for a, b in itertools.combinations(left, 2)])
        within_right = np.mean([abs(a - b) for a, b in itertools.combinations(right, 2)])
        expected = len(left) * len(right) / len(x) * (2 * between - within_left - within_right)
        assert q[tau] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_a_15_percent_step_is_found_where_it_is(seed):
    values = noisy(200, seed=seed)
    values[120:] *= 1.15
    found = change_points(KEY, points(values), DriftSettings(seed=seed))
    assert len(found) == 1
    cp = found[0]
    assert abs(cp.index - 120) <= 2
    assert cp.change == pytest.approx(0.15, abs=0.03)
    assert cp.p_value <= 0.005
    assert cp.commit_after == sha(cp.index)
    assert cp.commit_before == sha(cp.index - 1)


def test_a_flat_series_has_no_change_point():
    assert change_points(KEY, points(noisy(200, seed=11)), DriftSettings()) == []


def test_two_steps_are_both_found():
    values = noisy(150, seed=4, cv=0.02)
    values[50:] *= 1.2
    values[100:] /= 1.2
    found = change_points(KEY, points(values), DriftSettings())
    assert [abs(cp.index - at) <= 2 for cp, at in zip(found, (50, 100), strict=True)] == [True, True]
    assert found[0].change > 0.15
    assert found[1].change < -0.1


def test_a_shift_below_the_minimum_magnitude_is_not_reported():
    values = noisy(100, seed=5, cv=0.001)
    values[50:] *= 1.01  # significant (the noise is 0.1 %) but smaller than 2 %
    assert e_divisive(list(values), rng=np.random.default_rng(0))  # the test does see it...
    assert change_points(KEY, points(values), DriftSettings(min_magnitude=0.02)) == []  # ...and it is dropped
    assert len(change_points(KEY, points(values), DriftSettings(min_magnitude=0.005))) == 1


def test_the_result_is_the_same_for_the_same_seed_and_independent_of_other_series():
    values = noisy(80, seed=6)
    values[40:] *= 1.08
    series = {KEY: points(values), SeriesKey("sim", "other", "ttft_ms"): points(noisy(80, seed=7))}
    alone = analyse({KEY: series[KEY]}, CONFIG, {})
    together = analyse(series, CONFIG, {})
    assert alone[0].change_points == next(d for d in together if d.key == KEY).change_points


def _level(median: float, measured_at: str = "2026-11-30T00:00:00Z") -> dict[str, BaselineLevel]:
    return {"sim": BaselineLevel("sim", "b" * 40, measured_at, {("short", "ttft_ms"): median})}


def test_ten_small_steps_add_up_to_a_cumulative_drift_past_the_threshold():
    values = noisy(200, seed=8)
    for at in range(15, 200, 19):  # ten +2.5 % steps
        values[at:] *= 1.025
    [drift] = analyse({KEY: points(values)}, CONFIG, _level(100.0))
    assert drift.cumulative is not None
    assert drift.cumulative.change > 0.2
    assert drift.cumulative_worse
    assert drift.drifted
    assert drift.cumulative.baseline_commit == "b" * 40
    assert drift.cumulative.last_commit == sha(199)


def test_drift_for_the_better_is_no_defect_but_the_baseline_is_outdated():
    values = noisy(60, seed=9, cv=0.01) * 0.8  # TTFT 20 % lower than the baseline
    [drift] = analyse({KEY: points(values)}, CONFIG, _level(100.0))
    assert not drift.drifted
    assert drift.baseline_outdated
    outdated = outdated_baselines([drift], _level(100.0), now=datetime(2026, 12, 5, tzinfo=UTC), max_age_days=60)
    assert list(outdated) == ["sim"]
    assert "since the baseline" in outdated["sim"][0]


def test_an_old_baseline_is_outdated_by_age_alone():
    old = _level(100.0, measured_at="2026-01-01T00:00:00Z")
    outdated = outdated_baselines([], old, now=datetime(2026, 12, 5, tzinfo=UTC), max_age_days=60)
    assert outdated == {"sim": ["baseline is 338 days old (limit 60)"]}


def test_a_throughput_that_drops_is_worse_and_one_that_rises_is_not():
    key = SeriesKey("sim", "short", "decode_tok_s")
    down = noisy(60, seed=10, cv=0.01)
    down[30:] *= 0.85
    up = noisy(60, seed=10, cv=0.01)
    up[30:] *= 1.15
    [fell] = analyse({key: points(down)}, CONFIG, {})
    [rose] = analyse({key: points(up)}, CONFIG, {})
    assert [cp.change < 0 for cp in fell.change_points] == [True]
    assert fell.drifted
    assert rose.change_points
    assert not rose.drifted


def test_an_informational_metric_is_reported_but_never_drifts():
    key = SeriesKey("sim", "short", "peak_harness_rss_mb")
    values = noisy(60, seed=12, cv=0.01)
    values[30:] *= 1.5
    [drift] = analyse({key: points(values)}, CONFIG, {})
    assert drift.change_points
    assert not drift.gating
    assert not drift.drifted


def test_too_short_a_series_without_a_baseline_compares_nothing():
    [drift] = analyse({KEY: points(noisy(5, seed=13))}, CONFIG, {})
    assert not drift.searched
    assert not compared_any([drift])
    assert compared_any(analyse({KEY: points(noisy(5, seed=13))}, CONFIG, _level(100.0)))


def test_a_drifted_series_files_one_drift_entry_naming_the_range_to_bisect():
    values = noisy(60, seed=14, cv=0.01)
    values[30:] *= 1.3
    drifts = analyse({KEY: points(values)}, CONFIG, {})
    [finding] = drift_findings(drifts, TriageConfig())
    assert finding.kind is Kind.DRIFT
    assert finding.fingerprint == "drift:sim:short:ttft_ms"
    assert f"bisect {sha(29)[:12]}..{sha(30)[:12]}" in finding.summary
    context = RunContext(date="2026-12-05T00:00:00Z", commit="c" * 40, is_default_branch=True)
    entries, actions = file_drift([], [finding], context, TriageConfig())
    assert [a.action for a in actions] == ["open"]
    entries, actions = file_drift(entries, [finding], context, TriageConfig())
    assert [a.action for a in actions] == ["update"]
    assert entries[0].occurrences == 2
    assert entries[0].kind is Kind.DRIFT
