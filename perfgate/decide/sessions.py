"""How much session effects and run-to-run correlation widen a comparison (pure).

The rank tests in ``perfgate.decide.ranks`` treat every run as an independent
draw. On a real runner they are not: runs of one *session* (one ``perfgate
run``) share the machine's thermal state, caches and background load, so

* each session has its own offset (a baseline made on Monday and a run on
  Tuesday differ by more than their runs scatter), and
* successive runs are correlated (a warm spell lasts several runs).

Both make the difference of two means less certain than independent draws
would say. This module estimates by how much, on the oriented log scale, from
a two-level model with AR(1) runs inside each session::

    x[s, t] = mu + offset[s] + e[s, t],   offset ~ (0, tau²),
    e[s, t] = phi * e[s, t-1] + noise     (stationary variance sigma²).

The mean of k successive runs then has variance ``tau² + sigma² g(k, phi) / k``
with ``g(k, phi) = 1 + 2 sum_{j<k} (1 - j/k) phi**j`` (the AR(1) design effect).
The current run is one session; a baseline holds ``S`` sessions (its
``sessions`` record). Estimates:

* ``sigma²``: the pooled variance of the runs around their own session's mean;
* ``phi``: the pooled lag-1 autocorrelation of the baseline's deviations,
  corrected for the ``-1/k`` bias a mean-removed series has, used only when
  clearly positive (``_phi``), and at most 0.9;
* ``tau²``: with ``S >= 2`` baseline sessions, the spread of their means beyond
  what ``sigma²`` and ``phi`` explain (method of moments, never below 0); with
  one session it cannot be seen and a documented default is assumed
  (``DEFAULT_SESSION_SPREAD``).

The result is the standard error of the difference of means under this model
and its *inflation*: that standard error over the one independent runs would
have. When the inflation exceeds 1 the decision rule (``perfgate.decide.stats``)
asks the verdict to hold under both views: the rank test's and the model's
t-test (the larger p-value; Student's t on the Satterthwaite degrees of
freedom ``SessionModel.dof``, since tau² seen in few sessions is itself
uncertain), the Moses interval's and the model's (the wider bounds). With
independent runs and no session offsets (inflation 1) the exact rank test is
used alone, as before.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

# Session offset (on the log scale, ~ a CV) assumed for a one-session baseline. Measured:
# see docs/statistics.md "Sessions" for where the figure comes from.
DEFAULT_SESSION_SPREAD = 0.02
MAX_PHI = 0.9


@dataclass(frozen=True)
class SessionModel:
    """What the two-level model says about one comparison."""

    inflation: float  # >= 1: standard error under the model / under independent runs
    sessions: int  # baseline sessions the spread was seen in
    session_spread: float  # tau, estimated (sessions >= 2) or assumed (one session)
    assumed: bool  # tau is the default, not seen in the data
    phi: float  # lag-1 autocorrelation of runs within a session (clipped to [0, MAX_PHI])
    standard_error: float  # of mean(current) - mean(baseline) under the model (nan when unknown)
    dof: float = math.inf  # Satterthwaite's degrees of freedom of that standard error (inf: known)

    def note(self) -> str:
        """Why the interval is wider than the runs alone say (a verdict's reason)."""
        parts = []
        if self.session_spread > 0:
            seen = "assumed: one-session baseline" if self.assumed else f"seen in {self.sessions} baseline sessions"
            parts.append(f"session spread {self.session_spread * 100:.1f} % ({seen})")
        if self.phi > 0:
            parts.append(f"runs correlated (φ {self.phi:.2f})")
        if self.inflation >= 100:
            # Runs that barely vary (memory in whole MB, a cached answer): a ratio to their spread means nothing.
            return "uncertainty set by the sessions, not the runs: " + ", ".join(parts)
        return f"uncertainty ×{self.inflation:.2f}: " + ", ".join(parts)


def design_effect(k: int, phi: float) -> float:
    """``g(k, phi)``: variance of the mean of k AR(1) runs over that of k independent ones."""
    if k <= 1 or phi <= 0:
        return 1.0
    return 1.0 + 2.0 * math.fsum((1.0 - j / k) * phi**j for j in range(1, k))


def split_sessions(values: Sequence[float], sizes: Sequence[int]) -> list[list[float]]:
    """``values`` cut into consecutive sessions of ``sizes`` (one session when sizes do not add up)."""
    if not sizes or sum(sizes) != len(values) or any(s <= 0 for s in sizes):
        return [list(values)]
    out: list[list[float]] = []
    start = 0
    for size in sizes:
        out.append(list(values[start : start + size]))
        start += size
    return out


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


@dataclass(frozen=True)
class BaselineSessions:
    """What one baseline's sessions say about session spread and run-to-run correlation.

    Kept as sums so that several baselines can be pooled (``pool``): one
    metric's session spread and correlation are properties of the machine, so a
    tier's scenarios share them.
    """

    sizes: tuple[int, ...]  # runs per session, in order
    means: tuple[float, ...]  # per session
    sum_sq: float  # of the runs around their own session's mean
    lagged: float  # sum of products of successive deviations within a session


def summarize(baseline: Sequence[float], baseline_sessions: Sequence[int] = ()) -> BaselineSessions:
    """One baseline's oriented logs, cut into its sessions and summed."""
    sessions = [g for g in split_sessions(baseline, baseline_sessions) if g]
    deviations = [[v - _mean(g) for v in g] for g in sessions]
    return BaselineSessions(
        sizes=tuple(len(g) for g in sessions),
        means=tuple(_mean(g) for g in sessions),
        sum_sq=math.fsum(d * d for group in deviations for d in group),
        lagged=math.fsum(a * b for group in deviations for a, b in itertools.pairwise(group)),
    )


@dataclass(frozen=True)
class Pooled:
    """``phi`` and ``tau²`` as a group of baselines shows them together (``pool``)."""

    phi: float  # clipped to [0, MAX_PHI]; 0 when not clearly positive
    tau2: float | None  # None when no baseline of the group has two sessions
    dof: int  # sessions less one, summed: how well tau² is known


def _phi(summaries: Sequence[BaselineSessions]) -> float:
    """Lag-1 autocorrelation of the runs around their sessions' means, or 0 when not clearly there.

    Only the baseline's sessions are long enough to show it (a current run of
    5 says almost nothing). Each baseline's own ratio is averaged, weighted by
    its pairs (their scales differ); the ``-1/k`` bias of a mean-removed series
    is added back, and the estimate is used only when it clears
    ``2 / sqrt(pairs)`` (a one-sided 2.5 % test): a chance positive value would
    widen every interval for nothing.
    """
    weighted, pairs, bias = 0.0, 0, 0.0
    for one in summaries:
        own = sum(max(0, k - 1) for k in one.sizes)
        if one.sum_sq <= 0 or own == 0:
            continue
        weighted += own * one.lagged / one.sum_sq
        bias += own * len(one.sizes) / sum(one.sizes)
        pairs += own
    if pairs < 8:
        return 0.0
    estimate = (weighted + bias) / pairs
    return min(MAX_PHI, estimate) if estimate > 2 / math.sqrt(pairs) else 0.0


def pool(summaries: Sequence[BaselineSessions]) -> Pooled:
    """``phi``, then ``tau²`` by the method of moments, from baselines that share them.

    ``tau²`` of one baseline is the spread of its session means beyond what its
    runs explain. Three sessions give it two degrees of freedom, and it then
    comes out 0 in about a quarter of baselines whose sessions do differ: every
    such test would read a session offset as a change. Pooled over a tier's
    scenarios (``MetricTest.pool``) it has six. The group's estimates are
    averaged before clipping at 0, weighted by their degrees of freedom.
    """
    phi = _phi(summaries)
    excess, dof = 0.0, 0
    for one in summaries:
        count = len(one.sizes)
        runs_dof = sum(one.sizes) - count
        if count < 2 or runs_dof <= 0:
            continue
        within = one.sum_sq / runs_dof
        grand = _mean(one.means)
        between = math.fsum((x - grand) ** 2 for x in one.means) / (count - 1)
        explained = _mean([within * design_effect(k, phi) / k for k in one.sizes])
        excess += (count - 1) * (between - explained)
        dof += count - 1
    return Pooled(phi, max(0.0, excess / dof) if dof else None, dof)


def session_model(
    current: Sequence[float],
    baseline: Sequence[float],
    baseline_sessions: Sequence[int] = (),
    *,
    default_spread: float = DEFAULT_SESSION_SPREAD,
    pooled: Pooled | None = None,
) -> SessionModel:
    """The inflation factor for comparing the mean of ``current`` (one session) with ``baseline``'s.

    ``current`` and ``baseline`` are oriented log values in run order;
    ``baseline_sessions`` the sizes of the baseline's sessions, in order.
    ``pooled``: ``phi`` and ``tau²`` of the group this baseline belongs to
    (``pool``); None = this baseline's own.
    """
    sessions = split_sessions(baseline, baseline_sessions)
    groups = [s for s in (*sessions, list(current)) if s]
    deviations = [[v - _mean(g) for v in g] for g in groups]
    dof = sum(len(g) - 1 for g in groups)
    sum_sq = math.fsum(d * d for group in deviations for d in group)
    n, m, count = len(current), len(baseline), len(sessions)
    if dof <= 0 or sum_sq <= 0:
        # No spread within sessions (or one value each): nothing to scale; say so with factor 1.
        spread = default_spread if count < 2 else 0.0
        return SessionModel(1.0, count, spread, count < 2, 0.0, math.nan)
    within = sum_sq / dof
    if pooled is None:
        pooled = pool([summarize(baseline, baseline_sessions)])
    phi = pooled.phi
    if count >= 2 and pooled.tau2 is not None:
        tau2, assumed = pooled.tau2, False
    else:
        tau2, assumed = default_spread**2, True
    # Variance of mean(current) - mean(baseline sessions' runs), each session weighted by its runs.
    tau_part = tau2 * (1.0 + math.fsum(len(s) ** 2 for s in sessions) / m**2)
    runs_part = within * design_effect(n, phi) / n
    runs_part += within * math.fsum(len(s) * design_effect(len(s), phi) for s in sessions) / m**2
    model = tau_part + runs_part
    independent = within / n + within / m
    inflation = max(1.0, math.sqrt(model / independent))
    # An estimated tau² is known to only `pooled.dof` degrees of freedom; the runs' variance to `dof`.
    tau_dof = math.inf if assumed or pooled.dof <= 0 else pooled.dof
    satterthwaite = model**2 / (tau_part**2 / tau_dof + runs_part**2 / dof)
    return SessionModel(inflation, count, math.sqrt(tau2), assumed, phi, math.sqrt(model), satterthwaite)
