"""The decision benchmark's gates, decided as shipped: fixed n, or one sequential loop per tier, then the gate.

Two rules decide the same simulated gates:

* ``today``: the rule and sequential helpers frozen at commit 847ba02
  (``legacy_rule``), with a baseline of one 15-run session and the gate
  re-testing every tier at the smallest last-look share of α of any tier (what
  ``sequential_alpha`` did);
* ``new``: ``perfgate.decide.stats.decide`` and ``perfgate.decide.sequential``
  as installed, with a baseline of several sessions, its tests built as
  ``decide/pending.py`` builds them: the baseline's session sizes, the
  metric's assumed session spread, and each tier's own level (its look's
  share during its run, its last look's share at the gate), for each of those
  fields the installed ``MetricTest`` has. Without ``level`` the gate uses the
  smallest share, as today; without ``baseline_sessions`` the baseline is pooled.

The sequential policy is ``perfgate/measure/sequential.py``'s loop, run once
per tier as ``perfgate run --until-conclusive`` runs on each tier's runner:
look k decides that tier's tests at ``alpha_at_look(α, k)``; a regression seen
at two consecutive looks, the second after fresh runs of its scenario, is
confirmed; the scenarios ``unsettled_scenarios`` names within the runs left get
``batch_runs`` more; the loop stops when nothing is in doubt, when nothing in
doubt is within reach, or after the last look. Then ``perfgate gate`` decides
every tier together.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import legacy_rule
from decision_noise import BY_KEY, SCENARIOS, TIERS, GateShape, draw, shipped_shape

from perfgate.config.model import GateConfig, PerfgateConfig
from perfgate.contracts.gate import Verdict, VerdictKind
from perfgate.decide import sequential, stats
from perfgate.decide.sequential import SequentialPlan
from perfgate.metrics import session_pool, session_spread_of

ALPHA = GateConfig().alpha
INTERVAL_TAIL = GateConfig().interval_tail  # the installed rule's interval
FIRST_RUNS = PerfgateConfig().runs  # the fixed-n policy's runs, and the sequential policy's first look
TODAY_BASELINE_RUNS = GateConfig().baseline_runs  # one session, as `nox -s baseline` measures it
CHUNK = 100  # gates per task: seeds follow the chunk, so the figures do not depend on --jobs
INJECTED_METRIC = "ttft_ms"  # injected into tier 0, scenario 0
TIER_NAMES = tuple(f"tier{t}" for t in range(TIERS))
SCENARIO_NAMES = tuple(f"scenario{s}" for s in range(SCENARIOS))
POLICIES = ("fixed", "sequential")
RULES = ("today", "new")
METRIC_POLICIES = GateConfig().metrics
NEW_FIELDS = frozenset(f.name for f in dataclasses.fields(stats.MetricTest))


@dataclass(frozen=True)
class Rule:
    """A decision rule and the sequential helpers that go with it."""

    name: str
    metric_test: Callable[..., Any]
    decide: Callable[..., Sequence[Any]]
    alpha_at_look: Callable[[float, int, SequentialPlan], float]
    unsettled_scenarios: Callable[..., set[tuple[str, str]]]
    newly_confirmed: Callable[[Iterable[Verdict], Iterable[Verdict]], set[tuple[str, str, str]]]
    fields: frozenset[str]  # MetricTest's fields beyond today's that the benchmark fills in

    @property
    def levels(self) -> bool:
        """Each tier tested at its own look's level (else every test at the smallest level, as today)."""
        return "level" in self.fields


TODAY = Rule(
    "today",
    legacy_rule.MetricTest,
    legacy_rule.decide,
    legacy_rule.alpha_at_look,
    legacy_rule.unsettled_scenarios,
    legacy_rule.newly_confirmed,
    fields=frozenset(),
)
NEW = Rule(
    "new",
    stats.MetricTest,
    stats.decide,
    sequential.alpha_at_look,
    sequential.unsettled_scenarios,
    sequential.newly_confirmed,
    fields=NEW_FIELDS & {"baseline_sessions", "level", "session_spread", "pool"},
)


