"""What a gate could not compare becomes a problem: a gate never passes on nothing.

A verdict of ``missing`` alone would let a gate pass (exit 0) on a tier where
nothing was compared. Each of these is a ``measurement_missing`` problem
(could not measure, exit 3) with a one-line reason:

- results that measured no scenario and recorded no failure, or a scenario with no sample;
- a scenario the baseline holds and no results file of the tier has (renamed, dropped, not run);
- a gating metric the baseline holds with no valid value in the results (absent from every
  sample, or only NaN, infinite, zero or negative values), and the reverse, a baseline whose
  values of a gating metric are all invalid;
- results files that hold the very samples the baseline was made from (they measure nothing new);
- a tier where, in the end, no gating metric was compared.

A run that stopped on a failure (runtime down, stream cut...) already says why the
rest is missing: its failure is the problem, and these are not added to it.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from perfgate.contracts.baseline import Baseline
from perfgate.contracts.gate import GateReport, Problem, VerdictKind
from perfgate.contracts.results import LoadedResults, RunResult, metric_values
from perfgate.errors import Kind
from perfgate.metrics import MEMORY_METRICS

# Failures that leave the rest of the run measured: they explain only their own metrics.
_PARTIAL = (Kind.MEMORY_UNAVAILABLE, Kind.TIMING_UNRELIABLE)


def valid(values: Sequence[float]) -> tuple[float, ...]:
    """The values a ratio can be taken of: finite and positive; anything else is not a measurement."""
    return tuple(v for v in values if math.isfinite(v) and v > 0)


def stopped(results: Sequence[tuple[str, RunResult]]) -> bool:
    """Whether a run of these stopped on a failure that explains what it did not measure."""
    return any(f.kind not in _PARTIAL for _, r in results for f in r.failures)


def _problem(tier: str, message: str, scenario: str | None = None, metric: str | None = None) -> Problem:
    return Problem(kind=Kind.MEASUREMENT_MISSING, tier=tier, scenario=scenario, metric=metric, message=message)


def _names(results: Sequence[tuple[str, RunResult]]) -> str:
    return ", ".join(name for name, _ in results)


def _listed(metrics: Sequence[str]) -> str:
    return ", ".join(metrics) + (" has" if len(metrics) == 1 else " have")


def baseline_own(result: RunResult, baseline: Baseline) -> bool:
    """Whether ``result`` holds the samples the baseline was made from: every value of every metric found there.

    Exact equality of every figure of a run (latencies, rates, memory) does not happen by
    chance; it happens when the results file a baseline was made from is gated against it.
    """
    seen = False
    for scenario in result.scenarios:
        held = baseline.samples.get(scenario.name, {})
        for metric, values in held.items():
            mine = metric_values(scenario.samples, metric)
            if not mine:
                continue
            kept = set(values)
            if any(v not in kept for v in mine):
                return False
            seen = True
    return seen


def split_baseline_own(
    tier: str, results: Sequence[tuple[str, RunResult]], baseline: tuple[str, Baseline]
) -> tuple[list[tuple[str, RunResult]], list[str], Problem | None]:
    """Results to compare, a warning per file left out as the baseline's own, and the problem if none is left."""
    baseline_file, held = baseline
    own = [(name, r) for name, r in results if baseline_own(r, held)]
    if not own:
        return list(results), [], None
    kept = [(name, r) for name, r in results if all(name != o for o, _ in own)]
    if kept:
        return kept, [f"{name} left out: it holds the samples {baseline_file} was made from" for name, _ in own], None
    message = (
        f"{tier}: {_names(own)} holds the samples {baseline_file} was made from, not a new measurement; "
        "run perfgate run on this change"
    )
    return kept, [], _problem(tier, message)


def unmeasured(tier: str, results: Sequence[tuple[str, RunResult]]) -> list[Problem]:
    """Results that measured nothing and recorded no failure: no scenario at all, or a scenario with no sample."""
    if not results or stopped(results):
        return []
    if not any(r.scenarios for _, r in results):
        return [_problem(tier, f"{tier}: {_names(results)} measured no scenario and recorded no failure; run it again")]
    return [
        _problem(tier, f"{tier}/{name}: no sample in {_names(results)} and no failure recorded; run it again", name)
        for name in sorted(empty_scenarios(results))
    ]


