"""The baseline band of each history series: the committed baseline's median and the gate's threshold band (pure).

The trend page shades the band a run's median may move in before the gate would
call it a change past the threshold: ``change = current / baseline - 1``, worse
past ``threshold_worse`` and better past ``threshold_better``, oriented by the
metric's direction (``perfgate.decide.stats``).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import Baseline
from perfgate.history.series import SeriesKey
from perfgate.metrics import direction_of

# (baseline median, band low, band high), in the metric's unit.
Band = tuple[float, float, float]


def band_of(median: float, *, direction: str, threshold_worse: float, threshold_better: float) -> Band:
    """The values whose change from ``median`` the gate would not call past a threshold."""
    if direction == "higher":  # a throughput: worse is lower
        return median, median * (1 - threshold_worse), median * (1 + threshold_better)
    return median, median * (1 - threshold_better), median * (1 + threshold_worse)


def baseline_bands(baselines: Mapping[str, Baseline], config: PerfgateConfig) -> dict[SeriesKey, Band]:
    """Every (tier, scenario, metric) a baseline holds samples of and the gate compares (has a threshold for)."""
    out: dict[SeriesKey, Band] = {}
    for tier, baseline in baselines.items():
        for scenario, metrics in baseline.samples.items():
            for metric, values in metrics.items():
                policy = config.gate.metrics.get(metric)
                if policy is None or not values:
                    continue
                out[SeriesKey(tier, scenario, metric)] = band_of(
                    statistics.median(values),
                    direction=direction_of(metric),
                    threshold_worse=policy.threshold_worse,
                    threshold_better=policy.threshold_better,
                )
    return out
