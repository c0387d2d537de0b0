"""Build a baseline from results and diff two baselines (pure)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from perfgate import __version__
from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import Baseline, Provenance
from perfgate.contracts.results import LoadedResults, RunResult, metric_values, sample_metrics
from perfgate.decide.ranks import normal_ppf
from perfgate.errors import BaselineRefused
from perfgate.metrics import METRIC_UNITS, default_informational


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
    _check_sources(sources, tier, simulated_tier=tier_config.simulated)
    merged = _merged_samples(sources)
    minimum = config.gate.min_baseline_samples
    for scenario, values_by_metric in merged.items():
        count = len(values_by_metric.get("e2e_ms", ()))
        if count < minimum:
            raise BaselineRefused(
                f"scenario {scenario!r} has {count} samples, fewer than the minimum {minimum} "
                f"(gate.min_baseline_samples); run with --runs {config.gate.baseline_runs}"
            )
    newest = max(sources, key=lambda s: s.result.created_at).result
    try:
        return _baseline(sources, merged, tier=tier, newest=newest, created_at=created_at)
    except ValidationError as exc:  # every sample was checked when read: this is a last line, never a crash
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise BaselineRefused(f"baseline for {tier!r} not written: {where}: {error['msg']}") from exc


def _check_sources(sources: Sequence[LoadedResults], tier: str, *, simulated_tier: bool) -> None:
    """Results of this tier only, without failures, measured on one setup (and simulated only for a simulated tier)."""
    first = sources[0].result
    for source in sources:
        result, where = source.result, source.path
        if result.tier != tier:
            raise BaselineRefused(f"{where}: results are for tier {result.tier!r}, not {tier!r}")
        if result.failures:
            failure = result.failures[0]
            raise BaselineRefused(f"{where}: results have failures ({failure.kind.value}: {failure.message})")
        if result.simulated and not simulated_tier:
            raise BaselineRefused(
                f"{where}: simulated results cannot become the baseline of tier {tier!r} "
                "(only a tier with simulated = true may take them)"
            )
        if result.fingerprint != first.fingerprint:
            raise BaselineRefused(f"{where}: fingerprint differs from {sources[0].path}; measure on one setup")


def _merged_samples(sources: Sequence[LoadedResults]) -> dict[str, dict[str, list[float]]]:
    """scenario -> metric -> every source's values, source by source, in the order measured.

    A scenario without a sample is kept (with no metric).
    """
    merged: dict[str, dict[str, list[float]]] = {}
    for source in sources:
        for scenario, metrics in scenario_samples(source.result).items():
            merged.setdefault(scenario, {})
            for metric, values in metrics.items():
                merged[scenario].setdefault(metric, []).extend(values)
    if not merged:
        raise BaselineRefused(f"{sources[0].path}: results hold no scenario; there is nothing to make a baseline of")
    return merged


def _baseline(
    sources: Sequence[LoadedResults],
    merged: dict[str, dict[str, list[float]]],
    *,
    tier: str,
    newest: RunResult,
    created_at: str,
) -> Baseline:
    first = sources[0].result
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
            sessions=len(sources),
            order=newest.order,
        ),
        samples={s: {m: tuple(v) for m, v in sorted(ms.items())} for s, ms in sorted(merged.items())},
        sessions=_session_sizes(sources) if len(sources) > 1 else {},
    )


def _session_sizes(sources: Sequence[LoadedResults]) -> dict[str, dict[str, tuple[int, ...]]]:
    """scenario -> metric -> values each source (one measuring session) gave, in the order merged."""
    sizes: dict[str, dict[str, list[int]]] = {}
    for source in sources:
        for scenario, metrics in scenario_samples(source.result).items():
            for metric, values in metrics.items():
                sizes.setdefault(scenario, {}).setdefault(metric, []).append(len(values))
    return {s: {m: tuple(v) for m, v in sorted(ms.items())} for s, ms in sorted(sizes.items())}


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


@dataclass(frozen=True)
class NoisyMetric:
    """A gated metric of a new baseline that varies more than ``gate.baseline_cv_warning``."""

    scenario: str
    metric: str
    cv: float
    threshold: float  # the change for the worse the gate must tell from noise (0.10 = 10 %)
    runs: int  # values the baseline holds
    runs_needed: int  # runs a baseline (and a current run) this noisy needs for that


def runs_to_resolve(values: Sequence[float], *, threshold: float, alpha: float) -> int:
    """Runs, in the baseline and in a current run alike, for a no-change interval to fit inside ``threshold``.

    The rough normal estimate ``decide.stats.runs_needed`` makes, for equal
    runs and noise on both sides: the interval's half-width is about
    z * 1.05 * s * sqrt(2 / n) on the log scale (s: the log values' standard
    deviation; 1.05: the Hodges–Lehmann estimator's efficiency), and it must
    fall below log(1 + threshold).
    """
    spread = statistics.stdev([math.log(v) for v in values])
    margin = math.log1p(threshold) / (normal_ppf(1 - alpha) * 1.05)
    return max(2, math.ceil(2 * (spread / margin) ** 2))


def noisy_metrics(baseline: Baseline, config: PerfgateConfig) -> list[NoisyMetric]:
    """The gated metrics of ``baseline`` whose CV exceeds ``gate.baseline_cv_warning``, with the runs they need."""
    limit = config.gate.baseline_cv_warning
    tier = config.tiers.get(baseline.tier)
    informational_on_tier = tier.informational_metrics if tier is not None else ()
    noisy: list[NoisyMetric] = []
    for scenario, metrics in baseline.samples.items():
        fingerprint = baseline.fingerprint.scenarios.get(scenario)
        app_scenario = fingerprint is not None and fingerprint.command is not None
        for metric, policy in config.gate.metrics.items():
            values = [v for v in metrics.get(metric, ()) if v > 0]
            informational = (
                policy.informational
                if policy.informational is not None
                else default_informational(metric, app_scenario=app_scenario, host_os=baseline.provenance.host.os)
            )
            if len(values) < 2 or informational or metric in informational_on_tier:
                continue
            cv = statistics.stdev(values) / statistics.fmean(values)
            if cv > limit:
                needed = runs_to_resolve(values, threshold=policy.threshold_worse, alpha=config.gate.alpha)
                noisy.append(NoisyMetric(scenario, metric, cv, policy.threshold_worse, len(values), needed))
    return noisy
