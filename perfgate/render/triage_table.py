"""The seed's Defect Triage table rows: what this gate saw and what it resolved."""

from __future__ import annotations

from collections.abc import Sequence

from perfgate.config import TriageConfig
from perfgate.contracts.triage import TriageEntry
from perfgate.errors import Kind
from perfgate.render.summary import TriageRow
from perfgate.triage.policy import (
    Finding,
    RunContext,
    TriageAction,
    should_file,
)


def triage_rows(
    findings: Sequence[Finding],
    actions: Sequence[TriageAction],
    entries: Sequence[TriageEntry],
    context: RunContext,
    config: TriageConfig,
    *,
    filing: bool,
) -> list[TriageRow]:
    """The seed's Defect Triage table: what this gate saw, plus what it resolved."""
    acted = {a.entry.fingerprint: a for a in actions}
    known = {e.fingerprint: e for e in entries}
    rows: list[TriageRow] = []
    for finding in sorted(findings, key=lambda f: (f.severity, f.tier, f.fingerprint)):
        if not filing:
            status = "Open"
        elif finding.kind is Kind.REGRESSION and config.confirm_regressions and not finding.confirmed:
            status = "Suspected (filed once confirmed by more runs)"
        elif not should_file(finding, context, config):
            status = "Reported here (not filed from a pull request)"
        else:
            action = acted.get(finding.fingerprint)
            entry = known.get(finding.fingerprint)
            number = f" #{entry.issue_number}" if entry and entry.issue_number else ""
            if action is None or action.action == "open":
                status = f"Open (new){number}"
            elif action.action == "reopen":
                status = f"Reopened{number}"
            else:
                status = f"Open (seen {action.entry.occurrences}×){number}"
        defect = finding.summary if finding.kind is Kind.REGRESSION else f"{finding.title}: {finding.summary}"
        rows.append(TriageRow(finding.severity, defect, finding.impact, finding.owner, status))
    for action in actions:
        if action.action == "resolve":
            e = action.entry
            number = f" #{e.issue_number}" if e.issue_number else ""
            rows.append(TriageRow(e.severity, e.title, e.impact, e.owner, f"Resolved{number}"))
    return rows
