"""The A/B re-measure's decisions, file, table and triage, on pairs built in code (no process, no socket)."""

from __future__ import annotations

import dataclasses

import pytest
from support.synthetic import samples_from

from perfgate.commands.triage import load_confirmations, with_ab_status
from perfgate.config import GateConfig, TriageConfig, load_config
from perfgate.contracts.confirmation import (
    Checkout,
    Confirmation,
    ConfirmationStatus,
    MeasuredPair,
    PairedOutcome,
    ScenarioConfirmation,
    load_confirmation,
)
from perfgate.contracts.gate import GateReport, GateStatus, TierSummary, Verdict, VerdictKind
from perfgate.contracts.results import Failure, HostInfo
from perfgate.decide.ab import flagged, is_flagged, paired_change, paired_verdicts, status
from perfgate.errors import BadFileError, ConfigError, Kind
from perfgate.files import write_model
from perfgate.measure.abtest import pair_order
from perfgate.render.confirmation import confirmation_text
from perfgate.render.summary import TriageRow
from perfgate.triage.ab import apply_confirmations
from perfgate.triage.policy import RunContext, findings_from_report, reconcile, should_file

GATE = GateConfig()
SHA_A, SHA_B = "a" * 40, "b" * 40


def measured_pairs(
    a_e2e: list[float], b_e2e: list[float], **extra: tuple[list[float], list[float]]
) -> list[MeasuredPair]:
    a = samples_from({"e2e_ms": a_e2e, **{m: v[0] for m, v in extra.items()}})
    b = samples_from({"e2e_ms": b_e2e, **{m: v[1] for m, v in extra.items()}})
    return [MeasuredPair(index=i, order="AB" if i % 2 == 0 else "BA", a=a[i], b=b[i]) for i in range(len(a_e2e))]


A = [300.0, 302.0, 299.0, 301.0, 303.0, 298.0, 300.0, 301.0]
SLOWER = [v * 1.2 + i for i, v in enumerate(A)]
SAME = [v + (1 if i % 2 else -1) for i, v in enumerate(A)]


# ---------------------------------------------------------------- the order of the runs


def test_pairs_alternate_which_side_runs_first():
    assert [pair_order(i) for i in range(4)] == [("A", "B"), ("B", "A"), ("A", "B"), ("B", "A")]


# ---------------------------------------------------------------- verdicts from pairs


def test_a_slower_current_commit_is_confirmed_on_its_metric():
    verdicts = {v.metric: v for v in paired_verdicts(measured_pairs(A, SLOWER), GATE)}
    e2e = verdicts["e2e_ms"]
    assert e2e.outcome is PairedOutcome.CONFIRMED
    assert e2e.confirmed
    assert e2e.n_pairs == 8
    assert e2e.unit == "ms"
    assert 0.19 < (e2e.change or 0) < 0.23
    assert e2e.a_median == pytest.approx(300.5)


def test_the_same_commit_twice_is_not_confirmed():
    (e2e,) = [v for v in paired_verdicts(measured_pairs(A, SAME), GATE) if v.metric == "e2e_ms"]
    assert e2e.outcome is PairedOutcome.WITHIN_THRESHOLD
    assert not e2e.confirmed


def test_a_metric_measured_on_one_side_only_is_missing_and_one_never_measured_is_left_out():
    pairs = measured_pairs(A, SLOWER, ttft_ms=([20.0] * 8, [None] * 8))  # type: ignore[list-item]
    verdicts = {v.metric: v for v in paired_verdicts(pairs, GATE)}
    assert verdicts["ttft_ms"].outcome is PairedOutcome.MISSING
    assert "prefill_tok_s" not in verdicts  # no sample of either side has it


def test_informational_metrics_follow_the_gate_and_the_tier():
    pairs = measured_pairs(A, SLOWER, peak_runtime_rss_mb=([500.0] * 8, [600.0] * 8))
    verdicts = {v.metric: v for v in paired_verdicts(pairs, GATE)}
    assert not verdicts["peak_runtime_rss_mb"].informational
    on_sim = {v.metric: v for v in paired_verdicts(pairs, GATE, tier_informational=("peak_runtime_rss_mb",))}
    assert on_sim["peak_runtime_rss_mb"].informational
    assert not on_sim["peak_runtime_rss_mb"].confirmed  # informational: never confirms


def test_status_a_confirmed_regression_outranks_a_failure():
    scenario = ScenarioConfirmation(
        scenario="chat",
        command="python app.py",
        pairs_planned=8,
        warmups=1,
        pairs=tuple(measured_pairs(A, SLOWER)),
        verdicts=paired_verdicts(measured_pairs(A, SLOWER), GATE),
    )
    failure = Failure(kind=Kind.APP_FAILED, message="it broke", scenario="chat")
    assert status([scenario], [failure]) == (ConfirmationStatus.CONFIRMED, 1)
    same = scenario.model_copy(update={"verdicts": paired_verdicts(measured_pairs(A, SAME), GATE)})
    assert status([same], [failure]) == (ConfirmationStatus.COULD_NOT_MEASURE, 3)
    assert status([same], []) == (ConfirmationStatus.NOT_CONFIRMED, 0)


