"""Student's t on plain floats (``perfgate.decide.student``) against ``scipy.stats.t``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as sps

from perfgate.decide.ranks import normal_ppf, normal_sf
from perfgate.decide.student import NORMAL_DOF, t_ppf, t_sf


def test_the_tail_matches_scipy_on_random_inputs() -> None:
    rng = np.random.default_rng(2026)
    for _ in range(2000):
        dof = float(rng.choice([rng.uniform(0.5, 5.0), rng.uniform(5.0, 200.0), rng.uniform(200.0, 1e5)]))
        t = float(rng.normal(0.0, 4.0))
        expected = float(sps.t.sf(t, dof))
        assert t_sf(t, dof) == pytest.approx(expected, rel=1e-8, abs=1e-300)


def test_the_quantile_matches_scipy_and_inverts_the_tail() -> None:
    rng = np.random.default_rng(2027)
    for _ in range(500):
        dof, q = float(rng.uniform(0.7, 300.0)), float(rng.uniform(1e-6, 1 - 1e-6))
        x = t_ppf(q, dof)
        assert x == pytest.approx(float(sps.t.ppf(q, dof)), rel=1e-9, abs=1e-9)
        assert 1 - t_sf(x, dof) == pytest.approx(q, rel=1e-8)


def test_known_values_and_the_normal_limit() -> None:
    assert t_ppf(0.975, 1) == pytest.approx(12.7062047, rel=1e-7)  # a textbook table's first row
    assert t_ppf(0.95, 6) == pytest.approx(1.9431803, rel=1e-7)
    assert t_sf(0.0, 3.5) == 0.5
    assert t_sf(math.inf, 4) == 0.0
    assert t_sf(-math.inf, 4) == 1.0
    assert t_ppf(0.95, math.inf) == normal_ppf(0.95)
    assert t_sf(2.0, NORMAL_DOF) == normal_sf(2.0)
    # Fewer degrees of freedom, heavier tails: always wider than the normal.
    assert t_ppf(0.95, 6) > t_ppf(0.95, 24) > t_ppf(0.95, 1000) > normal_ppf(0.95)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="0 < q < 1"):
        t_ppf(1.0, 5)
    with pytest.raises(ValueError, match="dof > 0"):
        t_sf(1.0, 0)
