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

A regression is **confirmed** when it is seen at two consecutive looks (the
second after a batch of fresh runs of that scenario); only confirmed
regressions are filed as triage issues by default.

Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from perfgate.gate_models import Verdict, VerdictKind


@dataclass(frozen=True)
class SequentialPlan:
    """How many looks, how many runs per extra batch, how alpha is spent."""

    max_looks: int = 4
    batch_runs: int = 5
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


def unsettled_scenarios(verdicts: Iterable[Verdict], confirmed: set[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """(tier, scenario) pairs that need more runs: an inconclusive or an unconfirmed regressed gating metric."""
    out: set[tuple[str, str]] = set()
    for v in verdicts:
        if v.informational:
            continue
        key = (v.tier, v.scenario, v.metric)
        if v.verdict is VerdictKind.INCONCLUSIVE or (v.verdict is VerdictKind.REGRESSED and key not in confirmed):
            out.add((v.tier, v.scenario))
    return out


def newly_confirmed(previous: Iterable[Verdict], current: Iterable[Verdict]) -> set[tuple[str, str, str]]:
    """Regressions seen at this look and at the one before it."""
    before = {(v.tier, v.scenario, v.metric) for v in previous if v.verdict is VerdictKind.REGRESSED}
    return {
        (v.tier, v.scenario, v.metric)
        for v in current
        if v.verdict is VerdictKind.REGRESSED and (v.tier, v.scenario, v.metric) in before
    }
