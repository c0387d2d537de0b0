"""Baselines: build one from results, load and validate it, diff two versions.

A baseline keeps the **raw samples** (a verdict needs distributions, not
means) and its provenance, written deterministically so that the pull request
that moves it reads as a clean diff.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from perfgate import __version__
from perfgate.config import PerfgateConfig
from perfgate.errors import BadFileError, BaselineMissing, BaselineRefused, UsageError
from perfgate.files import parse_model, read_model
from perfgate.gate_models import BASELINE_SCHEMA_VERSION, Baseline, Provenance
from perfgate.measure.metrics import METRIC_UNITS, metric_values
from perfgate.models import RESULTS_SCHEMA_VERSION, RunResult


@dataclass(frozen=True)
class LoadedResults:
    """A results file and where it was read from."""

    path: Path
    result: RunResult


def load_results(path: Path) -> LoadedResults:
    return LoadedResults(path, read_model(path, RunResult, what="results", current_version=RESULTS_SCHEMA_VERSION))


def baseline_path(baselines_dir: Path, tier: str) -> Path:
    return baselines_dir / f"{tier}.json"


def load_baseline(path: Path) -> Baseline:
    baseline = read_model(path, Baseline, what="baseline", current_version=BASELINE_SCHEMA_VERSION)
    if path.stem != baseline.tier:
        raise BadFileError(f"{path}: invalid baseline file at field 'tier': {baseline.tier!r} is not {path.stem!r}")
    return baseline


def find_baseline(baselines_dir: Path, tier: str) -> tuple[Path, Baseline]:
    """The tier's baseline; BaselineMissing (exit 3) when there is none."""
    path = baseline_path(baselines_dir, tier)
    if not path.is_file():
        raise BaselineMissing(
            f"{path}: no baseline for tier {tier!r}; make one with `nox -s baseline -- --tier {tier}` and commit it"
        )
    return path, load_baseline(path)


def scenario_samples(result: RunResult) -> dict[str, dict[str, tuple[float, ...]]]:
    """scenario -> metric -> raw values, for every summarised metric that has values."""
    out: dict[str, dict[str, tuple[float, ...]]] = {}
    for scenario in result.scenarios:
        metrics = {m: tuple(metric_values(scenario.samples, m)) for m in METRIC_UNITS}
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
        ),
        samples={s: {m: tuple(v) for m, v in sorted(ms.items())} for s, ms in sorted(merged.items())},
    )


# ----------------------------------------------------------------- diff


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
        for metric in [m for m in METRIC_UNITS if m in metrics]:
            before = old_s.get(scenario, {}).get(metric, ())
            after = new_s.get(scenario, {}).get(metric, ())
            (om, ocv), (nm, ncv) = _median_cv(before), _median_cv(after)
            rows.append(MetricDiff(scenario, metric, om, nm, ocv, ncv, len(before), len(after)))
    source = new or old
    tier = source.tier if source else Path(path).stem
    return BaselineDiff(tier=tier, path=path, old=old, new=new, metrics=tuple(rows))


def git_show(ref: str, path: str, cwd: Path | None = None) -> str | None:
    """The file's text at ``ref``, or None when it did not exist there."""
    # "REF:./rel" resolves from the working directory, as `git ls-tree` and the file system do;
    # "REF:path" would resolve from the repository root (wrong for absolute paths and subdirectories).
    rel = Path(os.path.relpath(path, cwd or Path.cwd())).as_posix()
    try:
        proc = subprocess.run(
            ["git", "show", f"{ref}:./{rel}"],  # noqa: S607 -- the user's git, as they would run it
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BadFileError(f"cannot run git to read {path} at {ref}: {exc}") from exc
    if proc.returncode != 0:
        if "does not exist" in proc.stderr or "exists on disk, but not in" in proc.stderr:
            return None
        raise BadFileError(f"git cannot read {path} at {ref}: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout


def changed_baselines(baselines_dir: Path, base_ref: str) -> list[BaselineDiff]:
    """Every baseline file that differs from ``base_ref`` (added, changed or deleted)."""
    current = {p.name: p for p in sorted(baselines_dir.glob("*.json"))}
    listed = _git_ls(base_ref, baselines_dir)
    diffs: list[BaselineDiff] = []
    for name in sorted(set(current) | listed):
        rel = (baselines_dir / name).as_posix()
        old_text = git_show(base_ref, rel) if name in listed else None
        new_text = current[name].read_text(encoding="utf-8") if name in current else None
        if old_text == new_text:
            continue
        old = _parse_baseline(old_text, f"{base_ref}:{rel}")
        new = load_baseline(current[name]) if name in current else None
        diffs.append(diff_baselines(rel, old, new))
    return diffs


def _parse_baseline(text: str | None, where: str) -> Baseline | None:
    if text is None:
        return None
    return parse_model(text, where, Baseline, what="baseline", current_version=BASELINE_SCHEMA_VERSION)


def _git_ls(ref: str, directory: Path) -> set[str]:
    try:
        proc = subprocess.run(
            ["git", "ls-tree", "--name-only", ref, f"{directory.as_posix()}/"],  # noqa: S607 -- the user's git
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BadFileError(f"cannot run git to list {directory} at {ref}: {exc}") from exc
    if proc.returncode != 0:
        raise UsageError(f"git cannot list {directory} at {ref!r}: {' '.join(proc.stderr.split())[:200]}")
    return {Path(line).name for line in proc.stdout.splitlines() if line.endswith(".json")}
