"""The gate's decision over whole tiers: ``evaluate`` on results and baselines built in code.

The results and baselines come from ``support.synthetic`` (where these builders used to live).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.synthetic import MEMORY_REASON, SCENARIOS, TIERS, baseline_of, make_baseline, make_result

from perfgate.config import GateConfig, MetricPolicy, PerfgateConfig
from perfgate.contracts.baseline import Baseline
from perfgate.contracts.gate import GateReport, GateStatus, Problem, Verdict, VerdictKind
from perfgate.contracts.results import Failure, LoadedResults, RunResult
from perfgate.decide.gate import compare_results, evaluate, gate_status, group_by_tier
from perfgate.decide.sequential import SequentialPlan, alpha_at_look
from perfgate.errors import Kind
from perfgate.render.cells import look_alpha_note

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def gate(
    results: list[RunResult],
    baselines: list[Baseline],
    *,
    config: GateConfig | None = None,
    expect_tiers: tuple[str, ...] = (),
) -> GateReport:
    inputs = group_by_tier(
        [(f"results-{r.tier}-{i}.json", r) for i, r in enumerate(results)],
        {b.tier: (f"baselines/{b.tier}.json", b) for b in baselines},
        TIERS,
    )
    return evaluate(
        inputs, config or GateConfig(), expect_tiers=expect_tiers, created_at="2026-11-28T12:00:00Z", now=NOW
    )


def verdict(report: GateReport, metric: str, scenario: str = "short-explain", tier: str = "pro") -> Verdict:
    (found,) = [v for v in report.verdicts if (v.tier, v.scenario, v.metric) == (tier, scenario, metric)]
    return found


def gating(report: GateReport) -> list[Verdict]:
    return [v for v in report.verdicts if not v.informational]


# ----------------------------------------------------------------- verdicts and status


def test_ttft_regression_of_30_percent_fails_the_gate():
    report = gate([make_result(seed=2, scale={"ttft_ms": 1.3})], [make_baseline()])
    assert report.status is GateStatus.REGRESSION
    assert report.exit_code == 1
    assert re.fullmatch(
        r"2 suspected regressions: TTFT \+(2[6-9]|3[0-4]) % on pro/(short-explain|prefill) \(and 1 more\)",
        report.headline,
    )
    for scenario in SCENARIOS:
        ttft = verdict(report, "ttft_ms", scenario)
        assert ttft.verdict is VerdictKind.REGRESSED
        assert ttft.change == pytest.approx(0.30, abs=0.04)
        assert ttft.change_low is not None
        assert ttft.change_low > 0.10
        assert ttft.p_worse_adjusted is not None
        assert ttft.p_worse_adjusted < report.alpha
        assert (ttft.n_baseline, ttft.n_current) == (15, 10)
        assert ttft.baseline_median == pytest.approx(120, rel=0.03)
        assert ttft.current_median == pytest.approx(156, rel=0.03)
    others = [v for v in gating(report) if v.metric != "ttft_ms"]
    assert others
    assert {v.verdict for v in others} == {VerdictKind.UNCHANGED}
    assert report.problems == ()


def test_single_regression_headline_names_metric_tier_and_scenario():
    report = gate([make_result(seed=2, scenarios=("short-explain",), scale={"ttft_ms": 1.3})], [make_baseline()])
    assert re.fullmatch(r"1 suspected regression: TTFT \+(2[6-9]|3[0-4]) % on pro/short-explain", report.headline)
    assert report.exit_code == 1


def test_a_a_passes_with_every_gating_metric_unchanged():
    report = gate([make_result(seed=2)], [make_baseline()])
    assert report.status is GateStatus.PASS
    assert report.exit_code == 0
    assert report.headline == "No regressions on 1 tier"
    decided = gating(report)
    # ttft, e2e, decode, prefill in each of the two scenarios: these synthetic results are macOS ones, where
    # the footprint is the memory figure that gates (RSS is informational there) and none was measured.
    assert len(decided) == 8
    assert {v.verdict for v in decided} == {VerdictKind.UNCHANGED}
    assert all(v.p_worse is not None and v.p_worse_adjusted is not None for v in decided)
    assert report.problems == ()
    assert report.tiers[0].warnings == ()
    assert report.tiers[0].baseline_file == "baselines/pro.json"


def test_falling_throughput_regresses_falling_latency_improves():
    report = gate(
        [make_result(seed=2, scenarios=("short-explain",), scale={"decode_tok_s": 0.8, "ttft_ms": 0.7})],
        [make_baseline()],
    )
    decode = verdict(report, "decode_tok_s")
    ttft = verdict(report, "ttft_ms")
    assert decode.direction == "higher"
    assert decode.verdict is VerdictKind.REGRESSED
    assert decode.change == pytest.approx(-0.20, abs=0.03)
    assert ttft.direction == "lower"
    assert ttft.verdict is VerdictKind.IMPROVED
    assert ttft.change == pytest.approx(-0.30, abs=0.03)
    assert report.exit_code == 1
    assert re.fullmatch(r"1 suspected regression: decode tok/s -\d\d % on pro/short-explain", report.headline)


def test_rising_throughput_is_an_improvement_not_a_regression():
    report = gate([make_result(seed=2, scale={"decode_tok_s": 1.25})], [make_baseline()])
    assert verdict(report, "decode_tok_s").verdict is VerdictKind.IMPROVED
    assert report.exit_code == 0
    assert report.headline == "No regressions on 1 tier (2 improvements)"


# ----------------------------------------------------------------- could not measure


def test_runtime_unavailable_is_could_not_measure_never_unchanged():
    failed = make_result(
        seed=2,
        scenarios=(),
        failures=(Failure(kind=Kind.RUNTIME_UNAVAILABLE, message="nothing listening on 127.0.0.1:11434"),),
    )
    report = gate([failed], [make_baseline()])
    assert report.status is GateStatus.COULD_NOT_MEASURE
    assert report.exit_code == 3
    assert [p.kind for p in report.problems] == [Kind.RUNTIME_UNAVAILABLE]
    assert report.problems[0].message == "nothing listening on 127.0.0.1:11434"
    assert report.headline == "Could not measure: runtime unavailable on pro"
    # every metric the baseline holds still gets a verdict, and none of them pretends to be a decision
    assert {(v.scenario, v.metric) for v in report.verdicts} >= {(s, "ttft_ms") for s in SCENARIOS}
    assert {v.verdict for v in report.verdicts} <= {VerdictKind.MISSING, VerdictKind.ERROR}
    assert all(v.n_current == 0 and v.n_baseline == 15 for v in report.verdicts)
    assert all(v.change is None for v in report.verdicts)


def test_failure_mid_scenario_makes_its_verdicts_errors():
    partial = make_result(
        seed=2,
        n=3,
        scenarios=("short-explain",),  # the run stopped there: prefill never ran
        failures=(
            Failure(
                kind=Kind.RUNTIME_ERROR,
                message="runtime error: boom",
                scenario="short-explain",
                iteration=3,
            ),
        ),
    )
    report = gate([partial], [make_baseline()])
    assert report.exit_code == 3
    assert report.status is GateStatus.COULD_NOT_MEASURE
    short = [v for v in report.verdicts if v.scenario == "short-explain"]
    assert short
    assert {v.verdict for v in short} == {VerdictKind.ERROR}
    assert all(v.notes == ("runtime error: boom",) for v in short)
    assert all(v.n_current == 3 for v in short)  # the samples are kept, but not judged
    prefill = [v for v in report.verdicts if v.scenario == "prefill"]
    assert prefill
    assert {v.verdict for v in prefill} == {VerdictKind.MISSING}
    assert [(p.kind, p.scenario) for p in report.problems] == [(Kind.RUNTIME_ERROR, "short-explain")]


def test_failure_mid_scenario_hides_a_regression_instead_of_judging_partial_samples():
    partial = make_result(
        seed=2,
        scale={"ttft_ms": 1.5},
        failures=(Failure(kind=Kind.TIMEOUT, message="read timeout", scenario="prefill", iteration=9),),
    )
    report = gate([partial], [make_baseline()])
    assert verdict(report, "ttft_ms", "prefill").verdict is VerdictKind.ERROR
    # the scenario that finished is still decided, and its regression still fails the gate
    assert verdict(report, "ttft_ms", "short-explain").verdict is VerdictKind.REGRESSED
    assert report.exit_code == 1
    assert [p.kind for p in report.problems] == [Kind.TIMEOUT]


def test_memory_unavailable_leaves_memory_missing_and_decides_the_rest():
    result = make_result(seed=2, memory=False, failures=(Failure(kind=Kind.MEMORY_UNAVAILABLE, message=MEMORY_REASON),))
    report = gate([result], [make_baseline()])
    rss = verdict(report, "peak_runtime_rss_mb")
    assert rss.verdict is VerdictKind.MISSING
    assert rss.notes == (MEMORY_REASON,)
    assert (rss.n_baseline, rss.n_current) == (15, 0)
    combined = verdict(report, "peak_combined_rss_mb")
    assert combined.verdict is VerdictKind.MISSING
    assert combined.notes == ("not measured",)  # the reason is about the runtime's memory only
    for metric in ("ttft_ms", "e2e_ms", "decode_tok_s", "prefill_tok_s", "peak_harness_rss_mb"):
        assert verdict(report, metric).verdict is VerdictKind.UNCHANGED, metric
    assert [p.kind for p in report.problems] == [Kind.MEMORY_UNAVAILABLE]
    assert report.exit_code == 3


def test_baseline_missing_is_exit_3_with_missing_verdicts():
    report = gate([make_result(seed=2)], [])
    assert report.status is GateStatus.COULD_NOT_MEASURE
    assert report.exit_code == 3
    assert [p.kind for p in report.problems] == [Kind.BASELINE_MISSING]
    assert "'pro'" in report.problems[0].message
    assert {v.verdict for v in report.verdicts} == {VerdictKind.MISSING}
    assert {v.notes for v in report.verdicts} == {("no baseline",)}
    assert report.headline == "Could not measure: baseline missing on pro"


def test_a_scenario_not_in_the_baseline_is_missing():
    report = gate([make_result(seed=2)], [make_baseline(scenarios=("short-explain",))])
    assert {v.verdict for v in report.verdicts if v.scenario == "prefill"} == {VerdictKind.MISSING}
    assert {v.notes for v in report.verdicts if v.scenario == "prefill"} == {("not in the baseline",)}
    assert {v.verdict for v in gating(report) if v.scenario == "short-explain"} == {VerdictKind.UNCHANGED}


# ----------------------------------------------------------------- informational metrics


def test_informational_metric_regressing_does_not_fail_the_gate():
    report = gate([make_result(seed=2, scale={"client_decode_tok_s": 0.7})], [make_baseline()])
    client = verdict(report, "client_decode_tok_s")
    assert client.verdict is VerdictKind.REGRESSED
    assert client.informational
    assert report.status is GateStatus.PASS
    assert report.exit_code == 0
    assert report.headline == "No regressions on 1 tier"


def test_sim_tier_memory_is_informational_but_gates_on_hardware_tiers():
    grown = {"peak_runtime_rss_mb": 1.5, "peak_combined_rss_mb": 1.5}
    sim = gate([make_result(seed=2, tier="sim", scale=grown)], [make_baseline(tier="sim")])
    rss = verdict(sim, "peak_runtime_rss_mb", tier="sim")
    assert rss.verdict is VerdictKind.REGRESSED
    assert rss.informational
    assert sim.exit_code == 0
    pro = gate([make_result(seed=2, scale=grown)], [make_baseline()])
    # On macOS the footprint gates and RSS is shown beside it (docs/metrics.md) ...
    assert verdict(pro, "peak_runtime_rss_mb").informational
    assert pro.exit_code == 0
    # ... on Linux RSS is the figure that gates.
    linux = make_result(seed=2, scale=grown)
    linux = linux.model_copy(update={"host": linux.host.model_copy(update={"os": "linux", "os_version": "6.8.0"})})
    on_linux = gate([linux], [make_baseline()])
    assert not verdict(on_linux, "peak_runtime_rss_mb").informational
    assert on_linux.exit_code == 1


def test_informational_metrics_stay_out_of_the_holm_family():
    plain = gate([make_result(seed=2, scale={"ttft_ms": 1.3})], [make_baseline()])
    noisy_info = gate(
        [make_result(seed=2, scale={"ttft_ms": 1.3, "client_decode_tok_s": 0.7, "itl_ms_p50": 1.4})],
        [make_baseline()],
    )
    assert verdict(plain, "ttft_ms").p_worse_adjusted == verdict(noisy_info, "ttft_ms").p_worse_adjusted


# ----------------------------------------------------------------- tiers


def test_regression_beats_a_missing_tier_but_the_problem_is_listed():
    report = gate([make_result(seed=2, scale={"ttft_ms": 1.3})], [make_baseline()], expect_tiers=("pro", "base"))
    assert report.status is GateStatus.REGRESSION
    assert report.exit_code == 1
    assert [(p.kind, p.tier) for p in report.problems] == [(Kind.TIER_MISSING, "base")]
    assert [t.tier for t in report.tiers] == ["pro", "base"]


def test_expected_tier_without_results_is_exit_3():
    report = gate([make_result(seed=2)], [make_baseline()], expect_tiers=("pro", "base"))
    assert report.status is GateStatus.COULD_NOT_MEASURE
    assert report.exit_code == 3
    (problem,) = report.problems
    assert (problem.kind, problem.tier) == (Kind.TIER_MISSING, "base")
    assert "'base'" in problem.message
    assert report.headline == "Could not measure: tier missing on base"


def test_two_tiers_are_decided_in_one_gate():
    report = gate(
        [make_result(seed=2), make_result(seed=3, tier="base", chip="Apple M2", scale={"e2e_ms": 1.3})],
        [make_baseline(), make_baseline(tier="base", chip="Apple M2")],
        expect_tiers=("pro", "base"),
    )
    assert report.exit_code == 1
    assert re.fullmatch(
        r"2 suspected regressions: end-to-end latency \+(2[6-9]|3[0-4]) % on base/.+ \(and 1 more\)", report.headline
    )
    assert {v.verdict for v in gating(report) if v.tier == "pro"} == {VerdictKind.UNCHANGED}


# ----------------------------------------------------------------- inconclusive


def test_fail_on_inconclusive_exits_4_only_when_asked():
    noisy = make_result(seed=2, scenarios=("short-explain",), cv={"ttft_ms": 0.35})
    default = gate([noisy], [make_baseline(scenarios=("short-explain",))])
    assert verdict(default, "ttft_ms").verdict is VerdictKind.INCONCLUSIVE
    assert any("noisy current" in note for note in verdict(default, "ttft_ms").notes)
    assert default.status is GateStatus.PASS
    assert default.exit_code == 0
    assert default.headline == "No regressions on 1 tier (1 inconclusive)"
    strict = gate([noisy], [make_baseline(scenarios=("short-explain",))], config=GateConfig(fail_on_inconclusive=True))
    assert strict.status is GateStatus.INCONCLUSIVE
    assert strict.exit_code == 4
    assert strict.headline == "Inconclusive: 1 gating metric need more runs"


def test_inconclusive_informational_metric_does_not_exit_4():
    noisy_info = make_result(seed=2, cv={"client_decode_tok_s": 0.35})
    report = gate([noisy_info], [make_baseline()], config=GateConfig(fail_on_inconclusive=True))
    assert verdict(report, "client_decode_tok_s").verdict is VerdictKind.INCONCLUSIVE
    assert report.exit_code == 0


def test_compare_results_is_the_gate_on_loaded_files_and_their_baselines():
    # What `perfgate compare` and a sequential run's look both decide, with no file read.
    config = PerfgateConfig()
    loaded = [LoadedResults(Path("results-pro.json"), make_result(seed=2, scale={"ttft_ms": 1.3}))]
    baselines = {"pro": ("baselines/pro.json", make_baseline())}
    report = compare_results(loaded, baselines, config, created_at="2026-11-28T12:00:00Z", now=NOW)
    inputs = group_by_tier([("results-pro.json", loaded[0].result)], baselines, config.tiers)
    assert report == evaluate(inputs, config.gate, created_at="2026-11-28T12:00:00Z", now=NOW)
    assert report.status is GateStatus.REGRESSION
    assert report.tiers[0].baseline_file == "baselines/pro.json"

    at_look = compare_results(loaded, baselines, config, created_at="t", now=NOW, look_alpha=0.002)
    assert (at_look.alpha, at_look.look_alpha) == (config.gate.alpha, 0.002)

    missing = Problem(kind=Kind.BASELINE_MISSING, tier="pro", message="baselines/pro.json: no baseline")
    report = compare_results(loaded, {"pro": missing}, config, created_at="t", now=NOW, expect_tiers=("pro", "base"))
    assert [(p.kind, p.tier) for p in report.problems] == [(Kind.BASELINE_MISSING, "pro"), (Kind.TIER_MISSING, "base")]


def test_gate_status_precedence():
    config = GateConfig(fail_on_inconclusive=True)
    regressed = verdict(gate([make_result(seed=2, scale={"ttft_ms": 1.3})], [make_baseline()]), "ttft_ms")
    inconclusive = regressed.model_copy(update={"verdict": VerdictKind.INCONCLUSIVE})
    problem = Problem(kind=Kind.TIMEOUT, tier="pro", message="read timeout")
    assert gate_status([regressed, inconclusive], [problem], config)[1] == 1
    assert gate_status([inconclusive], [problem], config)[1] == 3
    assert gate_status([inconclusive], [], config)[1] == 4
    assert gate_status([inconclusive], [], GateConfig())[1] == 0
    info = regressed.model_copy(update={"informational": True})
    assert gate_status([info], [], config)[1] == 0


# ----------------------------------------------------------------- Holm over the whole gate

TTFT_ONLY = GateConfig(metrics={"ttft_ms": MetricPolicy(threshold_worse=0.10, threshold_better=0.10)})
BORDERLINE = {"e2e_ms": [500.0, 502.0, 504.0, 506.0]}


def borderline_result(
    ttft: list[float], *, tier: str = "pro", extra: dict[str, list[float]] | None = None
) -> RunResult:
    return make_result(
        seed=0, tier=tier, scenarios=("short-explain",), columns={**BORDERLINE, "ttft_ms": ttft, **(extra or {})}
    )


def test_holm_spans_tiers_a_borderline_regression_alone_is_regressed_not_among_many():
    # 4 vs 4 fully separated samples: the smallest one-sided p Mann–Whitney can give, 1/70.
    before, after = [100.0, 101.0, 102.0, 103.0], [130.0, 131.0, 132.0, 133.0]
    alone = gate([borderline_result(after)], [baseline_of(borderline_result(before))], config=TTFT_ONLY)
    ttft = verdict(alone, "ttft_ms")
    assert ttft.p_worse == pytest.approx(1 / 70)
    assert ttft.verdict is VerdictKind.REGRESSED
    assert alone.exit_code == 1

    others = [f"t{i}" for i in range(9)]
    steady = [101.5, 100.5, 102.5, 99.5]
    crowd = gate(
        [borderline_result(after)] + [borderline_result(steady, tier=t) for t in others],
        [baseline_of(borderline_result(before))] + [baseline_of(borderline_result(before, tier=t)) for t in others],
        config=TTFT_ONLY,
    )
    in_crowd = verdict(crowd, "ttft_ms")
    assert in_crowd.p_worse == ttft.p_worse
    assert in_crowd.p_worse_adjusted == pytest.approx(10 / 70)
    assert in_crowd.verdict is VerdictKind.INCONCLUSIVE
    assert "large change but not significant" in in_crowd.notes
    assert crowd.exit_code == 0


def test_holm_spans_metrics_too():
    before, after = [100.0, 101.0, 102.0, 103.0], [130.0, 131.0, 132.0, 133.0]
    same = {
        "decode_tok_s": [45.0, 45.2, 44.8, 45.1],
        "prefill_tok_s": [900.0, 905.0, 895.0, 902.0],
    }
    metrics = {
        name: MetricPolicy(threshold_worse=0.10, threshold_better=0.10)
        for name in ("ttft_ms", "e2e_ms", "decode_tok_s", "prefill_tok_s")
    }
    report = gate(
        [borderline_result(after, extra={"e2e_ms": [501.0, 503.0, 505.0, 507.0], **same})],
        [baseline_of(borderline_result(before, extra=same))],
        config=GateConfig(metrics=metrics),
    )
    ttft = verdict(report, "ttft_ms")
    assert ttft.p_worse_adjusted == pytest.approx(4 / 70)  # > 0.05: four tests share the budget
    assert ttft.verdict is VerdictKind.INCONCLUSIVE
    assert report.exit_code == 0


# ----------------------------------------------------------------- staleness


def test_fresh_baseline_has_no_warnings_and_summary_names_the_setup():
    report = gate([make_result(seed=2)], [make_baseline()])
    (tier,) = report.tiers
    assert tier.warnings == ()
    assert tier.runtime == "ollama 0.5.1"
    assert tier.chip == "Apple M3 Pro"
    assert tier.results_files == ("results-pro-0.json",)
    assert tier.baseline_created_at == "2026-11-20T10:00:00Z"


# ----------------------------------------------------------------- app scenarios


def _as_app(result: RunResult, scenario: str, command: str = "python bench.py") -> RunResult:
    """``result`` with ``scenario`` made an app scenario (its command in the samples' scenario and fingerprint)."""
    scenarios = tuple(s.model_copy(update={"command": command}) if s.name == scenario else s for s in result.scenarios)
    prints = dict(result.fingerprint.scenarios)
    prints[scenario] = prints[scenario].model_copy(update={"command": command})
    return result.model_copy(
        update={"scenarios": scenarios, "fingerprint": result.fingerprint.model_copy(update={"scenarios": prints})}
    )


def test_combined_rss_gates_in_an_app_scenario_and_only_informs_in_perfgates_own():
    # App + runtime memory is what an app team reports; perfgate's own + runtime is not what it ships.
    base = baseline_of(_as_app(make_result(seed=1, n=15), "prefill"))
    current = _as_app(make_result(seed=2, scale={"peak_combined_rss_mb": 1.2}), "prefill")
    report = gate([current], [base])
    app = verdict(report, "peak_combined_rss_mb", "prefill")
    own = verdict(report, "peak_combined_rss_mb", "short-explain")
    assert (app.verdict, app.informational) == (VerdictKind.REGRESSED, False)
    assert (own.verdict, own.informational) == (VerdictKind.REGRESSED, True)
    assert report.exit_code == 1
    assert [(v.scenario, v.metric) for v in gating(report) if v.verdict is VerdictKind.REGRESSED] == [
        ("prefill", "peak_combined_rss_mb")
    ]


def test_configured_informational_wins_over_the_app_scenario_default():
    config = GateConfig(
        metrics={**GateConfig().metrics, "peak_combined_rss_mb": MetricPolicy(
            threshold_worse=0.05, threshold_better=0.05, informational=True)}
    )  # fmt: skip
    base = baseline_of(_as_app(make_result(seed=1, n=15), "prefill"))
    current = _as_app(make_result(seed=2, scale={"peak_combined_rss_mb": 1.2}), "prefill")
    report = gate([current], [base], config=config)
    assert verdict(report, "peak_combined_rss_mb", "prefill").informational
    assert report.exit_code == 0


def test_a_one_session_baseline_is_named_in_the_tier_warnings_and_a_three_session_one_is_not():
    one = gate([make_result(seed=2)], [make_baseline(sessions=1)])
    assert any(w.startswith("baseline is one measuring session") for w in one.tiers[0].warnings)
    assert one.tiers[0].baseline_sessions == 1
    three = gate([make_result(seed=2)], [make_baseline(sessions=3)])
    assert not any(w.startswith("baseline is one measuring session") for w in three.tiers[0].warnings)
    assert three.tiers[0].baseline_sessions == 3


def test_each_tier_is_tested_at_its_own_look_share(tmp_path):
    """A tier whose sequential run took 5 looks is not held to the level of a tier that took 2."""
    plan = SequentialPlan(5, 3, 2.0)
    levels = {"pro": alpha_at_look(0.05, 5, plan), "base": alpha_at_look(0.05, 2, plan)}
    inputs = group_by_tier(
        [
            ("r-pro.json", make_result(seed=2, tier="pro", scale={"ttft_ms": 1.3})),
            ("r-base.json", make_result(seed=3, tier="base")),
        ],
        {t: (f"baselines/{t}.json", make_baseline(tier=t)) for t in ("pro", "base")},
        TIERS,
    )
    inputs = [replace(t, level=levels[t.tier]) for t in inputs]
    report = evaluate(inputs, GateConfig(), created_at="t", now=NOW)
    assert {t.tier: t.look_alpha for t in report.tiers} == levels
    assert report.look_alpha == min(levels.values())
    ttft = next(v for v in report.verdicts if (v.tier, v.scenario, v.metric) == ("pro", "short-explain", "ttft_ms"))
    # Holm over the gate with the pro tier's own level: its p is scaled by alpha / level before the step-down.
    assert ttft.p_worse is not None
    assert ttft.p_worse_adjusted is not None
    gating = [v for v in report.verdicts if not v.informational and v.p_worse is not None]
    assert ttft.p_worse_adjusted == pytest.approx(min(1.0, len(gating) * ttft.p_worse * 0.05 / levels["pro"]))
    assert ttft.verdict is VerdictKind.REGRESSED
    text = look_alpha_note(report)
    assert "each tier's regressions tested at its last look's share" in text
    assert f"pro α = {levels['pro']:.4f}" in text