# ---------------------------------------------------------------- what a gate report flags


def verdict(scenario: str, metric: str, kind: VerdictKind, change: float, *, informational: bool = False) -> Verdict:
    return Verdict(
        tier="sim",
        scenario=scenario,
        metric=metric,
        unit="ms",
        direction="higher" if metric.endswith("_tok_s") else "lower",
        informational=informational,
        verdict=kind,
        threshold_worse=0.10,
        threshold_better=0.10,
        change=change,
        change_low=change - 0.05,
        change_high=change + 0.05,
        p_worse=0.001,
        p_worse_adjusted=0.01,
    )


def report(*verdicts: Verdict, git_sha: str | None = SHA_B) -> GateReport:
    return GateReport(
        perfgate_version="0.1.0",
        created_at="2026-12-01T00:00:00Z",
        alpha=0.05,
        status=GateStatus.REGRESSION,
        exit_code=1,
        headline="test",
        tiers=(TierSummary(tier="sim", results_files=("results-sim.json",), git_sha=git_sha),),
        verdicts=verdicts,
    )


def test_regressed_and_suspected_gating_verdicts_are_flagged():
    assert is_flagged(verdict("chat", "e2e_ms", VerdictKind.REGRESSED, 0.2))
    assert is_flagged(verdict("chat", "e2e_ms", VerdictKind.INCONCLUSIVE, 0.15))  # past the threshold
    assert is_flagged(verdict("chat", "decode_tok_s", VerdictKind.INCONCLUSIVE, -0.15))
    assert not is_flagged(verdict("chat", "e2e_ms", VerdictKind.INCONCLUSIVE, 0.05))
    assert not is_flagged(verdict("chat", "e2e_ms", VerdictKind.REGRESSED, 0.2, informational=True))
    assert not is_flagged(verdict("chat", "e2e_ms", VerdictKind.UNCHANGED, 0.0))


def test_only_app_scenarios_are_re_measured_and_the_rest_is_named():
    gate = report(
        verdict("chat", "e2e_ms", VerdictKind.REGRESSED, 0.2),
        verdict("chat", "ttft_ms", VerdictKind.REGRESSED, 0.3),
        verdict("short", "ttft_ms", VerdictKind.REGRESSED, 0.3),
        verdict("other", "ttft_ms", VerdictKind.UNCHANGED, 0.0),
    )
    found = flagged(gate, "sim", {"chat", "other"})
    assert found.scenarios == {"chat": ("e2e_ms", "ttft_ms")}
    assert found.not_remeasured == ("sim/short/ttft_ms",)
    assert flagged(gate, "pro", {"chat"}).scenarios == {}


# ---------------------------------------------------------------- the file, the table


def confirmation(b_e2e: list[float], *, current_sha: str | None = SHA_B, created_at: str = "2026-12-01T01:00:00Z"):
    pairs = measured_pairs(A, b_e2e)
    scenario = ScenarioConfirmation(
        scenario="chat",
        command="python app.py",
        pairs_planned=8,
        warmups=1,
        pairs=tuple(pairs),
        flagged=("e2e_ms",),
        verdicts=paired_verdicts(pairs, GATE),
    )
    outcome, code = status([scenario], [])
    return Confirmation(
        perfgate_version="0.1.0",
        created_at=created_at,
        command="perfgate confirm --scenario chat",
        tier="sim",
        host=HostInfo(label="vm", os="linux", os_version="6.1", chip=None, memory_bytes=None),
        base=Checkout(git_sha=SHA_A, source="baselines/sim.json provenance"),
        current=Checkout(git_sha=current_sha, source="working directory"),
        alpha=0.05,
        interval_alpha=0.05,
        status=outcome,
        exit_code=code,
        scenarios=(scenario,),
    )


def test_the_file_round_trips_and_a_bad_one_is_named(tmp_path):
    path = tmp_path / "confirmation-sim.json"
    write_model(path, confirmation(SLOWER))
    assert load_confirmation(path) == confirmation(SLOWER)
    (tmp_path / "gate.json").write_text('{"kind": "perfgate-gate"}', encoding="utf-8")
    (tmp_path / "other.json").write_text("[1, 2]", encoding="utf-8")
    assert [c for _, c in load_confirmations([tmp_path])] == [confirmation(SLOWER)]  # others passed over
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1, "kind": "perfgate-confirmation", "tier": "sim"}', encoding="utf-8")
    with pytest.raises(BadFileError, match=r"broken\.json"):
        load_confirmations([tmp_path])


