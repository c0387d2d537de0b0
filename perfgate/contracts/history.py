"""The history store's file: one default-branch run of one tier, summarised (issue 19).

A store is a directory (or a git branch checked out as one) holding one file
per (run, tier): ``<tier>/<measured_at>-<commit[:12]>-<run_id>.json``. One file
per run means two runs that race never write the same file, so the store
survives concurrent writers without locks; readers load every file and sort
by ``measured_at``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from perfgate.contracts.results import Fingerprint, Frozen
from perfgate.files import SafeName

HISTORY_SCHEMA_VERSION = 1


class MetricSummary(Frozen):
    """One metric of one scenario in one run."""

    n: int = Field(ge=1, description="Valid samples.")
    median: float = Field(description="Median of the valid samples, in the metric's unit.")
    values: tuple[float, ...] = Field(description="The valid samples, in run order.")
    verdict: str | None = Field(default=None, description="The gate's verdict on it in this run, when gated.")


class HistoryEntry(Frozen):
    """``<store>/<tier>/<file>.json``: what one default-branch run measured on one tier."""

    schema_version: int = HISTORY_SCHEMA_VERSION
    kind: Literal["perfgate-history-entry"] = "perfgate-history-entry"
    tier: SafeName
    commit: str = Field(description="Commit the run measured (full SHA).")
    branch: str | None = Field(default=None, description="Branch of the run (the default branch for drift).")
    measured_at: str = Field(description="When the run measured (ISO 8601 UTC); the series' order.")
    recorded_at: str = Field(description="When the entry was written (ISO 8601 UTC).")
    run_id: str | None = Field(default=None, description="CI run id, when known.")
    run_url: str | None = Field(default=None, description="Link to the CI run, when known.")
    perfgate_version: str
    fingerprint: Fingerprint
    scenarios: dict[SafeName, dict[str, MetricSummary]] = Field(description="scenario -> metric -> summary.")
