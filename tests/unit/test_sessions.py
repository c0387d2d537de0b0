"""The two-level session model (``perfgate.decide.sessions``): what it sees, and what it leaves alone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfgate.decide.ranks import p_greater
from perfgate.decide.sessions import design_effect, pool, session_model, split_sessions, summarize
from perfgate.decide.stats import MetricTest, decide


def logs(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def test_design_effect_is_one_for_independent_runs_and_grows_with_phi():
    assert design_effect(5, 0.0) == 1.0
    assert design_effect(1, 0.9) == 1.0
    # k = 5, phi = 0.5: 1 + 2 (0.8 * 0.5 + 0.6 * 0.25 + 0.4 * 0.125 + 0.2 * 0.0625) = 2.225
    assert design_effect(5, 0.5) == pytest.approx(2.225)
    assert design_effect(50, 0.5) == pytest.approx(3.0, abs=0.1)  # (1 + phi) / (1 - phi) in the limit


def test_split_sessions_falls_back_to_one_session_when_sizes_do_not_add_up():
    assert split_sessions([1.0, 2.0, 3.0], (1, 2)) == [[1.0], [2.0, 3.0]]
    assert split_sessions([1.0, 2.0, 3.0], (1, 1)) == [[1.0, 2.0, 3.0]]
    assert split_sessions([1.0, 2.0, 3.0], ()) == [[1.0, 2.0, 3.0]]


def test_independent_runs_in_three_sessions_leave_the_rank_test_alone_most_of_the_time():
    rng = np.random.default_rng(5)
    inflated = 0
    for _ in range(200):
        base = logs(rng.normal(0.0, 0.05, 45))
        current = logs(rng.normal(0.0, 0.05, 5))
        model = session_model(current, base, (15, 15, 15))
        inflated += model.inflation > 1.2
        assert not model.assumed
    assert inflated < 40  # a chance spread between sessions is small next to the runs' own


def test_session_offsets_are_seen_and_widen_the_comparison():
    rng = np.random.default_rng(6)
    offsets = rng.normal(0.0, 0.06, 3)
    base = [float(o + e) for o in offsets for e in rng.normal(0.0, 0.02, 15)]
    current = logs(0.08 + rng.normal(0.0, 0.02, 5))  # a session 8 % off: within what sessions do
    model = session_model(current, base, (15, 15, 15))
    assert model.session_spread > 0.02
    assert model.inflation > 2
    assert model.standard_error > model.session_spread


def test_one_session_assumes_the_default_spread_and_says_so():
    rng = np.random.default_rng(7)
    model = session_model(logs(rng.normal(0, 0.02, 5)), logs(rng.normal(0, 0.02, 15)), (), default_spread=0.02)
    assert model.assumed
    assert model.sessions == 1
    assert model.session_spread == 0.02
    # two offsets (baseline's and current's) of 2 % each, next to runs of 2 %
    expected = math.sqrt(2 * 0.02**2 + 0.02**2 * (1 / 5 + 1 / 15))
    assert model.standard_error == pytest.approx(expected, rel=0.35)


def test_correlated_baseline_runs_are_seen():
    rng = np.random.default_rng(8)
    series = []
    for _ in range(3):
        e, session = 0.0, []
        for _ in range(15):
            e = 0.7 * e + rng.normal(0.0, 0.05)
            session.append(e)
        series.extend(session)
    model = session_model(logs(rng.normal(0, 0.05, 5)), series, (15, 15, 15))
    assert model.phi > 0.3
    assert model.inflation > 1.2


def test_a_session_offset_within_the_baselines_own_spread_is_not_a_regression():
    """The issue's case: the current session is 8 % slower, as the baseline's sessions differ by as much."""
    rng = np.random.default_rng(9)
    offsets = (0.0, 0.09, -0.05)
    base = tuple(float(100 * math.exp(o + e)) for o in offsets for e in rng.normal(0.0, 0.02, 15))
    current = tuple(float(100 * math.exp(0.08 + e)) for e in rng.normal(0.0, 0.02, 5))
    as_draws = p_greater([math.log(v) for v in current], [math.log(v) for v in base])
    sessions = decide([MetricTest(base, current, "lower", 0.05, 0.05, baseline_sessions=(15, 15, 15))])[0]
    assert as_draws < 0.05  # as 50 independent draws: significantly worse
    assert sessions.p_worse > 0.05
    assert sessions.verdict == "inconclusive"
    assert any(r.startswith("uncertainty ×") and "seen in 3 baseline sessions" in r for r in sessions.reasons)
    # Without the session record the offsets still show, as runs correlated within the one "session".
    unlabelled = decide([MetricTest(base, current, "lower", 0.05, 0.05)])[0]
    assert unlabelled.verdict != "regressed"
    assert any("runs correlated" in r for r in unlabelled.reasons)


def _offset_baseline(rng: np.random.Generator, offsets: np.ndarray) -> list[float]:
    return [float(o + e) for o in offsets for e in rng.normal(0.0, 0.01, 15)]


def test_pooled_spread_is_the_dof_weighted_mean_of_each_baselines_excess_clipped_at_zero():
    rng = np.random.default_rng(11)
    # Two baselines whose sessions differ a lot, one whose sessions happen to agree.
    spread_out = [_offset_baseline(rng, np.array(o)) for o in ((-0.05, 0.0, 0.05), (0.04, -0.04, 0.0))]
    agreeing = _offset_baseline(rng, np.zeros(3))
    summaries = [summarize(b, (15, 15, 15)) for b in (*spread_out, agreeing)]
    own = [pool([s]) for s in summaries]
    together = pool(summaries)
    assert together.dof == 6
    assert own[2].tau2 is not None
    assert own[2].tau2 < 1e-4  # alone it sees (almost) no session spread
    assert together.tau2 is not None
    own_excess = [o.tau2 for o in own if o.tau2 is not None]
    assert min(own_excess) < together.tau2 < max(own_excess)
    # One session: nothing to pool.
    assert pool([summarize(agreeing[:15])]).tau2 is None


def test_a_pool_lends_its_session_spread_to_a_test_whose_own_sessions_happen_to_agree():
    rng = np.random.default_rng(12)
    spread_out = [_offset_baseline(rng, np.array(o)) for o in ((-0.05, 0.0, 0.05), (0.04, -0.04, 0.0))]
    agreeing = _offset_baseline(rng, np.zeros(3))
    current = [float(0.08 + e) for e in rng.normal(0.0, 0.01, 5)]  # a session 8 % off

    def test(baseline: list[float], pool_key: str) -> MetricTest:
        values = tuple(math.exp(v) for v in baseline)
        return MetricTest(
            values,
            tuple(math.exp(v) for v in current),
            "lower",
            0.05,
            0.05,
            baseline_sessions=(15, 15, 15),
            pool=pool_key,
        )

    alone = decide([test(b, "") for b in (*spread_out, agreeing)])
    pooled = decide([test(b, "tier\x00ttft_ms") for b in (*spread_out, agreeing)])
    # Alone, the agreeing baseline calls the session's 8 % a regression; pooled, it knows sessions differ.
    assert alone[2].verdict == "regressed"
    assert pooled[2].verdict != "regressed"
    assert pooled[2].change_low < alone[2].change_low


def test_runs_that_barely_vary_get_no_absurd_uncertainty_factor():
    # Memory in (nearly) whole MB: the runs' own spread is ~0, the assumed session spread is not.
    base = tuple(100.0 + 1e-9 * i for i in range(15))
    current = tuple(100.0 + 1e-9 * i for i in range(5))
    (decision,) = decide([MetricTest(base, current, "lower", 0.05, 0.05, session_spread=0.005)])
    notes = [r for r in decision.reasons if "uncertainty" in r]
    assert len(notes) == 1
    assert notes[0].startswith("uncertainty set by the sessions, not the runs: session spread 0.5 % (assumed")
    assert "×" not in notes[0]


def test_an_estimated_session_spread_is_known_to_its_pools_degrees_of_freedom():
    rng = np.random.default_rng(21)
    baseline = _offset_baseline(rng, np.array((-0.03, 0.0, 0.03)))
    current = [float(e) for e in rng.normal(0.0, 0.01, 5)]
    seen = session_model(current, baseline, (15, 15, 15))
    # Sessions dominate: the standard error leans on tau² from 2 degrees of freedom.
    assert seen.session_spread > 0.01
    assert 2.0 <= seen.dof < 4.0
    pooled = pool([summarize(baseline, (15, 15, 15))] * 12)
    assert 10 * seen.dof < session_model(current, baseline, (15, 15, 15), pooled=pooled).dof <= 25  # 24 pooled
    # An assumed spread is a constant, and independent runs in one session leave only the runs' dof.
    assumed = session_model(current, baseline[:15], ())
    assert assumed.assumed
    assert assumed.dof > 20
    flat = session_model(current, [float(e) for e in rng.normal(0.0, 0.01, 45)], (15, 15, 15))
    if flat.session_spread == 0.0:
        assert flat.dof == pytest.approx(45 + 5 - 4)


def test_few_sessions_widen_the_interval_more_than_the_normal_would():
    rng = np.random.default_rng(22)
    baseline = _offset_baseline(rng, np.array((-0.04, 0.0, 0.04)))
    values = tuple(math.exp(v) for v in baseline)
    current = tuple(math.exp(0.06 + e) for e in rng.normal(0.0, 0.01, 5))
    (alone,) = decide([MetricTest(values, current, "lower", 0.05, 0.05, baseline_sessions=(15, 15, 15))])
    model = session_model([math.log(v) for v in current], baseline, (15, 15, 15))
    effect = math.log1p(alone.change)
    z = 1.6448536269514722  # the normal's one-sided 5 %
    # The interval reaches at least t_dof's quantile times the model's standard error below the estimate.
    assert math.log1p(alone.change_low) < effect - 1.2 * z * model.standard_error
