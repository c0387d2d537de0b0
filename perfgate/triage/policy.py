"""Triage policy: which findings become entries, and their lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from perfgate.config import TriageConfig
from perfgate.contracts.gate import UNKNOWN_TIER, GateReport, Problem, Verdict, VerdictKind
from perfgate.contracts.triage import Evidence, TriageEntry
from perfgate.decide.headline import fmt_change
from perfgate.errors import Kind, ProblemKind, TriageKind
from perfgate.metrics import label


def triage_kind(kind: ProblemKind) -> TriageKind | None:
    """A problem's kind as a triage entry's: stream-level failures are one defect, "the runtime broke".

    None for an interrupted run: someone stopped it, nothing is broken, nobody is to act; and
    for a refused input file: what it says (its tier's name) is not trusted into an issue.
    """
    if kind is Kind.INTERRUPTED or kind is Kind.BAD_INPUT:
        return None
    if kind is Kind.STREAM_TRUNCATED or kind is Kind.TIMEOUT or kind is Kind.PROTOCOL_ERROR:
        return Kind.RUNTIME_ERROR
    return kind


IMPACT: dict[TriageKind, str] = {
    Kind.REGRESSION: "Users see slower responses or higher memory on this tier.",
    Kind.RUNTIME_UNAVAILABLE: "Blocks performance capture on this tier.",
    Kind.MODEL_MISSING: "Blocks performance capture on this tier.",
    Kind.RUNTIME_ERROR: "Runs on this tier fail; no numbers can be trusted.",
    Kind.TIER_MISSING: "The two-tier requirement is not met; this tier is unchecked.",
    Kind.BASELINE_MISSING: "This tier cannot be gated until a baseline is committed.",
    Kind.INCOMPARABLE: "Results cannot be compared until the baseline is updated.",
    Kind.MEMORY_UNAVAILABLE: "Runtime memory is not measured on this tier.",
    Kind.APP_FAILED: "The app's benchmark fails on this tier; the app is not measured.",
    Kind.APP_NO_REQUEST: "The app's benchmark never reached the runtime through perfgate; the app is not measured.",
    Kind.APP_TIMEOUT: "The app's benchmark hangs on this tier; the app is not measured.",
    Kind.TIMING_UNRELIABLE: "The runner is too busy to time the runtime; this tier's timings are not gated.",
    Kind.MEASUREMENT_MISSING: "Part of this tier was not measured or not compared; it is unchecked.",
    Kind.DRIFT: "Main got slower (or bigger) over many commits, each small enough to pass its pull request.",
}


@dataclass(frozen=True)
class Finding:
    """A defect seen by this gate."""

    fingerprint: str
    kind: TriageKind
    tier: str
    scenario: str | None
    metric: str | None
    severity: str
    owner: str
    title: str
    impact: str
    summary: str
    confirmed: bool = True  # regressions: seen at two looks of a sequential run, or by an A/B re-measure
    refuted: str | None = None  # regressions: why an A/B re-measure did not confirm it (then never filed)


@dataclass(frozen=True)
class RunContext:
    """Where this gate ran."""

    date: str
    commit: str | None = None
    run_id: str | None = None
    url: str | None = None
    is_default_branch: bool = False

    def evidence(self, summary: str) -> Evidence:
        return Evidence(run_id=self.run_id, commit=self.commit, date=self.date, url=self.url, summary=summary)


Action = Literal["open", "update", "reopen", "resolve"]


@dataclass(frozen=True)
class TriageAction:
    action: Action
    entry: TriageEntry  # the entry after the action
    evidence: Evidence


def _fingerprint_part(part: str | None) -> str:
    if part is None:
        return "-"
    part = part.replace("%", "%25").replace(":", "%3A")
    return "%2D" if part == "-" else part


def fingerprint_of(kind: TriageKind, tier: str, scenario: str | None = None, metric: str | None = None) -> str:
    """``kind:tier:scenario:metric``, ``-`` for an absent part.

    A ``:`` or ``%`` inside a part is percent-encoded (and a part that is just ``-``),
    so two different keys never share a fingerprint; the usual names are unchanged.
    """
    return ":".join([kind.value, *(_fingerprint_part(part) for part in (tier, scenario, metric))])


def _regression_finding(v: Verdict, config: TriageConfig) -> Finding:
    change = abs(v.change or 0)
    severity = "P1" if change >= config.p1_regression else "P2"
    text = f"{label(v.metric)} {fmt_change(v)} on {v.tier}/{v.scenario}"
    return Finding(
        fingerprint=fingerprint_of(Kind.REGRESSION, v.tier, v.scenario, v.metric),
        kind=Kind.REGRESSION,
        tier=v.tier,
        scenario=v.scenario,
        metric=v.metric,
        severity=severity,
        owner=config.owners.get(Kind.REGRESSION.value, "QA"),
        title=f"Performance regression: {label(v.metric)} on {v.tier}/{v.scenario}",
        impact=IMPACT[Kind.REGRESSION],
        summary=f"{text} (adjusted p = {v.p_worse_adjusted:.2g})" if v.p_worse_adjusted is not None else text,
        confirmed=v.confirmed,
    )


def _problem_finding(p: Problem, config: TriageConfig) -> Finding | None:
    kind = triage_kind(p.kind)
    if kind is None:
        return None
    where = p.tier + (f"/{p.scenario}" if p.scenario and kind is Kind.INCOMPARABLE else "")
    scenario = p.scenario if kind is Kind.INCOMPARABLE else None
    return Finding(
        fingerprint=fingerprint_of(kind, p.tier, scenario),
        kind=kind,
        tier=p.tier,
        scenario=scenario,
        metric=None,
        severity=config.severities.get(kind.value, "P2"),
        owner=config.owners.get(kind.value, "QA"),
        title=f"{kind.value.replace('_', ' ').capitalize()} on {where}",
        impact=IMPACT[kind],
        summary=p.message,
    )


def findings_from_problems(problems: Sequence[Problem], config: TriageConfig) -> list[Finding]:
    """Findings for could-not-measure problems alone (a report made without baselines)."""
    found: dict[str, Finding] = {}
    for problem in problems:
        finding = _problem_finding(problem, config)
        if finding is not None:
            found.setdefault(finding.fingerprint, finding)
    return list(found.values())


def findings_from_report(report: GateReport, config: TriageConfig) -> list[Finding]:
    """Every defect the gate saw, one per fingerprint."""
    found: dict[str, Finding] = {}
    for verdict in report.verdicts:
        if verdict.verdict is VerdictKind.REGRESSED and not verdict.informational:
            finding = _regression_finding(verdict, config)
            found.setdefault(finding.fingerprint, finding)
    for problem in report.problems:
        problem_finding = _problem_finding(problem, config)
        if problem_finding is not None:
            found.setdefault(problem_finding.fingerprint, problem_finding)
    return list(found.values())


def should_file(finding: Finding, context: RunContext, config: TriageConfig) -> bool:
    """Filing policy: default-branch runs file everything; PRs file per ``triage.file_on_pr``.

    A regression is filed only once confirmed when ``triage.confirm_regressions`` is on,
    and never when an A/B re-measure did not confirm it (``perfgate.triage.ab``).
    """
    if finding.refuted is not None:
        return False
    if finding.kind is Kind.REGRESSION and config.confirm_regressions and not finding.confirmed:
        return False
    if context.is_default_branch:
        return True
    if config.file_on_pr == "all":
        return True
    if config.file_on_pr == "could_not_measure":
        return finding.kind is not Kind.REGRESSION
    return False


def _clean_for(entry: TriageEntry, report: GateReport) -> bool:
    """Did this gate look at what the entry is about, and find it fine?"""
    tiers_measured = {t.tier for t in report.tiers if t.results_files}
    if entry.tier not in tiers_measured:
        return False  # not looked at: absence of evidence is not a fix
    if any(p.tier == entry.tier and p.kind is Kind.INTERRUPTED for p in report.problems):
        return False  # stopped part-way: what did not recur may simply not have been reached
    if any(p.tier in (entry.tier, UNKNOWN_TIER) and p.kind is Kind.BAD_INPUT for p in report.problems):
        return False  # a file of the tier (or of no known tier) was refused: what it held was not looked at
    if entry.kind is Kind.REGRESSION:
        for v in report.verdicts:
            if (v.tier, v.scenario, v.metric) == (entry.tier, entry.scenario, entry.metric):
                return v.verdict in (VerdictKind.UNCHANGED, VerdictKind.CHANGED, VerdictKind.IMPROVED)
        return False
    return True  # the problem did not recur on a tier that was measured


def sighting(
    old: TriageEntry | None, finding: Finding, evidence: Evidence, config: TriageConfig
) -> tuple[TriageEntry, TriageAction]:
    """A finding seen again: a new entry ("open"), or ``old`` updated ("update") or reopened ("reopen")."""
    if old is None:
        entry = TriageEntry(
            fingerprint=finding.fingerprint,
            kind=finding.kind,
            tier=finding.tier,
            scenario=finding.scenario,
            metric=finding.metric,
            severity=finding.severity,
            owner=finding.owner,
            title=finding.title,
            impact=finding.impact,
            status="open",
            first_seen=evidence,
            last_seen=evidence,
            occurrences=1,
            evidence=(evidence,),
        )
        return entry, TriageAction("open", entry, evidence)
    entry = old.model_copy(
        update={
            "status": "open",
            "severity": finding.severity,
            "last_seen": evidence,
            "occurrences": old.occurrences + 1,
            "evidence": (*old.evidence, evidence)[-config.max_evidence :],
            "resolved_at": None,
        }
    )
    return entry, TriageAction("reopen" if old.status == "resolved" else "update", entry, evidence)


def reconcile(
    entries: Sequence[TriageEntry],
    findings: Sequence[Finding],
    report: GateReport,
    context: RunContext,
    config: TriageConfig,
) -> tuple[list[TriageEntry], list[TriageAction]]:
    """New state of every entry, and the actions a sink must carry out."""
    by_fp = {e.fingerprint: e for e in entries}
    actions: list[TriageAction] = []
    seen: set[str] = set()
    for finding in findings:
        if not should_file(finding, context, config):
            continue
        seen.add(finding.fingerprint)
        evidence = context.evidence(finding.summary)
        entry, action = sighting(by_fp.get(finding.fingerprint), finding, evidence, config)
        actions.append(action)
        by_fp[finding.fingerprint] = entry
    if context.is_default_branch:
        for fp, entry in list(by_fp.items()):
            if entry.status == "open" and fp not in seen and _clean_for(entry, report):
                evidence = context.evidence(f"clean on {context.commit or 'the default branch'}")
                resolved = entry.model_copy(update={"status": "resolved", "resolved_at": evidence})
                by_fp[fp] = resolved
                actions.append(TriageAction("resolve", resolved, evidence))
    return list(by_fp.values()), actions