def test_the_table_names_the_commits_and_the_verdict():
    text = confirmation_text(confirmation(SLOWER))
    assert "A = aaaaaaaaaa" in text
    assert "B = bbbbbbbbbb" in text
    assert "confirmed regression" in text
    assert "A/B re-measure confirms a regression: e2e_ms +" in text
    lines = [line for line in text.splitlines() if line.startswith("e2e_ms")]
    assert len(lines) == 1
    same = confirmation_text(confirmation(SAME))
    assert "not confirmed (within threshold)" in same
    assert "not confirmed, no gating metric" in same


def test_paired_change_reads_like_the_gates():
    (e2e,) = [v for v in confirmation(SLOWER).scenarios[0].verdicts if v.metric == "e2e_ms"]
    assert paired_change(e2e).startswith("+2")
    assert paired_change(e2e.model_copy(update={"change_low": None})).endswith("[unbounded]")


# ---------------------------------------------------------------- triage


CONFIG = TriageConfig()  # confirm_regressions on: a fixed-n regression alone is only suspected


def test_a_regression_the_re_measure_refutes_is_never_filed_and_says_why():
    gate = report(verdict("chat", "e2e_ms", VerdictKind.REGRESSED, 0.2))
    findings = apply_confirmations(findings_from_report(gate, CONFIG), [("c.json", confirmation(SAME))], gate).findings
    (finding,) = findings
    assert finding.refuted == "not confirmed by A/B re-measure (within threshold)"
    assert "not confirmed by A/B re-measure" in finding.summary
    context = RunContext(date="2026-12-01", is_default_branch=True)
    assert not should_file(finding, context, CONFIG)
    entries, actions = reconcile([], findings, gate, context, CONFIG)
    assert entries == []
    assert actions == []
    row = TriageRow("P2", finding.summary, "impact", "QA", "Suspected (filed once confirmed by more runs)")
    (shown,) = with_ab_status([row], findings)
    assert shown.status == "Not filed: not confirmed by A/B re-measure (within threshold)"


def test_a_regression_the_re_measure_confirms_is_filed_even_before_a_sequential_run_confirms_it():
    gate = report(verdict("chat", "e2e_ms", VerdictKind.REGRESSED, 0.2))
    plain = findings_from_report(gate, CONFIG)
    assert not plain[0].confirmed  # suspected: a fixed-n run
    (finding,) = apply_confirmations(plain, [("c.json", confirmation(SLOWER))], gate).findings
    assert finding.confirmed
    assert finding.refuted is None
    assert "confirmed by A/B re-measure: +" in finding.summary
    _, actions = reconcile([], [finding], gate, RunContext(date="2026-12-01", is_default_branch=True), CONFIG)
    assert [a.action for a in actions] == ["open"]


def test_a_regression_not_re_measured_is_filed_as_before():
    gate = report(verdict("short", "ttft_ms", VerdictKind.REGRESSED, 0.3))
    plain = findings_from_report(gate, CONFIG)
    assert apply_confirmations(plain, [("c.json", confirmation(SAME))], gate).findings == plain


def test_a_confirmation_of_another_commit_is_not_used_and_says_so():
    gate = report(verdict("chat", "e2e_ms", VerdictKind.REGRESSED, 0.2), git_sha="c" * 40)
    applied = apply_confirmations(findings_from_report(gate, CONFIG), [("c.json", confirmation(SAME))], gate)
    assert applied.findings[0].refuted is None
    assert applied.notes == [
        "c.json: re-measured commit bbbbbbbbbbbb, not the commit of tier sim's results (cccccccccccc); "
        "not used for triage"
    ]


def test_the_newest_confirmation_of_a_metric_wins():
    gate = report(verdict("chat", "e2e_ms", VerdictKind.REGRESSED, 0.2))
    older = confirmation(SAME, created_at="2026-12-01T01:00:00Z")
    newer = confirmation(SLOWER, created_at="2026-12-01T02:00:00Z")
    plain = findings_from_report(gate, CONFIG)
    (finding,) = apply_confirmations(plain, [("new.json", newer), ("old.json", older)], gate).findings
    assert finding.confirmed
    assert finding.refuted is None
    assert dataclasses.replace(finding, summary="") != dataclasses.replace(plain[0], summary="")


# ---------------------------------------------------------------- config


def test_the_confirm_table_has_defaults_and_bounds():
    confirm = load_config(environ={}).gate.confirm
    assert (confirm.when, confirm.pairs, confirm.warmup) == ("default-branch", 8, 1)
    set_by_env = load_config(environ={"PERFGATE_GATE__CONFIRM__PAIRS": "12", "PERFGATE_GATE__CONFIRM__WHEN": "always"})
    assert (set_by_env.gate.confirm.pairs, set_by_env.gate.confirm.when) == (12, "always")
    with pytest.raises(ConfigError, match=r"gate\.confirm\.pairs"):
        load_config(environ={"PERFGATE_GATE__CONFIRM__PAIRS": "1"})
    with pytest.raises(ConfigError, match=r"gate\.confirm\.when"):
        load_config(environ={"PERFGATE_GATE__CONFIRM__WHEN": "sometimes"})
