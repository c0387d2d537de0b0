"""A scenario's per-metric summaries, computed from its samples (results files store them; migrations redo them)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from perfgate.contracts.results import MetricSummary, Sample, metric_values, sample_metrics


def summarise(values: Sequence[float]) -> MetricSummary:
    """Median, mean, spread of a non-empty sequence."""
    n = len(values)
    mean = statistics.fmean(values)
    stdev = statistics.stdev(values) if n >= 2 else None
    return MetricSummary(
        n=n,
        median=statistics.median(values),
        mean=mean,
        stdev=stdev,
        cv=stdev / mean if stdev is not None and mean != 0 else None,
        min=min(values),
        max=max(values),
    )


def summarise_samples(samples: Sequence[Sample]) -> dict[str, MetricSummary]:
    """Summaries of every metric that has at least one value (the app's own figures last)."""
    summaries: dict[str, MetricSummary] = {}
    for metric in sample_metrics(samples):
        values = metric_values(samples, metric)
        if values:
            summaries[metric] = summarise(values)
    return summaries
