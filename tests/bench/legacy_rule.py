"""Today's decision rule, frozen: ``perfgate/decide/stats.py`` as of commit 847ba02.

``bench_decision.py`` sets this rule ("today") beside whatever
``perfgate.decide.stats.decide`` does when the benchmark runs ("new"), over
the same simulated gates. Below: ``stats.py`` of that commit with its imports
pointed at the frozen ``legacy_ranks`` (its re-exports and module docstring
left out; not one line of the rule changed), then the sequential policy's
helpers of the same commit (``perfgate/decide/sequential.py``), so "today"
stays today's whole policy while those change too. Do not fix anything here:
it is a record.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from legacy_ranks import median_of_sorted, min_p, normal_ppf, pairs_of

from perfgate.contracts.gate import Verdict, VerdictKind
from perfgate.decide.sequential import SequentialPlan

Direction = Literal["lower", "higher"]
VerdictName = Literal["regressed", "improved", "unchanged", "inconclusive"]


@dataclass(frozen=True)
class MetricTest:
    """One (tier, scenario, metric) comparison to decide."""

    baseline: tuple[float, ...]
    current: tuple[float, ...]
    direction: Direction
    threshold_worse: float  # e.g. 0.10 = a 10 % change for the worse matters
    threshold_better: float
    informational: bool = False


@dataclass(frozen=True)
class Decision:
    """The verdict on one MetricTest, with every number behind it."""

    verdict: VerdictName
    change: float  # current / baseline - 1 in the metric's own units (HL estimate)
    change_low: float  # interval bounds of `change` (may be +-inf when n is tiny)
    change_high: float
    p_worse: float  # one-sided, unadjusted
    p_worse_adjusted: float  # Holm-adjusted over the gate's gating tests
    p_better: float
    p_better_adjusted: float
    baseline_median: float
    current_median: float
    baseline_cv: float | None
    current_cv: float | None
    runs_needed: int | None  # extra current runs likely to settle an inconclusive verdict
    reasons: tuple[str, ...]  # why inconclusive / noise notes, short phrases


# ----------------------------------------------------------------- Holm


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given), capped at 1."""
    k = len(p_values)
    order = sorted(range(k), key=lambda i: p_values[i])
    adjusted = [1.0] * k
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (k - rank) * p_values[index])
        adjusted[index] = min(1.0, running)
    return adjusted


# ----------------------------------------------------------------- one metric


class _Raw(NamedTuple):
    effect: float  # oriented log shift (worse > 0)
    low: float
    high: float
    p_worse: float
    p_better: float
    current_logs: list[float]  # the oriented logs, for the noise an inconclusive verdict's estimate needs
    baseline_logs: list[float]


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1 in the denominator; nan below two values)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    deviations = [v - mean for v in values]
    return mean, math.sqrt(math.fsum([d * d for d in deviations]) / (n - 1))


