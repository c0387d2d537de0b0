"""The decision rule, as pure functions: samples in, frozen results out.

For one metric, baseline samples B and current samples C are put on a log
scale and *oriented* so that "worse" is positive (lower-is-better metrics as
``log x``, higher-is-better as ``-log x``). Then:

* effect: the Hodges–Lehmann shift (median of all pairwise differences
  ``c - b``), i.e. a robust ratio of current to baseline;
* interval: the distribution-free (Moses) interval for that shift, read off the
  sorted pairwise differences at the Mann–Whitney critical rank;
* significance: one-sided Mann–Whitney U, exact up to n*m = 400 (the null
  distribution is counted, not approximated; with ties, over every split of
  the mid-ranks), normal with tie correction above;
* Holm's step-down adjustment across every gating test in the gate;
* sessions and correlated runs (``perfgate.decide.sessions``): the interval
  is widened and the p-value raised to the two-level model's, on Student's t
  (``perfgate.decide.student``);
* values in steps coarser than the threshold (``perfgate.decide.coarse``):
  the effect and interval are the means', and "unchanged" is out of reach.

The rank tests are ``perfgate.decide.ranks``: plain Python floats, no numpy or
scipy (why, and how they are checked against ``scipy.stats``, is said there).

``docs/statistics.md`` explains the rule with a worked example. Nothing here
does I/O, reads a clock, or formats text for people.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from perfgate.decide.coarse import coarse_resolution, mean_shift
from perfgate.decide.modes import bimodal_notes
from perfgate.decide.ranks import EXACT_LIMIT as EXACT_LIMIT  # noqa: PLC0414 -- re-export: part of the rule
from perfgate.decide.ranks import hodges_lehmann as hodges_lehmann  # noqa: PLC0414 -- re-export
from perfgate.decide.ranks import median_of_sorted, min_p, normal_ppf, pairs_of
from perfgate.decide.ranks import p_greater as p_greater  # noqa: PLC0414 -- re-export
from perfgate.decide.sessions import Pooled, SessionModel, pool, session_model, summarize
from perfgate.decide.student import t_ppf, t_sf

Direction = Literal["lower", "higher"]
VerdictName = Literal["regressed", "improved", "changed", "unchanged", "inconclusive"]


@dataclass(frozen=True)
class MetricTest:
    """One (tier, scenario, metric) comparison to decide."""

    baseline: tuple[float, ...]
    current: tuple[float, ...]
    direction: Direction
    threshold_worse: float  # e.g. 0.10 = a 10 % change for the worse matters
    threshold_better: float
    informational: bool = False
    # Sizes, in order, of the runs of ``baseline`` that came from one measuring session; () = one session.
    baseline_sessions: tuple[int, ...] = ()
    # This test's own level for the regression tests (its tier's sequential look share); None = decide()'s alpha.
    level: float | None = None
    # The session offset assumed when the baseline is one session (None: decide()'s default_spread).
    session_spread: float | None = None
    # Tests with one non-empty pool share one session spread and run correlation (a tier's speed figures,
    # or its memory figures: the machine's, not the scenario's, ``perfgate.metrics.session_pool``);
    # "" = this baseline's own (``perfgate.decide.sessions.pool``).
    pool: str = ""


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
    low: float  # its interval, widened by the session model
    high: float
    p_worse: float  # one-sided against no change, deflated by the session model
    p_better: float
    current_logs: list[float]  # the oriented logs, for the noise an inconclusive verdict's estimate needs
    baseline_logs: list[float]
    model: SessionModel
    floor: float  # the smallest p-value these values could give (ties raise it above min_p)
    coarse: str | None  # why the values' steps are too coarse for the threshold (``decide.coarse``), else None


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


def _raw(test: MetricTest, tail: float, default_spread: float, pooled: Pooled | None = None) -> _Raw:
    c = _oriented_logs(test.current, test.direction)
    b = _oriented_logs(test.baseline, test.direction)
    pairs = pairs_of(c, b)
    coarse = coarse_resolution(test.current, test.baseline, min(_bounds(test)))
    if coarse is None:
        effect, low, high = pairs.shift(tail)
    else:
        # Steps too coarse for the median to move: the means do (``perfgate.decide.coarse``).
        shift, below, above = mean_shift(test.current, test.baseline, tail)
        effect, low, high = (shift, below, above) if test.direction == "lower" else (-shift, -above, -below)
    p_worse, p_better = pairs.p_greater(c_greater=True), pairs.p_greater(c_greater=False)
    spread = default_spread if test.session_spread is None else test.session_spread
    model = session_model(c, b, test.baseline_sessions, default_spread=spread, pooled=pooled)
    se = model.standard_error
    if model.inflation > 1.0 + 1e-9 and se > 0:  # 1 up to rounding: independent runs, the rank test alone
        # Sessions or correlated runs: the verdict must hold under the two-level model as well.
        # Student's t on Satterthwaite's degrees of freedom: tau² seen in a few sessions is itself uncertain.
        dof = model.dof
        z = t_ppf(1 - tail, dof)
        low, high = min(low, effect - z * se), max(high, effect + z * se)
        p_worse, p_better = max(p_worse, t_sf(effect / se, dof)), max(p_better, t_sf(-effect / se, dof))
    return _Raw(effect, low, high, p_worse, p_better, c, b, model, pairs.p_floor(), coarse)


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

    Normal approximation on the log scale with a Welch standard error, times
    the session model's inflation: the interval half-width is about
    z * k * sqrt(s_c²/n + s_b²/m) * 1.05 (1.05: the Hodges–Lehmann estimator's
    efficiency relative to the mean). To call a regression (or improvement) the
    estimate must clear 0 with z at the Holm family's first level
    alpha/family, and the interval must clear the threshold with z at the
    interval's level; to call "unchanged", the interval must fit inside the
    nearer threshold. None when the noise is unknown or more current runs alone
    cannot get there (the baseline then needs more runs too).
    """
    # sd of the oriented logs (nan below two values), one sample standing in for the other.
    own_c, own_b = _mean_sd(raw.current_logs)[1], _mean_sd(raw.baseline_logs)[1]
    sd_b = own_b if math.isfinite(own_b) else own_c
    sd_c = own_c if math.isfinite(own_c) else sd_b
    if not (math.isfinite(sd_b) and math.isfinite(sd_c)) or sd_c <= 0:
        return None
    e, k = raw.effect, raw.model.inflation
    level = alpha if interval_alpha is None else interval_alpha
    if e > bound_worse or e < -bound_better:
        past = e - bound_worse if e > bound_worse else -bound_better - e
        needs = [(abs(e), normal_ppf(1 - alpha / family)), (past, normal_ppf(1 - level))]
    elif raw.coarse is not None:
        return None  # "unchanged" is out of reach on steps this coarse, however many runs
    else:
        needs = [(min(bound_worse - e, bound_better + e), normal_ppf(1 - level))]
    totals = []
    for margin, z in needs:
        room = (margin / (z * 1.05 * k)) ** 2 - sd_b**2 / m
        if margin <= 0 or room <= 0:
            return None
        totals.append(math.ceil(sd_c**2 / room))
    total = max(totals)
    # The rank test also needs enough runs for its smallest p-value to clear the level.
    while min_p(total, m) >= alpha / family and total < 1000:
        total += 1
    return max(1, total - n) if total <= 1000 else None


