"""The decision benchmark simulates what it says: the shipped gate, and noise models with the stated properties."""

from __future__ import annotations

import dataclasses
import importlib
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from perfgate.config.model import GateConfig
from perfgate.metrics import default_informational

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    """``decision_noise`` and ``decision_sim``, imported as the benchmark script imports them."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("decision_noise"), importlib.import_module("decision_sim")


def logs(noise_module: ModuleType, key: str, runs: int, gates: int = 400, **changes: object) -> np.ndarray:
    noise = dataclasses.replace(noise_module.BY_KEY[key], **changes)
    rng = np.random.default_rng(7)
    return noise_module.session_logs(rng, noise, noise_module.shipped_shape(), gates, runs)


def test_the_gate_is_the_shipped_one(bench):
    noise_module, _ = bench
    shape = noise_module.shipped_shape()
    policies = GateConfig().metrics
    assert shape.n_tests == 2 * 3 * len(shape.metrics)
    assert {"ttft_ms", "peak_runtime_footprint_mb"} <= set(shape.metrics)
    assert "itl_ms_p50" not in shape.metrics  # informational when shipped
    for name in shape.metrics:
        assert not default_informational(name, app_scenario=False)
    i = shape.test_index(1, 2, "decode_tok_s")
    assert (shape.tier_of[i], shape.scenario_of[i], shape.directions[i]) == (1, 5, "higher")
    assert shape.threshold_worse[i] == policies["decode_tok_s"].threshold_worse


@pytest.mark.parametrize("key", ["iid5", "ar1", "ar1-offsets", "thermal", "drift", "outliers"])
def test_the_first_runs_do_not_depend_on_how_many_are_drawn(bench, key):
    noise_module, _ = bench
    assert np.array_equal(logs(noise_module, key, 5, gates=20), logs(noise_module, key, 17, gates=20)[..., :5])


def test_ar1_has_the_stated_marginal_cv_and_lag_one_correlation(bench):
    noise_module, _ = bench
    x = logs(noise_module, "ar1", 40)
    sigma = math.sqrt(math.log1p(0.05**2))
    assert x.std() == pytest.approx(sigma, rel=0.03)
    lag1 = np.corrcoef(x[..., 1:].ravel(), x[..., :-1].ravel())[0, 1]
    assert lag1 == pytest.approx(0.5, abs=0.02)


def test_a_session_offset_is_shared_by_the_session_runs(bench):
    noise_module, _ = bench
    x = logs(noise_module, "ar1-offsets", 6, cv=1e-9)
    assert np.ptp(x, axis=-1).max() < 1e-6
    assert x[..., 0].std() == pytest.approx(math.sqrt(math.log1p(0.03**2)), rel=0.05)


def test_thermal_throttling_slows_a_fifth_of_the_runs_but_not_memory(bench):
    noise_module, _ = bench
    shape = noise_module.shipped_shape()
    x = logs(noise_module, "thermal", 20, cv=1e-9)
    ttft = x[:, shape.test_index(0, 0, "ttft_ms"), :]
    assert np.isin(np.round(ttft, 6), [0.0, round(math.log(1.25), 6)]).all()
    assert (ttft > 0.1).mean() == pytest.approx(0.2, abs=0.02)
    assert np.abs(x[:, shape.test_index(0, 0, "peak_runtime_rss_mb"), :]).max() < 1e-6


def test_drift_grows_one_percent_per_run(bench):
    noise_module, _ = bench
    x = logs(noise_module, "drift", 10, cv=1e-9)
    assert np.allclose(x[..., 9] - x[..., 0], 9 * math.log(1.01))


def test_quantized_ttft_is_read_on_a_1_ms_timer_after_the_shift(bench):
    noise_module, _ = bench
    noise, shape = noise_module.BY_KEY["quantized"], noise_module.shipped_shape()
    ttft = shape.test_index(0, 0, "ttft_ms")
    drawn = noise_module.draw(
        noise, shape, seed=(1,), gates=200, session_runs=(15,), current_runs=5, injected=(ttft, 0.15)
    )
    current, baseline = drawn.current[:, ttft, :], drawn.baseline[0][:, ttft, :]
    assert np.array_equal(current, np.round(current))
    assert set(np.unique(baseline)) <= {2.0, 3.0, 4.0}
    assert (current == 4).mean() > 0.3  # 3.45 ms rounds up about 39 % of the time
    assert not np.array_equal(drawn.current[:, ttft + 1, :], np.round(drawn.current[:, ttft + 1, :]))


def test_the_true_shift_moves_every_test_for_the_worse(bench):
    noise_module, _ = bench
    noise, shape = noise_module.BY_KEY["shift3"], noise_module.shipped_shape()
    quiet = dataclasses.replace(noise, cv=1e-9)
    drawn = noise_module.draw(quiet, shape, seed=(1,), gates=2, session_runs=(3,), current_runs=3, injected=None)
    ratio = drawn.current[0, :, 0] / drawn.baseline[0][0, :, 0]
    expected = [1.03 if d == "lower" else 0.97 for d in shape.directions]
    assert ratio == pytest.approx(expected, rel=1e-6)


def test_a_chunk_is_decided_the_same_way_twice(bench):
    _, sim = bench
    task = sim.Task("iid5", 0.0, 0, 0, 3, (5, 3, 2.0), 3, 15)
    first, again = sim.run_task(task), sim.run_task(task)
    assert set(first) == {(rule, policy) for rule in sim.RULES for policy in sim.POLICIES}
    for key, tally in first.items():
        assert tally.gates == 3
        assert sum(tally.verdicts.values()) == 3 * 36
        assert (tally.flagged, tally.runs, tally.verdicts) == (again[key].flagged, again[key].runs, again[key].verdicts)
    assert first[("today", "fixed")].runs == [5] * 18
