"""``perfgate run --until-conclusive``: look, add runs where in doubt, look again.

The design (alpha spending over looks, confirmation) is in
``perfgate.decide.sequential``; this module drives it with real
measurements and records every look in the results file so the final
verdict can be audited.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from perfgate.baseline import LoadedResults
from perfgate.config import PerfgateConfig
from perfgate.decide.sequential import SequentialPlan, alpha_at_look, newly_confirmed, unsettled_scenarios
from perfgate.gate_models import Problem, ProblemKind, Verdict
from perfgate.models import FailureKind, Look, RunResult, SequentialRecord
from perfgate.pipeline import compare

MoreRuns = Callable[[RunResult, set[str], int], RunResult]
"""Measure ``runs`` more requests of the named scenarios and return the extended results."""


def _counts(result: RunResult) -> dict[str, int]:
    return {s.name: len(s.samples) for s in result.scenarios}


def run_until_conclusive(
    first: RunResult,
    *,
    config: PerfgateConfig,
    baselines_dir: Path,
    more: MoreRuns,
    clock: Callable[[], float] = time.monotonic,
) -> RunResult:
    """Extend ``first`` look by look until every gating verdict settles or the budget is spent."""
    settings = config.sequential
    plan = SequentialPlan(settings.max_looks, settings.batch_runs, settings.rho)
    started = clock()
    result = first
    looks: list[Look] = []
    confirmed: set[tuple[str, str, str]] = set()
    previous: list[Verdict] = []
    stopped = "max_looks"
    for k in range(1, plan.max_looks + 1):
        alpha_k = alpha_at_look(config.gate.alpha, k, plan)
        report = compare(
            [LoadedResults(Path("(this run)"), result)], config, baselines_dir=baselines_dir, look_alpha=alpha_k
        )
        verdicts = [v for v in report.verdicts if v.tier == result.tier]
        if previous:
            confirmed |= newly_confirmed(previous, verdicts)
        todo = {scenario for _, scenario in unsettled_scenarios(verdicts, confirmed)}
        stop = _stop_reason(
            report.problems, result, todo, k, plan, settings.max_runs, settings.max_minutes, started, clock
        )
        looks.append(
            Look(
                index=k,
                alpha=alpha_k,
                runs=_counts(result),
                verdicts={f"{v.scenario}/{v.metric}": v.verdict.value for v in verdicts if not v.informational},
                rerun=() if stop else tuple(sorted(todo)),
            )
        )
        if stop:
            stopped = stop
            break
        previous = verdicts
        result = more(result, todo, plan.batch_runs)
    record = SequentialRecord(
        max_looks=plan.max_looks,
        batch_runs=plan.batch_runs,
        rho=plan.rho,
        looks=tuple(looks),
        confirmed=tuple(sorted(f"{scenario}/{metric}" for _, scenario, metric in confirmed)),
        stopped=stopped,
    )
    return result.model_copy(update={"sequential": record})


def _stop_reason(  # noqa: PLR0911, PLR0917 -- one return per stop reason; every budget is one argument
    problems: Sequence[Problem],
    result: RunResult,
    todo: set[str],
    k: int,
    plan: SequentialPlan,
    max_runs: int | None,
    max_minutes: float | None,
    started: float,
    clock: Callable[[], float],
) -> str | None:
    kinds = {p.kind for p in problems}
    if ProblemKind.BASELINE_MISSING in kinds or ProblemKind.INCOMPARABLE in kinds:
        return "no_baseline"
    if any(f.kind is not FailureKind.MEMORY_UNAVAILABLE for f in result.failures):
        return "failure"
    if not todo:
        return "settled"
    if k == plan.max_looks:
        return "max_looks"
    counts = _counts(result)
    if max_runs is not None and all(counts.get(s, 0) + plan.batch_runs > max_runs for s in todo):
        return "max_runs"
    if max_minutes is not None and clock() - started >= max_minutes * 60:
        return "max_minutes"
    return None
