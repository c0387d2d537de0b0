"""perfgate compare: results against their tiers' baselines, decided as one gate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import load_baselines
from perfgate.contracts.gate import GateReport
from perfgate.contracts.results import LoadedResults
from perfgate.decide.gate import evaluate, group_by_tier
from perfgate.decide.sequential import sequential_alpha
from perfgate.provenance import utc_now_iso


def compare(
    loaded: Sequence[LoadedResults],
    config: PerfgateConfig,
    *,
    baselines_dir: Path,
    expect_tiers: Sequence[str] = (),
    now: datetime | None = None,
    look_alpha: float | None = None,
) -> GateReport:
    """Every results file against its tier's baseline, decided as one gate.

    ``look_alpha`` is used by a sequential run's own looks; otherwise the level
    comes from the results' sequential records (``sequential_alpha``).
    """
    results = [(str(item.path), item.result) for item in loaded]
    tiers = sorted({result.tier for _, result in results})
    baselines = load_baselines(tiers, baselines_dir)
    inputs = group_by_tier(results, baselines, config.tiers)
    alpha, confirmed = sequential_alpha(loaded, config.gate.alpha)
    return evaluate(
        inputs,
        config.gate,
        expect_tiers=expect_tiers,
        created_at=utc_now_iso(),
        now=now or datetime.now(UTC),
        alpha=alpha if look_alpha is None else look_alpha,
        confirmed=confirmed,
    )
