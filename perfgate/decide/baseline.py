"""Build a baseline from results and diff two baselines (pure)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from perfgate import __version__
from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import Baseline, Provenance
from perfgate.contracts.results import LoadedResults, RunResult, metric_values, sample_metrics
from perfgate.errors import BaselineRefused
from perfgate.metrics import METRIC_UNITS


def scenario_samples(result: RunResult) -> dict[str, dict[str, tuple[float, ...]]]:
    """scenario -> metric -> raw values, for every summarised metric that has values."""
    out: dict[str, dict[str, tuple[float, ...]]] = {}
    for scenario in result.scenarios:
        metrics = {m: tuple(metric_values(scenario.samples, m)) for m in sample_metrics(scenario.samples)}
        out[scenario.name] = {m: v for m, v in metrics.items() if v}
    return out


def build_baseline(sources: Sequence[LoadedResults], *, tier: str, config: PerfgateConfig, created_at: str) -> Baseline:
    """A new baseline for ``tier`` from one or more results files, or BaselineRefused."""
    if not sources:
        raise BaselineRefused("baseline update needs at least one results file")
    tier_config = config.tiers.get(tier)
    if tier_config is None:
        raise BaselineRefused(f"tier {tier!r} is not configured (known: {', '.join(config.tiers)})")
    first = sources[0].result
    for source in sources:
        result, where = source.result, source.path
        if result.tier != tier:
            raise BaselineRefused(f"{where}: results are for tier {result.tier!r}, not {tier!r}")
        if result.failures:
            failure = result.failures[0]
            raise BaselineRefused(f"{where}: results have failures ({failure.kind.value}: {failure.message})")
        if result.simulated and not tier_config.simulated:
            raise BaselineRefused(
                f"{where}: simulated results cannot become the baseline of tier {tier!r} "
                "(only a tier with simulated = true may take them)"
            )
        if result.fingerprint != first.fingerprint:
            raise BaselineRefused(f"{where}: fingerprint differs from {sources[0].path}; measure on one setup")
    merged: dict[str, dict[str, list[float]]] = {}
    for source in sources:
        for scenario, metrics in scenario_samples(source.result).items():
            for metric, values in metrics.items():
                merged.setdefault(scenario, {}).setdefault(metric, []).extend(values)
    minimum = config.gate.min_baseline_samples
    for scenario, values_by_metric in merged.items():
        count = len(values_by_metric.get("e2e_ms", ()))
        if count < minimum:
            raise BaselineRefused(
                f"scenario {scenario!r} has {count} samples, fewer than the minimum {minimum} "
                f"(gate.min_baseline_samples); run with --runs {config.gate.baseline_runs}"
            )
    newest = max(sources, key=lambda s: s.result.created_at).result
    return Baseline(
        tier=tier,
        simulated=first.simulated,
        fingerprint=first.fingerprint,
        provenance=Provenance(
            created_at=created_at,
            measured_at=newest.created_at,
            git_sha=newest.git_sha,
            perfgate_version=__version__,
            host=newest.host,
            runtime_version=newest.runtime.version,
            model_digest=newest.runtime.model_digest,
            command=newest.command,
            runs=sum(s.result.runs for s in sources),
            source_files=tuple(s.path.name for s in sources),
            runtime_pid=newest.runtime.pid,
            runtime_started_at=newest.runtime.started_at,
        ),
        samples={s: {m: tuple(v) for m, v in sorted(ms.items())} for s, ms in sorted(merged.items())},
    )


@dataclass(frozen=True)
class MetricDiff:
    scenario: str
    metric: str
    old_median: float | None
    new_median: float | None
    old_cv: float | None
    new_cv: float | None
    old_n: int
    new_n: int

    @property
    def change(self) -> float | None:
        if self.old_median is None or self.new_median is None or self.old_median == 0:
            return None
        return self.new_median / self.old_median - 1


@dataclass(frozen=True)
class BaselineDiff:
    tier: str
    path: str
    old: Baseline | None
    new: Baseline | None
    metrics: tuple[MetricDiff, ...]


def _median_cv(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = statistics.fmean(values)
    cv = statistics.stdev(values) / mean if len(values) >= 2 and mean else None
    return statistics.median(values), cv


def diff_baselines(path: str, old: Baseline | None, new: Baseline | None) -> BaselineDiff:
    """Old vs new, metric by metric, over the union of both."""
    rows: list[MetricDiff] = []
    old_s = old.samples if old else {}
    new_s = new.samples if new else {}
    for scenario in sorted(set(old_s) | set(new_s)):
        metrics = set(old_s.get(scenario, {})) | set(new_s.get(scenario, {}))
        # Registry metrics in their order, then the app's own figures (app.<name>) by name.
        for metric in [
            *(m for m in METRIC_UNITS if m in metrics),
            *sorted(m for m in metrics if m not in METRIC_UNITS),
        ]:
            before = old_s.get(scenario, {}).get(metric, ())
            after = new_s.get(scenario, {}).get(metric, ())
            (om, ocv), (nm, ncv) = _median_cv(before), _median_cv(after)
            rows.append(MetricDiff(scenario, metric, om, nm, ocv, ncv, len(before), len(after)))
    source = new or old
    tier = source.tier if source else Path(path).stem
    return BaselineDiff(tier=tier, path=path, old=old, new=new, metrics=tuple(rows))
