"""Simulated default-branch histories for the drift benchmark and the apache-otava cross-check (seeded).

Each series is 200 commits of run medians with lognormal noise of CV 5 % around a level of 100:

- ``step``: one +15 % step at a commit drawn between 20 and 180;
- ``creep``: ten +2.5 % steps spread evenly over the history (each one far below a 10 % threshold);
- ``flat``: no change at all.
"""

from __future__ import annotations

import numpy as np

COMMITS = 200
CV = 0.05
LEVEL = 100.0


def noise(rng: np.random.Generator, n: int = COMMITS) -> np.ndarray:
    return LEVEL * np.exp(rng.normal(0.0, CV, n) - CV**2 / 2)


def step_series(seed: int) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng([1, seed])
    at = int(rng.integers(20, 181))
    values = noise(rng)
    values[at:] *= 1.15
    return values, at


def creep_series(seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng([2, seed])
    steps = [int(x) for x in np.linspace(10, 190, 10)]
    values = noise(rng)
    for at in steps:
        values[at:] *= 1.025
    return values, steps


def flat_series(seed: int) -> np.ndarray:
    return noise(np.random.default_rng([3, seed]))


def baseline_median(seed: int, runs: int = 15) -> float:
    """A baseline measured at the first commit: ``runs`` samples of the same noise, their median."""
    return float(np.median(noise(np.random.default_rng([4, seed]), runs)))