def empty_scenarios(results: Sequence[tuple[str, RunResult]]) -> set[str]:
    """Scenarios the results name without a single sample, and no failure of their own to say why."""
    counts: dict[str, int] = {}
    for _, result in results:
        for scenario in result.scenarios:
            counts[scenario.name] = counts.get(scenario.name, 0) + len(scenario.samples)
    failed = {f.scenario for _, r in results for f in r.failures}
    return {name for name, count in counts.items() if count == 0 and name not in failed}


@dataclass
class Gaps:
    """What one tier's baseline holds that its results do not, gathered metric by metric."""

    tier: str
    baseline_file: str
    absent: list[str] = field(default_factory=list)  # baseline scenarios in no results file
    no_value: dict[str, list[str]] = field(default_factory=dict)  # scenario -> gating metrics with no valid value
    bad_baseline: dict[str, list[str]] = field(default_factory=dict)  # scenario -> gating metrics, baseline invalid

    def add(self, scenario: str, metric: str, b_raw: Sequence[float], c_raw: Sequence[float], *, absent: bool) -> None:
        """One gating metric that got a ``missing`` verdict: note what the baseline has and the results lack."""
        b, c = valid(b_raw), valid(c_raw)
        if b_raw and not b:
            self.bad_baseline.setdefault(scenario, []).append(metric)
        elif b and not c and absent:
            self.absent.extend([] if scenario in self.absent else [scenario])
        elif b and not c:
            self.no_value.setdefault(scenario, []).append(metric)

    def problems(self, *, explained: bool, memory_explained: bool, empty_scenarios: set[str]) -> list[Problem]:
        """The gaps as problems; none when a failure (``explained``) already says why the results stop short."""
        out: list[Problem] = []
        if not explained:
            out += [
                _problem(
                    self.tier,
                    f"{self.tier}/{name}: in {self.baseline_file} but in no results file (renamed, dropped or "
                    "not run); run it, or update the baseline with perfgate baseline update",
                    name,
                )
                for name in self.absent
            ]
            for name, metrics in sorted(self.no_value.items()):
                kept = [m for m in metrics if not (memory_explained and m in MEMORY_METRICS)]
                if kept and name not in empty_scenarios:
                    message = (
                        f"{self.tier}/{name}: {_listed(kept)} no valid value in the results (absent, NaN, infinite, "
                        f"zero or negative) but {self.baseline_file} has; measure again, or update the baseline "
                        "if it is gone for good"
                    )
                    out.append(_problem(self.tier, message, name, kept[0] if len(kept) == 1 else None))
        for name, metrics in sorted(self.bad_baseline.items()):
            message = (
                f"{self.tier}/{name}: {self.baseline_file} holds no valid value of {', '.join(metrics)} (NaN, "
                "infinite, zero or negative); make it again with perfgate baseline update"
            )
            out.append(_problem(self.tier, message, name, metrics[0] if len(metrics) == 1 else None))
        return out


def nothing_compared(tier: str, baseline_file: str) -> Problem:
    """A tier with a baseline and results where not one gating metric could be compared."""
    return _problem(
        tier,
        f"{tier}: nothing compared: no gating metric has valid values in both the results and {baseline_file}",
    )


def problems_from_results(loaded: Sequence[LoadedResults], expect_tiers: Sequence[str]) -> list[Problem]:
    """Could-not-measure problems visible in the results alone (no baselines needed)."""
    problems = [
        Problem(kind=f.kind, tier=item.result.tier, scenario=f.scenario, message=f.message)
        for item in loaded
        for f in item.result.failures
    ]
    tiers: dict[str, list[tuple[str, RunResult]]] = {}
    for item in loaded:
        tiers.setdefault(item.result.tier, []).append((str(item.path), item.result))
    for tier, results in sorted(tiers.items()):
        problems += unmeasured(tier, results)
    seen = set(tiers)
    problems += [
        Problem(kind=Kind.TIER_MISSING, tier=t, message=f"no results for expected tier {t!r}")
        for t in expect_tiers
        if t not in seen
    ]
    return problems


def compared_anything(report: GateReport) -> bool:
    """Whether the gate decided at least one gating metric (a report of nothing but gaps did not)."""
    decided = (
        VerdictKind.REGRESSED,
        VerdictKind.IMPROVED,
        VerdictKind.CHANGED,
        VerdictKind.UNCHANGED,
        VerdictKind.INCONCLUSIVE,
    )
    return any(v.verdict in decided for v in report.verdicts if not v.informational)
