"""Baselines × results → verdicts → gate status. No I/O: callers load the files.

Every (tier, scenario, metric) that can be compared becomes one test; all
gating tests of the gate are decided together so Holm's adjustment spans the
whole gate. What cannot be compared becomes a verdict that says why
(``missing``, ``error``, ``incomparable``) — never ``unchanged`` — and a
``Problem``: a gate never passes on nothing (``decide.coverage``). A results
or baseline file that could not be read is a ``bad_input`` problem of its tier
(or of ``UNKNOWN_TIER``): the other tiers are decided as ever, and the gate
fails (exit 2) unless a regression elsewhere outranks it.
A treatment that differs from the baseline (model, prompt, runtime...) is
compared, and recorded as a ``Change`` (``decide.fingerprint``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from perfgate import __version__
from perfgate.config import GateConfig, PerfgateConfig, TierConfig
from perfgate.contracts.baseline import Baseline
from perfgate.contracts.gate import (
    UNKNOWN_TIER,
    Change,
    GateReport,
    GateStatus,
    Problem,
    TierSummary,
    Verdict,
    VerdictKind,
)
from perfgate.contracts.results import LoadedResults, RunResult, metric_values, sample_metrics
from perfgate.decide.coverage import (
    Gaps,
    empty_scenarios,
    nothing_compared,
    split_baseline_own,
    stopped,
    unmeasured,
)
from perfgate.decide.fingerprint import Comparability, check_tier, staleness_warnings
from perfgate.decide.headline import headline
from perfgate.decide.pending import Pending, app_scenarios, baseline_warnings, is_informational, pending_one
from perfgate.decide.sequential import sequential_alpha
from perfgate.decide.stats import decide
from perfgate.errors import ExitCode, Kind


@dataclass(frozen=True)
class TierInput:
    """Everything the gate knows about one tier before deciding."""

    tier: str
    results: Sequence[tuple[str, RunResult]]  # (file name, results)
    baseline: tuple[str, Baseline] | None  # (file name, baseline)
    baseline_problem: Problem | None = None  # missing or unreadable baseline
    must_match: tuple[str, ...] | None = None  # the tier's override of gate.must_match
    informational_metrics: tuple[str, ...] = ()
    level: float | None = None  # the share of alpha this tier's regressions are tested at (its sequential look)


def _merge_current(results: Sequence[tuple[str, RunResult]]) -> dict[str, dict[str, list[float]]]:
    merged: dict[str, dict[str, list[float]]] = {}
    for _, result in results:
        for scenario in result.scenarios:
            target = merged.setdefault(scenario.name, {})
            for metric in sample_metrics(scenario.samples):
                target.setdefault(metric, []).extend(metric_values(scenario.samples, metric))
    return merged


def _comparability(  # noqa: PLR0917 -- one tier's inputs, passed through
    tier_input: TierInput,
    baseline: Baseline,
    measured: Sequence[RunResult],
    config: GateConfig,
    now: datetime,
    warnings: list[str],
) -> Comparability:
    """Fingerprints against the baseline's; staleness and the baseline's own warnings go to ``warnings``."""
    tier = tier_input.tier
    # The tier's own must_match (e.g. 'sim' ignores the host) replaces gate.must_match.
    must_match = config.must_match if tier_input.must_match is None else tier_input.must_match
    comparability = check_tier(tier, baseline.fingerprint, [r.fingerprint for r in measured], must_match)
    warnings.extend(staleness_warnings(baseline, measured[0], config, now, must_match))
    warnings.extend(baseline_warnings(tier, baseline))
    return comparability


def _failed_scenarios(tier: str, results: Sequence[tuple[str, RunResult]], problems: list[Problem]) -> dict[str, str]:
    """Each run failure becomes a problem; the scenarios they stopped, with why."""
    failed: dict[str, str] = {}
    for _, result in results:
        for failure in result.failures:
            problems.append(Problem(kind=failure.kind, tier=tier, scenario=failure.scenario, message=failure.message))
            if failure.scenario is not None:
                failed[failure.scenario] = failure.message
    return failed


def _tier_pending(
    tier_input: TierInput, config: GateConfig, now: datetime
) -> tuple[list[Pending], list[Problem], TierSummary, tuple[Change, ...]]:
    tier = tier_input.tier
    problems: list[Problem] = []
    pending: list[Pending] = []
    warnings: list[str] = []
    results = list(tier_input.results)
    if tier_input.baseline is not None:
        # The results file a baseline was made from, gated against it, would pass on nothing new.
        results, left_out, own = split_baseline_own(tier, results, tier_input.baseline)
        warnings.extend(left_out)
        problems.extend([own] if own is not None else [])
    newest = max((r for _, r in results), key=lambda r: r.created_at, default=None)
    failed_scenarios = _failed_scenarios(tier, results, problems)
    memory_reason = next((f.message for _, r in results for f in r.failures if f.kind is Kind.MEMORY_UNAVAILABLE), None)
    if tier_input.baseline_problem is not None:
        problems.append(tier_input.baseline_problem)
    problems.extend(unmeasured(tier, results))
    baseline = tier_input.baseline[1] if tier_input.baseline else None
    # A run that measured nothing (runtime down, model missing) never learnt the runtime's
    # version or digest: its fingerprint is empty, not different, and its failure says why.
    measured = sorted((r for _, r in results if r.scenarios), key=lambda r: r.created_at, reverse=True)
    comparability = Comparability(tier)
    if baseline is not None and measured:
        comparability = _comparability(tier_input, baseline, measured, config, now, warnings)
        problems.extend(comparability.problems())
    current = _merge_current(results)
    base_samples = baseline.samples if baseline else {}
    base_sessions = baseline.sessions if baseline else {}
    apps = app_scenarios(results, baseline)
    # The platform picks the one memory figure that gates (footprint on macOS, RSS elsewhere).
    host_os = newest.host.os if newest is not None else (baseline.provenance.host.os if baseline else None)
    gaps = Gaps(tier, tier_input.baseline[0]) if tier_input.baseline else None
    for scenario in sorted(set(current) | set(base_samples) | set(failed_scenarios)):
        blocked = comparability.blocked(scenario)
        for metric in config.metrics:
            b_raw = base_samples.get(scenario, {}).get(metric, ())
            b_sessions = base_sessions.get(scenario, {}).get(metric, ())
            c_raw = current.get(scenario, {}).get(metric, ())
            if not (b_raw or c_raw):
                continue
            informational = is_informational(
                config, metric, app_scenario=scenario in apps, tier=tier_input.informational_metrics, host_os=host_os
            )
            one = pending_one(
                tier,
                scenario,
                metric,
                (b_raw, c_raw),
                config,
                blocked=blocked,
                failure=failed_scenarios.get(scenario),
                baseline=baseline is not None,
                absent=scenario not in current,
                memory_reason=memory_reason,
                informational=informational,
                baseline_sessions=b_sessions,
                level=tier_input.level,
            )
            pending.append(one)
            if gaps is not None and one.verdict.verdict is VerdictKind.MISSING and not informational:
                gaps.add(scenario, metric, b_raw, c_raw, absent=scenario not in current)
    if gaps is not None:
        problems.extend(
            gaps.problems(
                # a stopped run's failure, or results that ran no scenario (``unmeasured``), say why already
                explained=stopped(results) or not any(r.scenarios for _, r in results),
                memory_explained=memory_reason is not None,
                empty_scenarios=empty_scenarios(results),
            )
        )
        if not problems and not any(p.test is not None and not p.verdict.informational for p in pending):
            problems.append(nothing_compared(tier, gaps.baseline_file))
    summary = _tier_summary(tier_input, results, newest, baseline, warnings)
    return pending, problems, summary, comparability.changes


def _tier_summary(
    tier_input: TierInput,
    results: Sequence[tuple[str, RunResult]],
    newest: RunResult | None,
    baseline: Baseline | None,
    warnings: list[str],
) -> TierSummary:
    return TierSummary(
        tier=tier_input.tier,
        results_files=tuple(name for name, _ in results),
        baseline_file=tier_input.baseline[0] if tier_input.baseline else None,
        host_label=newest.host.label if newest else None,
        chip=newest.host.chip if newest else None,
        runtime=f"{newest.runtime.kind} {newest.runtime.version or '?'}" if newest else None,
        model=newest.runtime.model if newest else None,
        model_digest=newest.runtime.model_digest if newest else None,
        git_sha=newest.git_sha if newest else None,
        simulated=newest.simulated if newest else False,
        baseline_created_at=baseline.provenance.created_at if baseline else None,
        baseline_git_sha=baseline.provenance.git_sha if baseline else None,
        baseline_sessions=baseline.provenance.sessions if baseline else None,
        look_alpha=tier_input.level,
        warnings=tuple(warnings),
    )


def evaluate(
    tiers: Sequence[TierInput],
    config: GateConfig,
    *,
    expect_tiers: Sequence[str] = (),
    created_at: str,
    now: datetime,
    alpha: float | None = None,
    confirmed: frozenset[tuple[str, str, str]] = frozenset(),
    refused: Sequence[Problem] = (),
) -> GateReport:
    """Decide the whole gate at once (Holm spans every tier, scenario and metric).

    Each tier's regressions are tested at its own level (``TierInput.level``: a
    sequential run's last look share; default ``config.alpha``), with Holm's
    step-down over the whole gate (``decide.stats.holm_levels``). ``alpha``
    overrides every tier's level (a sequential run's own look). The interval
    keeps ``config.alpha``. ``confirmed`` lists (tier, scenario, metric)
    regressions that a sequential run confirmed. ``refused`` are the ``bad_input``
    problems of results files that could not be read: each names its tier, which
    then counts as present (not ``tier_missing``) and fails.
    """
    if alpha is not None:
        tiers = [replace(t, level=alpha) for t in tiers]
    pending: list[Pending] = []
    problems: list[Problem] = list(refused)
    summaries: list[TierSummary] = []
    changes: list[Change] = []
    seen = {t.tier for t in tiers}
    for tier_input in tiers:
        tier_pending, probs, summary, tier_changes = _tier_pending(tier_input, config, now)
        pending.extend(tier_pending)
        problems.extend(probs)
        summaries.append(summary)
        changes.extend(tier_changes)
    for problem in refused:  # a tier whose every results file was refused is still shown, failing
        if problem.tier not in seen and problem.tier != UNKNOWN_TIER:
            seen.add(problem.tier)
            summaries.append(TierSummary(tier=problem.tier))
    for tier in expect_tiers:
        if tier not in seen:
            problems.append(
                Problem(
                    kind=Kind.TIER_MISSING,
                    tier=tier,
                    message=f"no results for expected tier {tier!r} (runner offline or job failed)",
                )
            )
            summaries.append(TierSummary(tier=tier))
    tested = [p for p in pending if p.test is not None]
    decisions = decide(
        [p.test for p in tested if p.test is not None],
        alpha=config.alpha,
        cv_warning=config.cv_warning,
        interval_alpha=config.interval_tail,
    )
    decided = {id(p): d for p, d in zip(tested, decisions, strict=True)}
    verdicts: list[Verdict] = []
    for p in pending:
        d = decided.get(id(p))
        if d is None:
            verdicts.append(p.verdict)
            continue
        verdicts.append(
            p.verdict.model_copy(
                update={
                    "verdict": VerdictKind(d.verdict),
                    "baseline_median": d.baseline_median,
                    "current_median": d.current_median,
                    "change": d.change,
                    "change_low": d.change_low,
                    "change_high": d.change_high,
                    "p_worse": d.p_worse,
                    "p_worse_adjusted": d.p_worse_adjusted,
                    "baseline_cv": d.baseline_cv,
                    "current_cv": d.current_cv,
                    "runs_needed": d.runs_needed,
                    "confirmed": d.verdict == "regressed"
                    and (p.verdict.tier, p.verdict.scenario, p.verdict.metric) in confirmed,
                    "notes": (*d.reasons, *p.notes),
                }
            )
        )
    status, code = gate_status(verdicts, problems, config)
    levels = [t.level for t in tiers if t.level is not None and t.level != config.alpha]
    if not summaries and not problems:  # no tier at all (the commands refuse this before): never a pass
        status, code = GateStatus.COULD_NOT_MEASURE, ExitCode.COULD_NOT_MEASURE
    return GateReport(
        perfgate_version=__version__,
        created_at=created_at,
        alpha=config.alpha,
        look_alpha=min(levels) if levels else None,
        interval_tail=config.interval_tail,
        status=status,
        exit_code=int(code),
        headline=headline(status, verdicts, problems, [s.tier for s in summaries]),
        tiers=tuple(summaries),
        verdicts=tuple(verdicts),
        problems=tuple(problems),
        changes=tuple(changes),
    )


def compare_results(
    loaded: Sequence[LoadedResults],
    baselines: Mapping[str, tuple[str, Baseline] | Problem],
    config: PerfgateConfig,
    *,
    created_at: str,
    now: datetime,
    expect_tiers: Sequence[str] = (),
    look_alpha: float | None = None,
    refused: Sequence[Problem] = (),
) -> GateReport:
    """Results against their tiers' baselines (as ``load_baselines`` gives them), decided as one gate.

    ``look_alpha`` is used by a sequential run's own looks; otherwise the level
    comes from the results' sequential records (``sequential_alpha``). ``refused``:
    the ``bad_input`` problems of results files that could not be read.
    """
    results = [(str(item.path), item.result) for item in loaded]
    levels, confirmed = sequential_alpha(loaded, config.gate.alpha)
    tiers = [replace(t, level=levels.get(t.tier)) for t in group_by_tier(results, baselines, config.tiers)]
    return evaluate(
        tiers,
        config.gate,
        expect_tiers=expect_tiers,
        created_at=created_at,
        now=now,
        alpha=look_alpha,
        confirmed=confirmed,
        refused=refused,
    )


def gate_status(
    verdicts: Sequence[Verdict], problems: Sequence[Problem], config: GateConfig
) -> tuple[GateStatus, ExitCode]:
    """Regression beats bad input beats could-not-measure beats inconclusive beats pass.

    A refused file never reads as a regression (1) nor as a pass: it is bad input
    (2), as when a command refuses a file outright, and a regression found on
    another tier still says so first.
    """
    gating = [v for v in verdicts if not v.informational]
    if any(v.verdict is VerdictKind.REGRESSED for v in gating):
        return GateStatus.REGRESSION, ExitCode.REGRESSION
    if any(p.kind is Kind.BAD_INPUT for p in problems):
        return GateStatus.BAD_INPUT, ExitCode.USAGE
    if problems:
        return GateStatus.COULD_NOT_MEASURE, ExitCode.COULD_NOT_MEASURE
    if config.fail_on_inconclusive and any(v.verdict is VerdictKind.INCONCLUSIVE for v in gating):
        return GateStatus.INCONCLUSIVE, ExitCode.INCONCLUSIVE
    return GateStatus.PASS, ExitCode.OK


def group_by_tier(
    results: Sequence[tuple[str, RunResult]],
    baselines: Mapping[str, tuple[str, Baseline] | Problem],
    tier_configs: Mapping[str, TierConfig],
) -> list[TierInput]:
    """Bundle results per tier with the tier's baseline (or the problem loading it)."""
    tiers: dict[str, list[tuple[str, RunResult]]] = {}
    for name, result in results:
        tiers.setdefault(result.tier, []).append((name, result))
    out = []
    for tier, items in sorted(tiers.items()):
        found = baselines.get(tier)
        tier_config = tier_configs.get(tier)
        must_match = tier_config.must_match if tier_config else None
        informational = tier_config.informational_metrics if tier_config else ()
        if isinstance(found, Problem) or found is None:
            problem = (
                found
                if isinstance(found, Problem)
                else Problem(kind=Kind.BASELINE_MISSING, tier=tier, message=f"no baseline for tier {tier!r}")
            )
            out.append(TierInput(tier, items, None, problem, must_match, informational))
        else:
            out.append(TierInput(tier, items, found, None, must_match, informational))
    return out
