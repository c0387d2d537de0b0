"""App scenarios' regressions against their A/B re-measure (``perfgate confirm``): filed only when it confirmed them.

A regression the gate found in an app scenario may be the session's doing (a
hot runner, a runtime slower today than when the baseline was made). The A/B
re-measure runs the base commit and the current one in turn, in one session,
so what it confirms is the change's doing. With confirmation files given
(``perfgate gate --triage --confirmations``), a regression whose (tier,
scenario, metric) was re-measured is filed when the re-measure confirmed it
(even before a sequential run confirmed it), and never when it did not. A
regression that was not re-measured is filed as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from perfgate.contracts.confirmation import Confirmation, PairedVerdict
from perfgate.contracts.gate import GateReport
from perfgate.decide.ab import paired_change
from perfgate.errors import Kind
from perfgate.triage.policy import Finding


@dataclass(frozen=True)
class Applied:
    findings: list[Finding]
    notes: list[str]  # confirmation files that could not apply, one line each


def _same_commit(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a.startswith(b) or b.startswith(a)


def _by_metric(
    confirmations: Sequence[tuple[str, Confirmation]], report: GateReport, notes: list[str]
) -> dict[tuple[str, str, str], PairedVerdict]:
    """Each re-measured (tier, scenario, metric) of the commit this gate saw; the newest file wins."""
    commits = {tier.tier: tier.git_sha for tier in report.tiers}
    found: dict[tuple[str, str, str], PairedVerdict] = {}
    for where, confirmation in sorted(confirmations, key=lambda item: item[1].created_at):
        if confirmation.tier not in commits:
            continue  # another tier's file, in a directory of several
        measured = commits[confirmation.tier]
        if not _same_commit(confirmation.current.git_sha, measured):
            notes.append(
                f"{where}: re-measured commit {(confirmation.current.git_sha or '')[:12]}, not the commit of "
                f"tier {confirmation.tier}'s results ({(measured or '')[:12]}); not used for triage"
            )
            continue
        for scenario in confirmation.scenarios:
            for verdict in scenario.verdicts:
                found[(confirmation.tier, scenario.scenario, verdict.metric)] = verdict
    return found


def apply_confirmations(
    findings: Sequence[Finding], confirmations: Sequence[tuple[str, Confirmation]], report: GateReport
) -> Applied:
    """The findings, each regression that was re-measured marked confirmed or refuted by it."""
    notes: list[str] = []
    found = _by_metric(confirmations, report, notes)
    out: list[Finding] = []
    for finding in findings:
        verdict = None
        if finding.kind is Kind.REGRESSION and finding.scenario is not None and finding.metric is not None:
            verdict = found.get((finding.tier, finding.scenario, finding.metric))
        if verdict is None:
            out.append(finding)
        elif verdict.confirmed:
            said = f"{finding.summary}; confirmed by A/B re-measure: {paired_change(verdict)}"
            out.append(dataclasses.replace(finding, confirmed=True, summary=said))
        else:
            why = f"not confirmed by A/B re-measure ({verdict.outcome.value.replace('_', ' ')})"
            said = f"{finding.summary}; {why}: {paired_change(verdict)}"
            out.append(dataclasses.replace(finding, refuted=why, summary=said))
    return Applied(out, notes)