def _cv(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean, sd = _mean_sd(values)
    return None if mean == 0 else sd / mean


def _oriented_logs(values: Sequence[float], direction: Direction) -> list[float]:
    if direction == "lower":
        return [math.log(v) for v in values]
    return [-math.log(v) for v in values]


def _raw(test: MetricTest, tail: float) -> _Raw:
    c = _oriented_logs(test.current, test.direction)
    b = _oriented_logs(test.baseline, test.direction)
    pairs = pairs_of(c, b)
    effect, low, high = pairs.shift(tail)
    p_worse, p_better = pairs.p_greater(c_greater=True), pairs.p_greater(c_greater=False)
    return _Raw(effect, low, high, p_worse, p_better, c, b)


def _to_change(oriented: float, direction: Direction) -> float:
    """Oriented log shift -> current/baseline - 1 in the metric's own direction."""
    # exp(+-inf) is inf / 0, so an unbounded interval maps to +inf / -100 % as it should.
    return math.exp(oriented if direction == "lower" else -oriented) - 1


def runs_needed(
    raw: _Raw,
    *,
    n: int,
    m: int,
    bound_worse: float,
    bound_better: float,
    alpha: float,
    family: int,
    interval_alpha: float | None = None,
) -> int | None:
    """Extra current runs after which the verdict would likely settle (a rough, documented estimate).

    Normal approximation on the log scale with a Welch standard error: the
    interval half-width is about z * sqrt(s_c²/n + s_b²/m) * 1.05 (1.05: the
    Hodges–Lehmann estimator's efficiency relative to the mean). To call a
    change it must shrink below the distance from the estimate to 0, with z at
    the Holm family's first level alpha/family; to call "unchanged", below the
    distance to the nearer threshold, with z at the interval's level
    (``interval_alpha``, default alpha). None when the noise is
    unknown or more current runs alone cannot get there (the baseline then
    needs more runs too).
    """
    # sd of the oriented logs (nan below two values), one sample standing in for the other.
    own_c, own_b = _mean_sd(raw.current_logs)[1], _mean_sd(raw.baseline_logs)[1]
    sd_b = own_b if math.isfinite(own_b) else own_c
    sd_c = own_c if math.isfinite(own_c) else sd_b
    if not (math.isfinite(sd_b) and math.isfinite(sd_c)) or sd_c <= 0:
        return None
    e = raw.effect
    if e > bound_worse or e < -bound_better:
        margin, z = abs(e), normal_ppf(1 - alpha / family)
    else:
        level = alpha if interval_alpha is None else interval_alpha
        margin, z = min(bound_worse - e, bound_better + e), normal_ppf(1 - level)
    room = (margin / (z * 1.05)) ** 2 - sd_b**2 / m
    if margin <= 0 or room <= 0:
        return None
    total = math.ceil(sd_c**2 / room)
    # The rank test also needs enough runs for its smallest p-value to clear the level.
    while min_p(total, m) >= alpha / family and total < 1000:
        total += 1
    return max(1, total - n) if total <= 1000 else None


def decide(
    tests: Sequence[MetricTest],
    *,
    alpha: float = 0.05,
    cv_warning: float = 0.10,
    interval_alpha: float | None = None,
) -> list[Decision]:
    """Verdicts for every test of one gate; Holm runs over the gating tests together."""
    for t in tests:
        if not t.current or not t.baseline:
            raise ValueError("decide() needs at least one baseline and one current sample per test")
        if not all(math.isfinite(v) and v > 0 for v in (*t.current, *t.baseline)):
            raise ValueError("decide() works on ratios: every value must be finite and positive")
    # A (1 - 2 tail) interval: "unchanged" is then a TOST at level tail. A sequential look
    # tests regressions at a spent share of alpha but keeps the equivalence level.
    tail = alpha if interval_alpha is None else interval_alpha
    raws = [_raw(t, tail) for t in tests]
    gating = [i for i, t in enumerate(tests) if not t.informational]
    adj_worse = dict(zip(gating, holm([raws[i].p_worse for i in gating]), strict=True))
    adj_better = dict(zip(gating, holm([raws[i].p_better for i in gating]), strict=True))
    family = max(1, len(gating))
    return [
        _verdict(
            test,
            raw,
            p_worse_adj=adj_worse.get(i, raw.p_worse),
            p_better_adj=adj_better.get(i, raw.p_better),
            alpha=alpha,
            interval_alpha=tail,
            cv_warning=cv_warning,
            family=family,
        )
        for i, (test, raw) in enumerate(zip(tests, raws, strict=True))
    ]


def _bounds(test: MetricTest) -> tuple[float, float]:
    """Thresholds on the oriented log scale, so that they match the reported ``change``.

    Lower-is-better: worse means change > +t (log1p(t)); better means change < -t.
    Higher-is-better: worse means change < -t, i.e. oriented > -log1p(-t); better means change > +t.
    """
    worse, better = test.threshold_worse, test.threshold_better
    if test.direction == "lower":
        return math.log1p(worse), (-math.log1p(-better) if better < 1 else math.inf)
    return (-math.log1p(-worse) if worse < 1 else math.inf), math.log1p(better)


def _verdict(
    test: MetricTest,
    raw: _Raw,
    *,
    p_worse_adj: float,
    p_better_adj: float,
    alpha: float,
    interval_alpha: float,
    cv_warning: float,
    family: int,
) -> Decision:
    n, m = len(test.current), len(test.baseline)
    bound_worse, bound_better = _bounds(test)
    reasons: list[str] = []
    c_cv, b_cv = _cv(test.current), _cv(test.baseline)
    for label, cv in (("current", c_cv), ("baseline", b_cv)):
        if cv is not None and cv > cv_warning:
            reasons.append(f"noisy {label} (CV {cv * 100:.0f} %)")
    floor = min_p(n, m)
    reachable_alpha = alpha if test.informational else alpha / family
    if floor >= reachable_alpha:
        reasons.append(f"too few samples for α to be reachable (n = {n} vs {m})")

    verdict: VerdictName
    if p_worse_adj < alpha and raw.effect > bound_worse:
        verdict = "regressed"
    elif p_better_adj < alpha and raw.effect < -bound_better:
        verdict = "improved"
    elif raw.low > -bound_better and raw.high < bound_worse:
        verdict = "unchanged"
    else:
        verdict = "inconclusive"
        if raw.effect > bound_worse:
            reasons.append("large change but not significant")
        elif raw.effect < -bound_better:
            reasons.append("large improvement but not significant")
        else:
            reasons.append("interval wider than the threshold")
    needed = (
        runs_needed(
            raw,
            n=n,
            m=m,
            bound_worse=bound_worse,
            bound_better=bound_better,
            alpha=alpha,
            family=family,
            interval_alpha=interval_alpha,
        )
        if verdict == "inconclusive"
        else None
    )
    return Decision(
        verdict=verdict,
        change=_to_change(raw.effect, test.direction),
        change_low=_to_change(raw.low if test.direction == "lower" else raw.high, test.direction),
        change_high=_to_change(raw.high if test.direction == "lower" else raw.low, test.direction),
        p_worse=raw.p_worse,
        p_worse_adjusted=p_worse_adj,
        p_better=raw.p_better,
        p_better_adjusted=p_better_adj,
        baseline_median=median_of_sorted(sorted(test.baseline)),
        current_median=median_of_sorted(sorted(test.current)),
        baseline_cv=b_cv,
        current_cv=c_cv,
        runs_needed=needed,
        reasons=tuple(reasons),
    )


# ----------------------------------------------------------------- sequential.py (the helpers the loop calls)


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
    """Inconclusive, but the estimate is already past the threshold for the worse."""
    if v.verdict is not VerdictKind.INCONCLUSIVE or v.change is None:
        return False
    worse = v.change if v.direction == "lower" else -v.change
    return worse > v.threshold_worse


def unsettled_scenarios(
    verdicts: Iterable[Verdict],
    confirmed: set[tuple[str, str, str]],
    remaining: Mapping[tuple[str, str], int] | None = None,
) -> set[tuple[str, str]]:
    """(tier, scenario) pairs worth more runs (see the shipped module's docstring of that commit)."""
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
