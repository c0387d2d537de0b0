"""Drift found over the default branch's history, as triage entries of kind ``drift`` (``perfgate history drift``).

One entry per series (``drift:tier:scenario:metric``), opened when the series drifts
and updated when it is seen drifting again. Its evidence names the commit range to
bisect: the runs either side of the largest change point for the worse, else (a creep
no single change point carries) the baseline's commit to the latest run. Drift is
resolved by hand (or by a refreshed baseline under review), never by a later clean
gate: a gate compares with the baseline, which is what drifted away.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfgate.config import TriageConfig
from perfgate.contracts.triage import TriageEntry
from perfgate.errors import Kind
from perfgate.history.drift import SeriesDrift
from perfgate.metrics import label
from perfgate.triage.policy import IMPACT, Finding, RunContext, TriageAction, fingerprint_of, sighting


def _pct(change: float) -> str:
    return f"{change * 100:+.1f} %"


def bisect_range(drift: SeriesDrift) -> tuple[str | None, str]:
    """The commits to bisect between: (good, bad). ``good`` is None when the baseline names no commit."""
    flagged = drift.flagged_points
    if flagged:
        worst = max(flagged, key=lambda cp: drift.worse_by(cp.change))
        return worst.commit_before, worst.commit_after
    assert drift.cumulative is not None
    return drift.cumulative.baseline_commit, drift.cumulative.last_commit


def range_text(good: str | None, bad: str) -> str:
    return f"{good[:12]}..{bad[:12]}" if good else f"(baseline commit unknown)..{bad[:12]}"


def drift_summary(drift: SeriesDrift) -> str:
    """One line: what moved, by how much, how sure, and the range to bisect."""
    key = drift.key
    parts: list[str] = []
    for cp in drift.flagged_points:
        parts.append(
            f"{_pct(cp.change)} at {cp.commit_after[:12]} (p = {cp.p_value:.2g}, "
            f"{cp.mean_before:.4g} → {cp.mean_after:.4g})"
        )
    if drift.cumulative_worse and drift.cumulative is not None:
        c = drift.cumulative
        parts.append(f"{_pct(c.change)} since the baseline (median of the last {c.recent_runs} runs)")
    good, bad = bisect_range(drift)
    return f"{label(key.metric)} on {key.tier}/{key.scenario}: {'; '.join(parts)}; bisect {range_text(good, bad)}"


def drift_findings(drifts: Sequence[SeriesDrift], config: TriageConfig) -> list[Finding]:
    """A finding for every series that drifted for the worse past its threshold."""
    found: list[Finding] = []
    for drift in drifts:
        if not drift.drifted:
            continue
        key = drift.key
        found.append(
            Finding(
                fingerprint=fingerprint_of(Kind.DRIFT, key.tier, key.scenario, key.metric),
                kind=Kind.DRIFT,
                tier=key.tier,
                scenario=key.scenario,
                metric=key.metric,
                severity=config.severities.get(Kind.DRIFT.value, "P2"),
                owner=config.owners.get(Kind.DRIFT.value, "QA"),
                title=f"Performance drift: {label(key.metric)} on {key.tier}/{key.scenario}",
                impact=IMPACT[Kind.DRIFT],
                summary=drift_summary(drift),
            )
        )
    return found


def file_drift(
    entries: Sequence[TriageEntry], findings: Sequence[Finding], context: RunContext, config: TriageConfig
) -> tuple[list[TriageEntry], list[TriageAction]]:
    """Open (or update, or reopen) an entry per finding; entries not seen again are left as they are."""
    by_fp = {e.fingerprint: e for e in entries}
    actions: list[TriageAction] = []
    for finding in findings:
        evidence = context.evidence(finding.summary)
        entry, action = sighting(by_fp.get(finding.fingerprint), finding, evidence, config)
        actions.append(action)
        by_fp[finding.fingerprint] = entry
    return list(by_fp.values()), actions
