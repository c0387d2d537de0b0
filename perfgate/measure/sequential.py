"""``perfgate run --until-conclusive``: look, add runs where in doubt, look again.

The design (alpha spending over looks, confirmation) is in
``perfgate.decide.sequential``; this module drives it with real
measurements and records every look in the results file so the final
verdict can be audited.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from perfgate.config import PerfgateConfig
from perfgate.contracts.gate import GateReport, Problem, Verdict
from perfgate.contracts.results import RunResult
from perfgate.contracts.sequential import Look, ScenarioMetric, SequentialRecord
from perfgate.decide.sequential import SequentialPlan, alpha_at_look, newly_confirmed, unsettled_scenarios
from perfgate.errors import Kind, PerfgateError

MoreRuns = Callable[[RunResult, set[str], int], RunResult]
"""Measure ``runs`` more requests of the named scenarios and return the extended results."""

DecideLook = Callable[[RunResult, PerfgateConfig, float], GateReport]
"""Decide the gate on the results so far at the given alpha (in-process, or in a child process)."""


def _counts(result: RunResult) -> dict[str, int]:
    return {s.name: len(s.samples) for s in result.scenarios}


def run_until_conclusive(
    first: RunResult,
    *,
    config: PerfgateConfig,
    more: MoreRuns,
    look: DecideLook,
    clock: Callable[[], float] = time.monotonic,
) -> RunResult:
    """Extend ``first`` look by look until every gating verdict settles or the budget is spent.

    A look that cannot be decided (say the baseline became unreadable) stops
    the run with ``stopped = "error"`` and the reason; the runs measured so far
    are kept.
    """
    settings = config.sequential
    plan = SequentialPlan(settings.max_looks, settings.batch_runs, settings.rho)
    started = clock()
    result = first
    looks: list[Look] = []
    confirmed: set[tuple[str, str, str]] = set()
    previous: list[Verdict] = []
    fresh: set[str] = set()  # scenarios given new runs since the previous look
    stopped = "max_looks"
    error: str | None = None
    for k in range(1, plan.max_looks + 1):
        alpha_k = alpha_at_look(config.gate.alpha, k, plan)
        try:
            report = look(result, config, alpha_k)
        except PerfgateError as exc:
            stopped, error = "error", f"look {k}: {exc.message}"
            break
        verdicts = [v for v in report.verdicts if v.tier == result.tier]
        # Confirmation needs fresh runs: a scenario left alone (say at --max-runs) only repeats its verdict.
        confirmed |= {key for key in newly_confirmed(previous, verdicts) if key[1] in fresh}
        room = _room(result, k, plan, settings.max_runs)
        doubtful = {scenario for _, scenario in unsettled_scenarios(verdicts, confirmed)}
        todo = {
            scenario
            for _, scenario in unsettled_scenarios(verdicts, confirmed, {(result.tier, s): n for s, n in room.items()})
            if room.get(scenario, 0) > 0
        }
        stop = _stop_reason(
            report.problems, result, doubtful, todo, room, k, plan, settings.max_minutes, started, clock
        )
        looks.append(
            Look(
                index=k,
                alpha=alpha_k,
                runs=_counts(result),
                verdicts={
                    ScenarioMetric(v.scenario, v.metric).key: v.verdict.value for v in verdicts if not v.informational
                },
                rerun=() if stop else tuple(sorted(todo)),
            )
        )
        if stop:
            stopped = stop
            break
        previous, fresh = verdicts, todo
        # A scenario near --max-runs gets only the runs it has left.
        for runs in sorted({min(plan.batch_runs, room[s]) for s in todo}):
            failures = len(result.failures)
            result = more(result, {s for s in todo if min(plan.batch_runs, room[s]) == runs}, runs)
            if len(result.failures) > failures:
                break  # the runtime failed: the next look stops with "failure"
    record = SequentialRecord(
        max_looks=plan.max_looks,
        batch_runs=plan.batch_runs,
        rho=plan.rho,
        looks=tuple(looks),
        confirmed=tuple(sorted(ScenarioMetric(scenario, metric).key for _, scenario, metric in confirmed)),
        stopped=stopped,
        error=error,
    )
    return result.model_copy(update={"sequential": record})


def _room(result: RunResult, k: int, plan: SequentialPlan, max_runs: int | None) -> dict[str, int]:
    """Runs each scenario may still get after look k: the looks left, capped by --max-runs."""
    left = (plan.max_looks - k) * plan.batch_runs
    return {
        name: left if max_runs is None else max(0, min(left, max_runs - count))
        for name, count in _counts(result).items()
    }


def _stop_reason(  # noqa: PLR0911, PLR0917 -- one return per stop reason; every budget is one argument
    problems: Sequence[Problem],
    result: RunResult,
    doubtful: set[str],
    todo: set[str],
    room: dict[str, int],
    k: int,
    plan: SequentialPlan,
    max_minutes: float | None,
    started: float,
    clock: Callable[[], float],
) -> str | None:
    """Why the run stops after look k, or None to look again.

    ``doubtful`` are the scenarios with a verdict not settled yet; ``todo`` those
    of them that more runs, within the budget, can likely settle; ``room`` the
    runs each scenario may still get.
    """
    kinds = {p.kind for p in problems}
    if Kind.BASELINE_MISSING in kinds or Kind.INCOMPARABLE in kinds:
        return "no_baseline"
    if any(f.kind is not Kind.MEMORY_UNAVAILABLE for f in result.failures):
        return "failure"
    if not doubtful:
        return "settled"
    if k == plan.max_looks:
        return "max_looks"
    if not todo:
        # Nothing more runs can settle: the per-scenario cap, or estimates beyond the budget.
        return "max_runs" if all(room.get(s, 0) == 0 for s in doubtful) else "out_of_reach"
    if max_minutes is not None and clock() - started >= max_minutes * 60:
        return "max_minutes"
    return None
