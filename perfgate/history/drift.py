"""Drift over the default branch's history (pure): change points per series, and the change since the baseline.

Per (tier, scenario, metric) series of run medians, oldest first:

- **change points**: E-divisive means with a permutation test (``perfgate.history.edivisive``),
  then a minimum magnitude: a change point whose level shift is smaller than
  ``min_magnitude`` is dropped and its neighbours' segments merge. Each kept point says
  where (the commits either side), how big (``mean_after / mean_before - 1`` of the
  segments either side) and how sure (the test's p-value).
- **cumulative drift**: the median of the last ``recent_runs`` run medians against the
  committed baseline's median: what a slow creep of changes, each too small to fail a
  pull request, adds up to.

A series *drifts* when a change point or the cumulative drift is worse than the metric's
``threshold_worse`` (the gate's own thresholds), on a metric the gate fails on (not
informational). Randomness is seeded per series (from ``seed`` and the series' name), so
a series' change points do not depend on which other series were analysed.
"""

from __future__ import annotations

import itertools
import statistics
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from perfgate.config import GateConfig, PerfgateConfig
from perfgate.history.edivisive import Split, e_divisive
from perfgate.history.series import ChangePoint, Point, SeriesKey
from perfgate.metrics import Direction, default_informational, direction_of


@dataclass(frozen=True)
class DriftSettings:
    """How change points are searched for (``[tool.perfgate.history]``)."""

    max_p: float = 0.005  # the permutation test's level per split
    permutations: int = 199
    min_size: int = 3  # fewest runs on either side of a change point
    min_magnitude: float = 0.02  # smaller level shifts are not reported
    recent_runs: int = 5  # the window compared with the baseline
    seed: int = 0


@dataclass(frozen=True)
class BaselineLevel:
    """What a tier's committed baseline says each series' level is."""

    tier: str
    commit: str | None
    measured_at: str
    medians: Mapping[tuple[str, str], float]  # (scenario, metric) -> median of the baseline's values


@dataclass(frozen=True)
class Cumulative:
    """The series' recent level against the baseline's."""

    baseline_median: float
    recent_median: float
    recent_runs: int
    change: float  # recent_median / baseline_median - 1
    baseline_commit: str | None
    first_commit: str  # the first run of the series measured after the baseline (or the first run)
    last_commit: str


@dataclass(frozen=True)
class SeriesDrift:
    """One series' change points and cumulative drift, judged against its metric's threshold."""

    key: SeriesKey
    points: tuple[Point, ...]
    direction: Direction
    threshold: float | None  # threshold_worse of the metric; None: the gate does not compare it
    gating: bool  # the gate fails on this metric here (not informational)
    searched: bool  # long enough to search for change points
    change_points: tuple[ChangePoint, ...]
    cumulative: Cumulative | None

    def worse_by(self, change: float) -> float:
        """``change`` as a change for the worse (negative: for the better)."""
        return change if self.direction == "lower" else -change

    def past_threshold(self, change: float) -> bool:
        return self.threshold is not None and abs(change) > self.threshold

    @property
    def flagged_points(self) -> tuple[ChangePoint, ...]:
        """Change points worse than the threshold on a gating metric: each one is a drift to triage."""
        if not self.gating or self.threshold is None:
            return ()
        limit = self.threshold
        return tuple(cp for cp in self.change_points if self.worse_by(cp.change) > limit)

    @property
    def cumulative_worse(self) -> bool:
        c = self.cumulative
        return bool(
            self.gating and c is not None and self.threshold is not None and self.worse_by(c.change) > self.threshold
        )

    @property
    def drifted(self) -> bool:
        return bool(self.flagged_points) or self.cumulative_worse

    @property
    def baseline_outdated(self) -> bool:
        """The recent level is past the threshold either way: the baseline no longer describes it."""
        return bool(self.gating and self.cumulative is not None and self.past_threshold(self.cumulative.change))


def is_informational(gate: GateConfig, metric: str, *, app_scenario: bool, tier: Collection[str]) -> bool:
    """As the gate decides it (``perfgate.decide.pending``): a tier's list wins, then the setting, then the default."""
    if metric in tier:
        return True
    configured = gate.metrics[metric].informational
    return default_informational(metric, app_scenario=app_scenario) if configured is None else configured


def _series_seed(seed: int, key: SeriesKey) -> np.random.Generator:
    name = f"{key.tier}/{key.scenario}/{key.metric}".encode()
    return np.random.default_rng([seed, zlib.crc32(name)])


def _segment_means(values: Sequence[float], cuts: Sequence[int]) -> list[float]:
    bounds = [0, *cuts, len(values)]
    return [statistics.fmean(values[a:b]) for a, b in itertools.pairwise(bounds)]


