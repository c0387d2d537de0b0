"""The stages after measuring, as typed functions the CLI strings together.

load results → load each tier's baseline → evaluate (pure) → GateReport.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from perfgate.baseline import LoadedResults, find_baseline, load_results
from perfgate.config import PerfgateConfig
from perfgate.decide.gate import evaluate, group_by_tier
from perfgate.errors import BaselineMissing, UsageError
from perfgate.gate_models import Baseline, GateReport, Problem, ProblemKind
from perfgate.provenance import utc_now_iso


def collect_results(paths: Sequence[Path]) -> list[LoadedResults]:
    """Results files named directly, or every ``*.json`` results file inside a named directory."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.json") if _looks_like_results(p)))
        else:
            files.append(path)
    if not files:
        raise UsageError(f"no results files found in {', '.join(str(p) for p in paths)}")
    return [load_results(path) for path in files]


def _looks_like_results(path: Path) -> bool:
    # gate.json and other perfgate files share the directory; only results files are inputs.
    try:
        head = path.read_text(encoding="utf-8")[:4096]
    except OSError:
        return False
    return '"perfgate-results"' in head or path.name.startswith("results")


def load_baselines(tiers: Sequence[str], baselines_dir: Path) -> dict[str, tuple[str, Baseline] | Problem]:
    """Each tier's baseline, or the problem that it is missing. A corrupt baseline raises (exit 2)."""
    out: dict[str, tuple[str, Baseline] | Problem] = {}
    for tier in tiers:
        try:
            path, baseline = find_baseline(baselines_dir, tier)
        except BaselineMissing as exc:
            out[tier] = Problem(kind=ProblemKind.BASELINE_MISSING, tier=tier, message=exc.message)
            continue
        out[tier] = (str(path), baseline)
    return out


def compare(
    loaded: Sequence[LoadedResults],
    config: PerfgateConfig,
    *,
    baselines_dir: Path,
    expect_tiers: Sequence[str] = (),
    now: datetime | None = None,
) -> GateReport:
    """Every results file against its tier's baseline, decided as one gate."""
    results = [(str(item.path), item.result) for item in loaded]
    tiers = sorted({result.tier for _, result in results})
    baselines = load_baselines(tiers, baselines_dir)
    inputs = group_by_tier(results, baselines, config.tiers)
    return evaluate(
        inputs,
        config.gate,
        expect_tiers=expect_tiers,
        created_at=utc_now_iso(),
        now=now or datetime.now(UTC),
    )
