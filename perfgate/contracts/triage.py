"""Triage entries and the local ledger file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from perfgate.contracts.results import Frozen
from perfgate.errors import TriageKind

LEDGER_SCHEMA_VERSION = 1


class Evidence(Frozen):
    """One sighting of a defect."""

    run_id: str | None = Field(default=None, description="CI run id, when known.")
    commit: str | None = None
    date: str
    url: str | None = Field(default=None, description="Link to the CI run.")
    summary: str = Field(description="What was seen, one line.")


class TriageEntry(Frozen):
    """One defect and its lifecycle."""

    fingerprint: str = Field(description="Stable identity: kind:tier:scenario:metric.")
    kind: TriageKind
    tier: str
    scenario: str | None = None
    metric: str | None = None
    severity: str
    owner: str
    title: str
    impact: str
    status: Literal["open", "resolved"]
    first_seen: Evidence
    last_seen: Evidence
    occurrences: int
    evidence: tuple[Evidence, ...] = Field(description="Most recent sightings, newest last.")
    issue_number: int | None = Field(default=None, description="GitHub issue, when the sink is GitHub.")
    resolved_at: Evidence | None = None


class TriageLedger(Frozen):
    """The local triage ledger file (``--triage-ledger``)."""

    schema_version: int = LEDGER_SCHEMA_VERSION
    kind: Literal["perfgate-triage-ledger"] = "perfgate-triage-ledger"
    entries: tuple[TriageEntry, ...] = ()
