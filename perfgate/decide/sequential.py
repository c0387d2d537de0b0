"""Sequential sampling: spend more runs only where a verdict is in doubt.

A run starts with ``runs`` measured requests per scenario (look 1). After each
look, every gating metric is decided; scenarios with an ``inconclusive``
metric, or with a ``regressed`` metric not yet confirmed, get ``batch_runs``
more requests, and the gate looks again — at most ``max_looks`` times.

Error control across looks (a group-sequential design with an alpha-spending
function): look k of K is tested at the *increment* of the power-family
spending function ``alpha * (k/K)**rho``, i.e.
``alpha_k = alpha * ((k/K)**rho - ((k-1)/K)**rho)``. The increments add up
to alpha, so by the union bound the chance of any false alarm over all looks
(Holm within each look) stays at or below alpha by construction — however the
looks turn out. ``rho = 2`` spends little early (when samples are few and
noisy) and most late. ``docs/statistics.md`` shows the numbers.

A scenario is re-run only for a verdict more runs can settle: an inconclusive
metric whose runs-needed estimate exceeds what the plan and budget still allow
(or that needs a larger baseline) does not cost runs — stopping for futility,
which the union bound covers like any other stopping rule.

A regression is **confirmed** when it is seen at two consecutive looks (the
second after a batch of fresh runs of that scenario); only confirmed
regressions are filed as triage issues by default.

Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from perfgate.contracts.gate import Verdict, VerdictKind
from perfgate.contracts.results import LoadedResults


@dataclass(frozen=True)
class SequentialPlan:
    """How many looks, how many runs per extra batch, how alpha is spent."""

    max_looks: int = 6
    batch_runs: int = 4
    rho: float = 2.0

    def __post_init__(self) -> None:
        if self.max_looks < 1 or self.batch_runs < 1 or self.rho <= 0:
            raise ValueError("max_looks and batch_runs must be >= 1 and rho > 0")


def spent(alpha: float, k: int, plan: SequentialPlan) -> float:
    """Cumulative alpha spent by the end of look k (k = 0 .. max_looks)."""
    k = max(0, min(k, plan.max_looks))
    return float(alpha * (k / plan.max_looks) ** plan.rho)


def alpha_at_look(alpha: float, k: int, plan: SequentialPlan) -> float:
    """The level look k (1-based) is tested at: the spending function's increment."""
    if not 1 <= k <= plan.max_looks:
        raise ValueError(f"look {k} is outside 1..{plan.max_looks}")
    return spent(alpha, k, plan) - spent(alpha, k - 1, plan)


def suspected_regression(v: Verdict) -> bool:
    """Inconclusive, but worse and maybe past the threshold: the estimate is past it, or the interval
    reaches it while clearing no change (``change_low`` > 0 for the worse)."""
    if v.verdict is not VerdictKind.INCONCLUSIVE or v.change is None:
        return False
    worse = v.change if v.direction == "lower" else -v.change
    if worse > v.threshold_worse:
        return True
    if v.change_low is None or v.change_high is None:
        return False
    low, high = (v.change_low, v.change_high) if v.direction == "lower" else (-v.change_high, -v.change_low)
    return low > 0 and high > v.threshold_worse


def unsettled_scenarios(
    verdicts: Iterable[Verdict],
    confirmed: set[tuple[str, str, str]],
    remaining: Mapping[tuple[str, str], int] | None = None,
) -> set[tuple[str, str]]:
    """(tier, scenario) pairs worth more runs.

    A scenario is re-run for a gating metric that is ``regressed`` but not yet
    confirmed, a suspected regression (inconclusive, worse, and maybe past the
    threshold: ``suspected_regression``), or any other ``inconclusive`` metric *within reach*. With
    ``remaining`` (the runs each (tier, scenario) may still get under the plan
    and the budget), an inconclusive metric is within reach only when its
    runs-needed estimate is known and at most that many: re-running for a
    verdict the budget cannot settle, or that only a larger baseline can,
    spends runs and settles nothing. Suspected regressions are always chased
    (the estimate assumes normal noise; a rank test often needs fewer runs when
    there are outliers). Without ``remaining`` every inconclusive metric counts.
    """
    return {(v.tier, v.scenario) for v in verdicts if not v.informational and _worth_more_runs(v, confirmed, remaining)}


def _worth_more_runs(
    v: Verdict, confirmed: set[tuple[str, str, str]], remaining: Mapping[tuple[str, str], int] | None
) -> bool:
    if v.verdict is VerdictKind.REGRESSED:
        return (v.tier, v.scenario, v.metric) not in confirmed
    if v.verdict is not VerdictKind.INCONCLUSIVE:
        return False
    if remaining is None or suspected_regression(v):
        return True
    return v.runs_needed is not None and v.runs_needed <= remaining.get((v.tier, v.scenario), 0)


def newly_confirmed(previous: Iterable[Verdict], current: Iterable[Verdict]) -> set[tuple[str, str, str]]:
    """Regressions seen at this look and at the one before it."""
    before = {(v.tier, v.scenario, v.metric) for v in previous if v.verdict is VerdictKind.REGRESSED}
    return {
        (v.tier, v.scenario, v.metric)
        for v in current
        if v.verdict is VerdictKind.REGRESSED and (v.tier, v.scenario, v.metric) in before
    }


def sequential_alpha(
    loaded: Sequence[LoadedResults], alpha: float
) -> tuple[dict[str, float], frozenset[tuple[str, str, str]]]:
    """Each tier's level for the gate, and the confirmed regressions, from sequential runs' records.

    A results file that took k looks was already tested k - 1 times; the gate is
    its k-th look and spends that look's share of alpha. A run whose look k
    could not be decided (``stopped = "error"``) holds runs no look has seen
    yet; the gate is that look k. Each tier is tested at its own run's share
    (``decide.stats.holm_levels`` keeps the union bound over the tiers); with
    several files of one tier the smallest share is used (conservative). A tier
    of fixed-n results is not in the mapping (tested at alpha).
    """
    levels: dict[str, float] = {}
    confirmed: set[tuple[str, str, str]] = set()
    for item in loaded:
        record = item.result.sequential
        if record is None:
            continue
        plan = SequentialPlan(record.max_looks, record.batch_runs, record.rho)
        look = len(record.looks) + (1 if record.stopped == "error" else 0)
        if look == 0:
            continue
        tier = item.result.tier
        levels[tier] = min(levels.get(tier, alpha), alpha_at_look(alpha, min(look, plan.max_looks), plan))
        confirmed.update((tier, scenario, metric) for scenario, metric in record.confirmed_metrics)
    return levels, frozenset(confirmed)
