"""The stages after measuring, as typed functions the CLI strings together.

load results → load each tier's baseline → evaluate (pure) → GateReport.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from perfgate.baseline import LoadedResults, find_baseline, load_results
from perfgate.config import PerfgateConfig, TriageConfig
from perfgate.decide.gate import evaluate, group_by_tier
from perfgate.decide.sequential import SequentialPlan, alpha_at_look
from perfgate.errors import BaselineMissing, UsageError
from perfgate.gate_models import Baseline, GateReport, Problem, ProblemKind
from perfgate.provenance import utc_now_iso
from perfgate.render.report import ReportInput, report_markdown
from perfgate.render.summary import TriageRow
from perfgate.triage import (
    Finding,
    RunContext,
    TriageAction,
    TriageEntry,
    TriageKind,
    findings_from_problems,
    findings_from_report,
    should_file,
)


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


def collect_results_dir(directory: Path) -> list[LoadedResults]:
    """Every results file under ``directory`` (artifact downloads nest one folder per tier); may be empty."""
    if not directory.is_dir():
        return []
    return [load_results(p) for p in sorted(directory.rglob("*.json")) if _looks_like_results(p)]


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


def sequential_alpha(loaded: Sequence[LoadedResults], alpha: float) -> tuple[float, frozenset[tuple[str, str, str]]]:
    """The level the gate must test at, and the confirmed regressions, from sequential runs' records.

    A results file that took k looks was already tested k - 1 times; the gate is
    its k-th look and spends that look's share of alpha. A run whose look k
    could not be decided (``stopped = "error"``) holds runs no look has seen
    yet; the gate is that look k. With several files the smallest share is
    used (conservative). Fixed-n results leave alpha as it is.
    """
    level = alpha
    confirmed: set[tuple[str, str, str]] = set()
    for item in loaded:
        record = item.result.sequential
        if record is None:
            continue
        plan = SequentialPlan(record.max_looks, record.batch_runs, record.rho)
        look = len(record.looks) + (1 if record.stopped == "error" else 0)
        if look == 0:
            continue
        level = min(level, alpha_at_look(alpha, min(look, plan.max_looks), plan))
        for key in record.confirmed:
            scenario, _, metric = key.partition("/")
            confirmed.add((item.result.tier, scenario, metric))
    return level, frozenset(confirmed)


# ----------------------------------------------------------------- triage rows for the summary


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
        elif finding.kind is TriageKind.REGRESSION and config.confirm_regressions and not finding.confirmed:
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
        defect = finding.summary if finding.kind is TriageKind.REGRESSION else f"{finding.title}: {finding.summary}"
        rows.append(TriageRow(finding.severity, defect, finding.impact, finding.owner, status))
    for action in actions:
        if action.action == "resolve":
            e = action.entry
            number = f" #{e.issue_number}" if e.issue_number else ""
            rows.append(TriageRow(e.severity, e.title, e.impact, e.owner, f"Resolved{number}"))
    return rows


# ----------------------------------------------------------------- the report document


def problems_from_results(loaded: Sequence[LoadedResults], expect_tiers: Sequence[str]) -> list[Problem]:
    """Could-not-measure problems visible in the results alone (no baselines needed)."""
    problems = [
        Problem(kind=ProblemKind(f.kind.value), tier=item.result.tier, scenario=f.scenario, message=f.message)
        for item in loaded
        for f in item.result.failures
    ]
    seen = {item.result.tier for item in loaded}
    problems += [
        Problem(kind=ProblemKind.TIER_MISSING, tier=t, message=f"no results for expected tier {t!r}")
        for t in expect_tiers
        if t not in seen
    ]
    return problems


def copy_raw(loaded: Sequence[LoadedResults], directory: Path) -> list[Path]:
    """Copy each results file beside the report as ``perf-<tier>-<YYYYmmdd-HHMMSS>.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    copied = []
    for item in loaded:
        stamp = item.result.created_at.replace("-", "").replace(":", "").replace("T", "-").rstrip("Z")[:15]
        target = directory / f"perf-{item.result.tier}-{stamp}.json"
        try:
            shutil.copyfile(item.path, target)
        except OSError as exc:
            raise UsageError(f"{target}: cannot copy raw results: {exc.strerror or exc}") from exc
        copied.append(target)
    return copied


def build_report(
    loaded: Sequence[LoadedResults],
    config: PerfgateConfig,
    *,
    title: str,
    baselines_dir: Path | None,
    expect_tiers: Sequence[str],
    raw_paths: Sequence[str],
    generated: str,
) -> str:
    """The report document: compare with baselines when given, triage from what was seen."""
    context = RunContext(date=generated)
    gate = None
    if baselines_dir is not None:
        gate = compare(loaded, config, baselines_dir=baselines_dir, expect_tiers=expect_tiers)
        findings = findings_from_report(gate, config.triage)
    else:
        findings = findings_from_problems(problems_from_results(loaded, expect_tiers), config.triage)
    rows = triage_rows(findings, [], [], context, config.triage, filing=False)
    return report_markdown(
        ReportInput(
            title=title,
            generated=generated,
            loaded=loaded,
            raw_paths=raw_paths,
            gate=gate,
            triage=rows,
            expected_tiers=expect_tiers,
            memory_interval_ms=config.memory_interval_ms,
        )
    )
