"""The A/B re-measure's decisions: what a gate report asks to re-measure, and the verdicts on the pairs.

Pure: contracts in, contracts out. The statistics are ``perfgate.decide.paired``;
``perfgate confirm`` measures the pairs (``perfgate.measure.abtest``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from perfgate.config import GateConfig
from perfgate.contracts.confirmation import (
    ConfirmationStatus,
    MeasuredPair,
    PairedOutcome,
    PairedVerdict,
    ScenarioConfirmation,
)
from perfgate.contracts.gate import GateReport, Verdict, VerdictKind
from perfgate.contracts.results import Failure, Sample, metric_values
from perfgate.decide.paired import PairedTest, decide_paired
from perfgate.errors import ExitCode
from perfgate.metrics import default_informational, direction_of, unit_of


@dataclass(frozen=True)
class Flagged:
    """What a gate report asks the A/B re-measure to look at, on one tier."""

    scenarios: dict[str, tuple[str, ...]]  # app scenario -> its gating metrics found regressed or suspected
    not_remeasured: tuple[str, ...]  # "tier/scenario/metric" regressions that are not app scenarios


def _worse_past_threshold(v: Verdict) -> bool:
    if v.change is None:
        return False
    worse = v.change if v.direction == "lower" else -v.change
    return worse > v.threshold_worse


def is_flagged(v: Verdict) -> bool:
    """A gating verdict the re-measure should check: regressed, or inconclusive with the estimate past the threshold."""
    if v.informational:
        return False
    return v.verdict is VerdictKind.REGRESSED or (v.verdict is VerdictKind.INCONCLUSIVE and _worse_past_threshold(v))


def flagged(report: GateReport, tier: str, app_scenarios: Collection[str]) -> Flagged:
    """The app scenarios of ``tier`` with a flagged gating metric; the other flagged ones, named."""
    scenarios: dict[str, list[str]] = {}
    others: list[str] = []
    for v in report.verdicts:
        if v.tier != tier or not is_flagged(v):
            continue
        if v.scenario in app_scenarios:
            scenarios.setdefault(v.scenario, []).append(v.metric)
        else:
            others.append(f"{v.tier}/{v.scenario}/{v.metric}")
    return Flagged({name: tuple(metrics) for name, metrics in scenarios.items()}, tuple(others))


def informational(
    gate: GateConfig, metric: str, tier_informational: Collection[str], host_os: str | None = None
) -> bool:
    """As the gate decides it for an app scenario: a tier's list wins, then the metric's setting, then the default."""
    if metric in tier_informational:
        return True
    configured = gate.metrics[metric].informational
    if configured is not None:
        return configured
    return default_informational(metric, app_scenario=True, host_os=host_os)


def _value(sample: Sample, metric: str) -> float | None:
    """The sample's value of the metric when it is one a ratio can be taken of (trusted, finite, positive)."""
    values = metric_values([sample], metric)
    return values[0] if values and math.isfinite(values[0]) and values[0] > 0 else None


def paired_verdicts(
    pairs: Sequence[MeasuredPair],
    gate: GateConfig,
    *,
    tier_informational: Collection[str] = (),
    interval_alpha: float | None = None,
    host_os: str | None = None,
) -> tuple[PairedVerdict, ...]:
    """A verdict per configured metric that the pairs measured; Holm over the gating ones."""
    tests: list[tuple[str, PairedTest]] = []
    missing: list[PairedVerdict] = []
    for metric in gate.metrics:
        a_values: list[float] = []
        b_values: list[float] = []
        seen = False
        for pair in pairs:
            a, b = _value(pair.a, metric), _value(pair.b, metric)
            seen = seen or a is not None or b is not None
            if a is not None and b is not None:
                a_values.append(a)
                b_values.append(b)
        info = informational(gate, metric, tier_informational, host_os)
        threshold = gate.metrics[metric].threshold_worse
        if a_values:
            tests.append((metric, PairedTest(tuple(a_values), tuple(b_values), direction_of(metric), threshold, info)))
        elif seen:  # measured on one side only, or never in the same pair
            missing.append(
                _verdict(metric, info, threshold, PairedOutcome.MISSING, notes=("no pair holds both values",))
            )
    decisions = decide_paired([t for _, t in tests], alpha=gate.alpha, interval_alpha=interval_alpha)
    decided = [
        _verdict(
            metric,
            test.informational,
            test.threshold_worse,
            PairedOutcome(d.outcome),
            n_pairs=d.n_pairs,
            a_median=d.a_median,
            b_median=d.b_median,
            change=d.change,
            change_low=_finite(d.change_low),
            change_high=_finite(d.change_high),
            p_worse=d.p_worse,
            p_worse_adjusted=d.p_worse_adjusted,
            notes=d.reasons,
        )
        for (metric, test), d in zip(tests, decisions, strict=True)
    ]
    order = list(gate.metrics)
    return tuple(sorted([*decided, *missing], key=lambda v: order.index(v.metric)))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _verdict(metric: str, info: bool, threshold: float, outcome: PairedOutcome, **values: object) -> PairedVerdict:
    return PairedVerdict.model_validate(
        {
            "metric": metric,
            "unit": unit_of(metric),
            "direction": direction_of(metric),
            "informational": info,
            "threshold_worse": threshold,
            "outcome": outcome,
            **values,
        }
    )


def _pct(value: float) -> str:
    text = f"{value * 100:+.1f}"
    return "±0.0" if text in ("+0.0", "-0.0") else text.replace("-", "−")


def paired_change(v: PairedVerdict) -> str:
    """``+19.2 % [+17.9, +20.4]``: B against A, with its signed-rank interval (the wording every stage uses)."""
    if v.change is None:
        return "—"
    if v.change_low is None or v.change_high is None or v.change_low <= -1 or math.isinf(v.change_high):
        return f"{_pct(v.change)} % [unbounded]"
    return f"{_pct(v.change)} % [{_pct(v.change_low)}, {_pct(v.change_high)}]"


def status(scenarios: Sequence[ScenarioConfirmation], failures: Sequence[Failure]) -> tuple[ConfirmationStatus, int]:
    """A confirmed regression outranks a failure (its pairs stand), as a regression does in every command."""
    if any(s.confirmed for s in scenarios):
        return ConfirmationStatus.CONFIRMED, int(ExitCode.REGRESSION)
    if failures:
        return ConfirmationStatus.COULD_NOT_MEASURE, int(ExitCode.COULD_NOT_MEASURE)
    return ConfirmationStatus.NOT_CONFIRMED, int(ExitCode.OK)