def _kept(values: Sequence[float], splits: Sequence[Split], min_magnitude: float) -> list[Split]:
    """The splits left once the smallest shift below ``min_magnitude`` is dropped, again and again."""
    kept = list(splits)
    while kept:
        means = _segment_means(values, [s.index for s in kept])
        shifts = [
            abs(after / before - 1) if before > 0 else float("inf") for before, after in itertools.pairwise(means)
        ]
        smallest = min(range(len(kept)), key=lambda i: shifts[i])
        if shifts[smallest] >= min_magnitude:
            break
        del kept[smallest]
    return kept


def change_points(key: SeriesKey, points: Sequence[Point], settings: DriftSettings) -> list[ChangePoint]:
    """The series' change points, oldest first (none when it is shorter than two minimal segments)."""
    values = [p.value for p in points]
    if len(values) < 2 * settings.min_size:
        return []
    splits = e_divisive(
        values,
        max_p=settings.max_p,
        permutations=settings.permutations,
        min_size=settings.min_size,
        rng=_series_seed(settings.seed, key),
    )
    kept = _kept(values, splits, settings.min_magnitude)
    means = _segment_means(values, [s.index for s in kept])
    out: list[ChangePoint] = []
    for i, split in enumerate(kept):
        before, after = means[i], means[i + 1]
        if before <= 0:
            continue
        out.append(
            ChangePoint(
                key=key,
                index=split.index,
                commit_before=points[split.index - 1].commit,
                commit_after=points[split.index].commit,
                mean_before=before,
                mean_after=after,
                change=after / before - 1,
                p_value=split.p_value,
            )
        )
    return out


def cumulative_drift(
    points: Sequence[Point], baseline: BaselineLevel | None, key: SeriesKey, recent_runs: int
) -> Cumulative | None:
    """The median of the last ``recent_runs`` run medians against the baseline's median (None without both)."""
    if baseline is None or not points:
        return None
    level = baseline.medians.get((key.scenario, key.metric))
    if level is None or level <= 0:
        return None
    recent = [p.value for p in points[-recent_runs:]]
    recent_median = statistics.median(recent)
    after = [p for p in points if p.measured_at > baseline.measured_at]
    return Cumulative(
        baseline_median=level,
        recent_median=recent_median,
        recent_runs=len(recent),
        change=recent_median / level - 1,
        baseline_commit=baseline.commit,
        first_commit=(after or list(points))[0].commit,
        last_commit=points[-1].commit,
    )


def analyse(
    series: Mapping[SeriesKey, Sequence[Point]],
    config: PerfgateConfig,
    baselines: Mapping[str, BaselineLevel],
    *,
    app_scenarios: Collection[tuple[str, str]] = (),
    settings: DriftSettings | None = None,
) -> list[SeriesDrift]:
    """Every series' change points and cumulative drift, judged by the gate's thresholds."""
    settings = settings or DriftSettings()
    out: list[SeriesDrift] = []
    for key, points in sorted(series.items()):
        policy = config.gate.metrics.get(key.metric)
        tier = config.tiers.get(key.tier)
        gating = policy is not None and not is_informational(
            config.gate,
            key.metric,
            app_scenario=(key.tier, key.scenario) in app_scenarios,
            tier=tier.informational_metrics if tier is not None else (),
        )
        out.append(
            SeriesDrift(
                key=key,
                points=tuple(points),
                direction=direction_of(key.metric),
                threshold=policy.threshold_worse if policy is not None else None,
                gating=gating,
                searched=len(points) >= 2 * settings.min_size,
                change_points=tuple(change_points(key, points, settings)),
                cumulative=cumulative_drift(points, baselines.get(key.tier), key, settings.recent_runs),
            )
        )
    return out


def compared_any(drifts: Sequence[SeriesDrift]) -> bool:
    """Whether anything was compared: a series searched for change points, or one held against its baseline."""
    return any(d.searched or d.cumulative is not None for d in drifts)


def refresh_command(tier: str) -> str:
    """The one command that re-measures a tier's baseline (its result goes through review like any commit)."""
    return f"nox -s baseline -- --tier {tier}"


def outdated_baselines(
    drifts: Sequence[SeriesDrift], baselines: Mapping[str, BaselineLevel], *, now: datetime, max_age_days: float
) -> dict[str, list[str]]:
    """Tier -> why its baseline no longer describes the default branch (drift past a threshold, or age)."""
    reasons: dict[str, list[str]] = {}
    for drift in drifts:
        if drift.baseline_outdated and drift.cumulative is not None:
            key = drift.key
            reasons.setdefault(key.tier, []).append(
                f"{key.scenario}/{key.metric} {drift.cumulative.change * 100:+.1f} % since the baseline"
            )
    for tier, level in baselines.items():
        made = _parse_time(level.measured_at)
        if made is not None and now - made > timedelta(days=max_age_days):
            reasons.setdefault(tier, []).append(f"baseline is {(now - made).days} days old (limit {max_age_days:g})")
    return dict(sorted(reasons.items()))


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
