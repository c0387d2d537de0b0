"""History entries as series: one per (tier, scenario, metric), in run order (pure).

The drift detector (``perfgate.history.drift``) reads these and returns
``ChangePoint``s; the trend page (``perfgate.render.trend_site``) draws both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from perfgate.contracts.history import HistoryEntry


@dataclass(frozen=True, order=True)
class SeriesKey:
    tier: str
    scenario: str
    metric: str


@dataclass(frozen=True)
class Point:
    """One run's summary of one metric."""

    commit: str
    measured_at: str
    value: float  # the run's median, in the metric's unit
    n: int
    run_url: str | None
    verdict: str | None


@dataclass(frozen=True)
class ChangePoint:
    """A shift in a series' level: the points from ``index`` on differ from those before."""

    key: SeriesKey
    index: int  # position in the series of the first point after the change
    commit_before: str  # the last commit before the change (the range to bisect is before..after)
    commit_after: str
    mean_before: float
    mean_after: float
    change: float  # mean_after / mean_before - 1
    p_value: float  # how sure: the detector's significance test


def series_from_entries(entries: Iterable[HistoryEntry], *, branch: str | None = None) -> dict[SeriesKey, list[Point]]:
    """Every (tier, scenario, metric) series, ordered by ``measured_at`` (then commit); only ``branch``'s when given."""
    ordered = sorted(
        (e for e in entries if branch is None or e.branch == branch), key=lambda e: (e.measured_at, e.commit)
    )
    out: dict[SeriesKey, list[Point]] = {}
    for entry in ordered:
        for scenario, metrics in entry.scenarios.items():
            for metric, summary in metrics.items():
                out.setdefault(SeriesKey(entry.tier, scenario, metric), []).append(
                    Point(entry.commit, entry.measured_at, summary.median, summary.n, entry.run_url, summary.verdict)
                )
    return dict(sorted(out.items()))