@dataclass(frozen=True)
class Task:
    """One chunk of gates of one setting; picklable for the worker processes."""

    noise: str
    shift: float  # injected into tier 0, scenario 0, TTFT; 0 = A/A
    shift_index: int
    chunk: int
    gates: int
    plan: tuple[int, int, float]  # max looks, batch runs, rho
    sessions: int  # the new rule's baseline: sessions × runs each
    session_runs: int
    interval_tail: float = INTERVAL_TAIL  # each tail of the new rule's change interval


@dataclass
class Tally:
    """What one (rule, policy) did over some gates. "Watched" = every test (A/A) or the injected one."""

    gates: int = 0
    flagged: int = 0  # gates with a watched test regressed at the gate
    changed: int = 0  # ... "changed" at the gate (the new rule's verdict)
    confirmed: int = 0  # ... regressed at the gate and confirmed by its tier's run
    at_tier: int = 0  # ... regressed at its tier's last look
    lost: int = 0  # ... regressed at its tier's last look, not at the gate
    verdicts: Counter[str] = field(default_factory=Counter)  # watched tests' final verdicts
    runs: list[int] = field(default_factory=list)  # each scenario's current runs, gate after gate
    decide_seconds: float = 0.0
    decide_calls: int = 0

    def add(self, other: Tally) -> None:
        for name in ("gates", "flagged", "changed", "confirmed", "at_tier", "lost", "decide_seconds", "decide_calls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.verdicts.update(other.verdicts)
        self.runs.extend(other.runs)


@dataclass
class Gate:
    """One simulated gate as one rule sees it: per test, the baseline and every current run."""

    rule: Rule
    shape: GateShape
    baseline: list[tuple[float, ...]]
    extras: list[dict[str, object]]  # per test: the MetricTest fields beyond today's (``test_extras``)
    current: list[list[float]]
    tally: Tally
    interval_tail: float = INTERVAL_TAIL  # the new rule's; today's had alpha in each tail

    def decide(self, tests: Sequence[int], runs: Sequence[int], levels: Mapping[int, float]) -> list[Any]:
        """Decide ``tests`` on each scenario's first ``runs``; ``levels``: a test's own level (α when absent).

        As ``evaluate()`` does: α for the gate, and each test's level in its
        ``MetricTest``; a rule whose ``MetricTest`` takes no level is tested at
        the smallest level of all, as today's gate did.
        """
        shape, rule = self.shape, self.rule
        alpha = ALPHA if rule.levels else min(levels.values(), default=ALPHA)
        made = []
        for i in tests:
            extra = self.extras[i]
            if rule.levels and i in levels:
                extra = {**extra, "level": levels[i]}
            made.append(
                rule.metric_test(
                    self.baseline[i],
                    tuple(self.current[i][: runs[shape.scenario_of[i]]]),
                    shape.directions[i],
                    shape.threshold_worse[i],
                    shape.threshold_better[i],
                    **extra,
                )
            )
        start = time.process_time()  # this worker's CPU, so a busy machine does not inflate it
        tail = self.interval_tail if self.rule is NEW else ALPHA
        decisions = list(self.rule.decide(made, alpha=alpha, interval_alpha=tail))
        self.tally.decide_seconds += time.process_time() - start
        self.tally.decide_calls += 1
        return decisions


def test_extras(rule: Rule, shape: GateShape, sessions: tuple[int, ...]) -> list[dict[str, object]]:
    """Per test, the ``MetricTest`` fields the gate fills in beyond today's (``decide/pending.py``)."""
    extras: list[dict[str, object]] = []
    for i in range(shape.n_tests):
        extra: dict[str, object] = {}
        if "baseline_sessions" in rule.fields:
            extra["baseline_sessions"] = sessions if len(sessions) > 1 else ()
        if "session_spread" in rule.fields:
            metric = shape.metrics[i % len(shape.metrics)]
            configured = getattr(METRIC_POLICIES[metric], "session_spread", None)  # a [gate.metrics] override
            extra["session_spread"] = session_spread_of(metric) if configured is None else configured
        if "pool" in rule.fields:
            extra["pool"] = session_pool(TIER_NAMES[shape.tier_of[i]], shape.metrics[i % len(shape.metrics)])
        extras.append(extra)
    return extras


def key_of(shape: GateShape, i: int) -> tuple[str, str, str]:
    """(tier, scenario, metric) of test i, as a Verdict names it."""
    return (
        TIER_NAMES[shape.tier_of[i]],
        SCENARIO_NAMES[shape.scenario_of[i] % SCENARIOS],
        shape.metrics[i % len(shape.metrics)],
    )


# Every optional field of a Verdict at its default: the looks' verdicts are plain namespaces with
# Verdict's fields (a pydantic model per test and look cost a fifth of the benchmark's time).
_VERDICT_DEFAULTS = {
    name: info.get_default(call_default_factory=True)
    for name, info in Verdict.model_fields.items()
    if not info.is_required()
}


def as_verdict(shape: GateShape, i: int, d: Any) -> Any:
    """A decision as the sequential helpers read a Verdict (the fields ``evaluate()`` fills)."""
    tier, scenario, metric = key_of(shape, i)
    return SimpleNamespace(
        **_VERDICT_DEFAULTS
        | {
            "tier": tier,
            "scenario": scenario,
            "metric": metric,
            "unit": "",
            "direction": shape.directions[i],
            "informational": False,
            "verdict": VerdictKind(d.verdict),
            "threshold_worse": shape.threshold_worse[i],
            "threshold_better": shape.threshold_better[i],
            "baseline_median": d.baseline_median,
            "current_median": d.current_median,
            "change": d.change,
            "change_low": d.change_low,
            "change_high": d.change_high,
            "p_worse": d.p_worse,
            "p_worse_adjusted": d.p_worse_adjusted,
            "baseline_cv": d.baseline_cv,
            "current_cv": d.current_cv,
            "runs_needed": d.runs_needed,
        }
    )


def tier_run(gate: Gate, tier: int, runs: list[int], plan: SequentialPlan) -> tuple[int, list[Any], set[Any]]:
    """``run_until_conclusive`` on one tier: its looks taken, its last look's decisions, its confirmed keys."""
    rule, shape = gate.rule, gate.shape
    tests = [i for i in range(shape.n_tests) if shape.tier_of[i] == tier]
    first = tier * SCENARIOS
    confirmed: set[tuple[str, str, str]] = set()
    previous: list[Verdict] = []
    fresh: set[str] = set()  # scenarios given new runs since the previous look
    k, decisions = 0, []
    for k in range(1, plan.max_looks + 1):
        alpha_k = rule.alpha_at_look(ALPHA, k, plan)
        # A look is evaluate(alpha=alpha_k): every test of the tier at that level.
        decisions = gate.decide(tests, runs, dict.fromkeys(tests, alpha_k))
        verdicts = [as_verdict(shape, i, d) for i, d in zip(tests, decisions, strict=True)]
        # Confirmation needs fresh runs, as in perfgate/measure/sequential.py.
        confirmed |= {key for key in rule.newly_confirmed(previous, verdicts) if key[1] in fresh}
        left = (plan.max_looks - k) * plan.batch_runs
        doubtful = rule.unsettled_scenarios(verdicts, confirmed)
        room = {(TIER_NAMES[tier], name): left for name in SCENARIO_NAMES}
        todo = {name for _, name in rule.unsettled_scenarios(verdicts, confirmed, room)} if left > 0 else set()
        if not doubtful or k == plan.max_looks or not todo:
            break
        previous, fresh = verdicts, todo
        for name in todo:
            runs[first + SCENARIO_NAMES.index(name)] += plan.batch_runs
    return k, decisions, confirmed


def gate_levels(rule: Rule, shape: GateShape, looks: Sequence[int], plan: SequentialPlan) -> dict[int, float]:
    """Each test's level at the gate: its tier's last-look share (``sequential_alpha``)."""
    shares = [rule.alpha_at_look(ALPHA, min(k, plan.max_looks), plan) for k in looks]
    return {i: shares[shape.tier_of[i]] for i in range(shape.n_tests)}


def simulate_gate(gate: Gate, policy: str, plan: SequentialPlan, watched: Sequence[int]) -> None:
    """One gate under one policy, tallied."""
    shape, tally = gate.shape, gate.tally
    runs = [FIRST_RUNS] * (TIERS * SCENARIOS)
    every = range(shape.n_tests)
    at_tier: dict[int, str] = {}
    confirmed: set[tuple[str, str, str]] = set()
    if policy == "fixed":
        final = gate.decide(every, runs, {})
    else:
        looks = []
        for tier in range(TIERS):
            k, decisions, tier_confirmed = tier_run(gate, tier, runs, plan)
            looks.append(k)
            confirmed |= tier_confirmed
            tests = [i for i in every if shape.tier_of[i] == tier]
            at_tier.update((i, d.verdict) for i, d in zip(tests, decisions, strict=True))
        final = gate.decide(every, runs, gate_levels(gate.rule, shape, looks, plan))
    regressed = [i for i in watched if final[i].verdict == "regressed"]
    tally.gates += 1
    tally.flagged += bool(regressed)
    tally.changed += any(final[i].verdict == "changed" for i in watched)
    tally.confirmed += any(key_of(shape, i) in confirmed for i in regressed)
    tally.at_tier += any(at_tier.get(i) == "regressed" for i in watched)
    tally.lost += any(at_tier.get(i) == "regressed" and final[i].verdict != "regressed" for i in watched)
    tally.verdicts.update(final[i].verdict for i in watched)
    tally.runs.extend(runs)


def run_task(task: Task) -> dict[tuple[str, str], Tally]:
    """Every rule and policy over one chunk of gates (the same samples for all four)."""
    noise, shape = BY_KEY[task.noise], shipped_shape()
    plan = SequentialPlan(*task.plan)
    most = FIRST_RUNS + (plan.max_looks - 1) * plan.batch_runs
    # Session 0 is today's whole baseline and the new rule's first session.
    session_runs = (max(task.session_runs, TODAY_BASELINE_RUNS), *[task.session_runs] * (task.sessions - 1))
    injected = shape.test_index(0, 0, INJECTED_METRIC)
    samples = draw(
        noise,
        shape,
        seed=(20_240_601, noise.seed, task.shift_index, task.chunk),
        gates=task.gates,
        session_runs=session_runs,
        current_runs=most,
        injected=(injected, task.shift) if task.shift > 0 else None,
    )
    watched = [injected] if task.shift > 0 else list(range(shape.n_tests))
    sessions = [s.tolist() for s in samples.baseline]
    current = samples.current.tolist()
    tallies = {(rule, policy): Tally() for rule in RULES for policy in POLICIES}
    today_extras = test_extras(TODAY, shape, (TODAY_BASELINE_RUNS,))
    new_extras = test_extras(NEW, shape, (task.session_runs,) * task.sessions)
    for g in range(task.gates):
        today_base = [tuple(row[:TODAY_BASELINE_RUNS]) for row in sessions[0][g]]
        new_base = [tuple(v for s in sessions for v in s[g][i][: task.session_runs]) for i in range(shape.n_tests)]
        for rule, base, extras in ((TODAY, today_base, today_extras), (NEW, new_base, new_extras)):
            for policy in POLICIES:
                gate = Gate(rule, shape, base, extras, current[g], tallies[(rule.name, policy)], task.interval_tail)
                simulate_gate(gate, policy, plan, watched)
    return tallies