def _pools(tests: Sequence[MetricTest]) -> dict[str, Pooled]:
    """Per pool, the session spread and run correlation its tests' baselines show together."""
    groups: dict[str, list[MetricTest]] = {}
    for t in tests:
        if t.pool:
            groups.setdefault(t.pool, []).append(t)
    return {
        key: pool([summarize(_oriented_logs(t.baseline, t.direction), t.baseline_sessions) for t in group])
        for key, group in groups.items()
    }


def holm_levels(p_values: Sequence[float], levels: Sequence[float], alpha: float) -> list[float]:
    """Holm's step-down over tests with their own levels, as adjusted p-values to compare with ``alpha``.

    Test i is to be spent at ``levels[i]`` (its tier's look share) instead of
    ``alpha``: its p-value is scaled by ``alpha / levels[i]`` before Holm. The
    first true null rejected is then tested at ``levels[i] / N0`` or less, so the
    chance of any false rejection is at most the average level of the true
    nulls — each tier spends only its own look's share. With equal levels this is
    Holm at that level.
    """
    scaled = [min(1.0, p * alpha / level) if level > 0 else 1.0 for p, level in zip(p_values, levels, strict=True)]
    return holm(scaled)


def decide(
    tests: Sequence[MetricTest],
    *,
    alpha: float = 0.05,
    cv_warning: float = 0.10,
    interval_alpha: float | None = None,
    default_spread: float = 0.0,
) -> list[Decision]:
    """Verdicts for every test of one gate; Holm runs over the gating tests together.

    ``default_spread``: the session offset assumed for a one-session baseline
    when a test does not set its own (``perfgate.decide.sessions``; 0, the
    default, adds none: runs of one session compare as independent draws
    unless they are seen to be correlated).
    """
    for t in tests:
        if not t.current or not t.baseline:
            raise ValueError("decide() needs at least one baseline and one current sample per test")
        if not all(math.isfinite(v) and v > 0 for v in (*t.current, *t.baseline)):
            raise ValueError("decide() works on ratios: every value must be finite and positive")
    # A (1 - 2 tail) interval: "unchanged" is then a TOST at level tail, and "regressed" needs the
    # interval wholly past the threshold. A sequential look tests against 0 at a spent share of
    # alpha but keeps the interval's level.
    tail = alpha if interval_alpha is None else interval_alpha
    pooled = _pools(tests)
    raws = [_raw(t, tail, default_spread, pooled.get(t.pool) if t.pool else None) for t in tests]
    gating = [i for i, t in enumerate(tests) if not t.informational]
    levels = [alpha if (level := tests[i].level) is None else level for i in gating]
    adj_worse = dict(zip(gating, holm_levels([raws[i].p_worse for i in gating], levels, alpha), strict=True))
    adj_better = dict(zip(gating, holm_levels([raws[i].p_better for i in gating], levels, alpha), strict=True))
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
    worse, better = p_worse_adj < alpha, p_better_adj < alpha
    within = raw.low > -bound_better and raw.high < bound_worse
    coarse = raw.coarse if within else None

    verdict: VerdictName
    if worse and raw.low > bound_worse:
        verdict = "regressed"
    elif better and raw.high < -bound_better:
        verdict = "improved"
    elif within and coarse is None:
        verdict = "changed" if worse or better else "unchanged"
    else:
        verdict = "inconclusive"
        # Why no verdict: the values cannot reach Holm's first step (α / family), the strictest a test
        # meets. Said only here: a settled verdict needs no excuse, and a significant one met a later step.
        if raw.floor >= (alpha if test.informational else (test.level or alpha) / family) and not (worse or better):
            reasons.append(f"too few samples for α to be reachable (n = {n} vs {m})")
        reasons.append(coarse or _why_inconclusive(raw.effect, bound_worse, bound_better, worse=worse, better=better))
    if raw.model.inflation > 1.05:
        reasons.append(raw.model.note())
    # Modes closer than half the threshold are noted nowhere: they cannot move a verdict that matters.
    reasons.extend(bimodal_notes(test.baseline, test.current, 1 + min(test.threshold_worse, test.threshold_better) / 2))
    needed = (
        runs_needed(
            raw,
            n=n,
            m=m,
            bound_worse=bound_worse,
            bound_better=bound_better,
            alpha=test.level or alpha,
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


def _why_inconclusive(effect: float, bound_worse: float, bound_better: float, *, worse: bool, better: bool) -> str:
    if effect > bound_worse:
        return "worse, maybe past the threshold" if worse else "large change but not significant"
    if effect < -bound_better:
        return "better, maybe past the threshold" if better else "large improvement but not significant"
    return "interval wider than the threshold"
