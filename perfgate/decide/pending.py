"""What each (tier, scenario, metric) becomes before the gate decides: a test, or the verdict that says why not.

Split from ``perfgate.decide.gate`` (which bundles tiers and decides them
together): here one metric's raw values become a ``MetricTest`` — only valid
values, the baseline's sessions, the tier's look level, the metric's assumed
session spread — or a ``missing`` / ``error`` / ``incomparable`` verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perfgate.config import GateConfig
from perfgate.contracts.baseline import Baseline
from perfgate.contracts.gate import Verdict, VerdictKind
from perfgate.contracts.results import RunResult
from perfgate.decide.coverage import valid
from perfgate.decide.sessions import split_sessions
from perfgate.decide.stats import MetricTest
from perfgate.metrics import default_informational, direction_of, session_pool, session_spread_of, unit_of


@dataclass
class Pending:
    verdict: Verdict
    test: MetricTest | None
    notes: tuple[str, ...] = ()  # kept beside the decision's own reasons


def base_verdict(tier: str, scenario: str, metric: str, config: GateConfig, kind: VerdictKind, **kw: object) -> Verdict:
    policy = config.metrics[metric]
    informational = bool(kw.pop("informational", False))
    return Verdict.model_validate(
        {
            "tier": tier,
            "scenario": scenario,
            "metric": metric,
            "unit": unit_of(metric),
            "direction": direction_of(metric),
            "informational": informational,
            "verdict": kind,
            "threshold_worse": policy.threshold_worse,
            "threshold_better": policy.threshold_better,
            **kw,
        }
    )


def pending_one(
    tier: str,
    scenario: str,
    metric: str,
    values: tuple[Sequence[float], Sequence[float]],
    config: GateConfig,
    *,
    blocked: list[str],
    failure: str | None,
    baseline: bool,
    absent: bool,
    memory_reason: str | None,
    informational: bool,
    baseline_sessions: Sequence[int] = (),
    level: float | None = None,
) -> Pending:
    """One metric's test, or the verdict that says why it cannot be tested.

    ``values`` are the baseline's and the results' raw values; only the valid ones
    (finite, positive) are compared, and how many were left out is noted.
    """
    b_raw, c_raw = values
    b, c = valid(b_raw), valid(c_raw)
    kw: dict[str, object] = {"n_baseline": len(b), "n_current": len(c), "informational": informational}
    if blocked:
        kind, note = VerdictKind.INCOMPARABLE, f"fingerprint differs: {', '.join(blocked)}"
    elif failure is not None:
        kind, note = VerdictKind.ERROR, failure
    elif not b:
        kind = VerdictKind.MISSING
        note = "no valid baseline value" if b_raw else "not in the baseline" if baseline else "no baseline"
    elif not c:
        kind = VerdictKind.MISSING
        if absent:
            note = "not in the results"
        elif c_raw:
            note = "no valid value"
        else:
            note = memory_reason if memory_reason and metric.startswith("peak_runtime") else "not measured"
    else:
        policy = config.metrics[metric]
        test = MetricTest(
            b,
            c,
            direction_of(metric),
            policy.threshold_worse,
            policy.threshold_better,
            informational,
            baseline_sessions=valid_sessions(b_raw, baseline_sessions),
            level=level,
            session_spread=session_spread_of(metric) if policy.session_spread is None else policy.session_spread,
            pool=session_pool(tier, metric),
        )
        dropped = len(b_raw) - len(b) + len(c_raw) - len(c)
        notes = (f"{dropped} invalid value{'' if dropped == 1 else 's'} left out",) if dropped else ()
        return Pending(base_verdict(tier, scenario, metric, config, VerdictKind.INCONCLUSIVE, **kw), test, notes)
    return Pending(base_verdict(tier, scenario, metric, config, kind, notes=(note,), **kw), None)


def valid_sessions(raw: Sequence[float], sizes: Sequence[int]) -> tuple[int, ...]:
    """The session sizes of ``raw`` once invalid values are left out (``valid``); () for one session."""
    if len(sizes) < 2:
        return ()
    kept = tuple(len(valid(part)) for part in split_sessions(raw, sizes))
    kept = tuple(k for k in kept if k)
    return kept if len(kept) > 1 else ()


def app_scenarios(results: Sequence[tuple[str, RunResult]], baseline: Baseline | None) -> frozenset[str]:
    """Scenarios that ran an app's command, in the results or in the baseline."""
    names = {s.name for _, r in results for s in r.scenarios if s.command is not None}
    if baseline is not None:
        names |= {name for name, fp in baseline.fingerprint.scenarios.items() if fp.command is not None}
    return frozenset(names)


def is_informational(
    config: GateConfig, metric: str, *, app_scenario: bool, tier: tuple[str, ...], host_os: str | None = None
) -> bool:
    """Shown but never failing: as configured, else the registry's default (on ``host_os``); a tier's list wins."""
    if metric in tier:
        return True
    configured = config.metrics[metric].informational
    if configured is not None:
        return configured
    return default_informational(metric, app_scenario=app_scenario, host_os=host_os)


def baseline_warnings(tier: str, baseline: Baseline) -> list[str]:
    """What a reviewer should know about the baseline itself."""
    if baseline.provenance.sessions > 1:
        return []
    return [
        f"baseline is one measuring session: a session offset it cannot show is allowed for "
        f"({session_spread_of('ttft_ms') * 100:g} % on timings); make it from 3 with `nox -s baseline -- --tier {tier}`"
    ]
