"""A results or baseline file the gate refused: a ``bad_input`` problem of its tier, decided with the rest.

Pure: the gate is decided from results built in code; the refused files are given as
the problems ``contracts.collect`` and ``load_baselines`` make of them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from support.synthetic import TIERS, baseline_of, make_result

from perfgate.config import GateConfig, TriageConfig
from perfgate.contracts.baseline import baseline_path, load_baselines
from perfgate.contracts.gate import UNKNOWN_TIER, GateReport, GateStatus, Problem
from perfgate.decide.gate import evaluate, group_by_tier
from perfgate.errors import BadFileError, ExitCode, Kind, UsageError
from perfgate.files import write_model
from perfgate.triage.policy import RunContext, findings_from_report, reconcile

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def refused(tier: str = "base") -> Problem:
    return Problem(kind=Kind.BAD_INPUT, tier=tier, message=f"perf-results/results-{tier}.json: invalid results file")


def gate(*, ttft_scale: float = 1.0, problems: tuple[Problem, ...] = (), expect: tuple[str, ...] = ()) -> GateReport:
    result = make_result(seed=2, scale={"ttft_ms": ttft_scale, "e2e_ms": ttft_scale})
    inputs = group_by_tier(
        [("results-pro.json", result)], {"pro": ("baselines/pro.json", baseline_of(make_result(seed=1, n=15)))}, TIERS
    )
    return evaluate(
        inputs, GateConfig(), expect_tiers=expect, created_at="2026-11-28T12:00:00Z", now=NOW, refused=problems
    )


def test_a_refused_file_fails_the_gate_with_bad_input_and_the_other_tier_is_decided():
    report = gate(problems=(refused(),), expect=("base", "pro"))
    assert (report.status, report.exit_code) == (GateStatus.BAD_INPUT, ExitCode.USAGE)
    assert report.headline == "Inputs refused: bad input on base"
    # Its tier is present (shown, failing), not "missing": the expected tier's results were there.
    assert [t.tier for t in report.tiers] == ["pro", "base"]
    assert [p.kind for p in report.problems] == [Kind.BAD_INPUT]
    pro = [v for v in report.verdicts if v.tier == "pro" and not v.informational]
    assert pro
    assert all(v.verdict in ("unchanged", "improved", "changed", "inconclusive") for v in pro)


def test_a_regression_elsewhere_still_says_regression():
    report = gate(ttft_scale=1.6, problems=(refused(),))
    assert (report.status, report.exit_code) == (GateStatus.REGRESSION, ExitCode.REGRESSION)
    assert [p.kind for p in report.problems] == [Kind.BAD_INPUT]


def test_a_file_of_no_known_tier_adds_no_tier_and_hides_no_missing_one():
    report = gate(problems=(refused(UNKNOWN_TIER),), expect=("base", "pro"))
    assert [t.tier for t in report.tiers] == ["pro", "base"]
    assert [(p.kind, p.tier) for p in report.problems] == [(Kind.BAD_INPUT, UNKNOWN_TIER), (Kind.TIER_MISSING, "base")]
    assert report.status is GateStatus.BAD_INPUT


def test_only_refused_files_is_bad_input_not_a_pass_nor_no_results():
    report = evaluate([], GateConfig(), created_at="2026-11-28T12:00:00Z", now=NOW, refused=(refused(UNKNOWN_TIER),))
    assert (report.status, report.exit_code) == (GateStatus.BAD_INPUT, ExitCode.USAGE)


@pytest.mark.parametrize("tier", ["../x", "../../etc/passwd", "a/b", "", ".hidden", "x\n::error::y"])
def test_a_tier_that_is_not_a_name_never_becomes_a_baseline_path(tmp_path, tier):
    with pytest.raises(UsageError, match="cannot name a baseline file"):
        baseline_path(tmp_path / "baselines", tier)


def test_a_broken_baseline_is_its_tiers_problem_in_the_gate_and_an_error_elsewhere(tmp_path):
    write_model(tmp_path / "pro.json", baseline_of(make_result(seed=1, n=15)))
    (tmp_path / "base.json").write_text('{"kind": "perfgate-baseline", "schema_version": 3}', encoding="utf-8")
    with pytest.raises(BadFileError, match=r"base\.json: invalid baseline file"):
        load_baselines(["base", "pro"], tmp_path)
    found = load_baselines(["base", "pro"], tmp_path, refuse_per_tier=True)
    assert isinstance(found["base"], Problem)
    assert (found["base"].kind, found["base"].tier) == (Kind.BAD_INPUT, "base")
    assert not isinstance(found["pro"], Problem)


def entry_for(report: GateReport, tier: str):
    """An open triage entry of ``tier`` (a runtime outage an earlier gate filed)."""
    earlier = report.model_copy(
        update={"problems": (Problem(kind=Kind.RUNTIME_UNAVAILABLE, tier=tier, message="nothing listening"),)}
    )
    context = RunContext(date="2026-11-27T12:00:00Z", is_default_branch=True)
    entries, _ = reconcile([], findings_from_report(earlier, TriageConfig()), earlier, context, TriageConfig())
    return entries


@pytest.mark.parametrize(
    ("refused_tier", "resolved"), [(None, True), ("pro", False), (UNKNOWN_TIER, False), ("base", True)]
)
def test_a_refused_file_files_nothing_and_resolves_nothing_of_its_tier(refused_tier, resolved):
    problems = () if refused_tier is None else (refused(refused_tier),)
    report = gate(problems=problems)
    assert not [f for f in findings_from_report(report, TriageConfig()) if f.tier == refused_tier]
    context = RunContext(date="2026-11-28T12:00:00Z", is_default_branch=True)
    _, actions = reconcile(entry_for(report, "pro"), [], report, context, TriageConfig())
    assert [a.action for a in actions] == (["resolve"] if resolved else [])
