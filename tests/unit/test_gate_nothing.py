"""The gate never passes on nothing: what it could not compare is a problem with a reason, never exit 0.

Each case is a results file (built in code) the gate once passed on, with its exact
problem message. Values a results file could not hold once samples are validated
on reading (NaN, infinities, zero, negative) are put in with ``model_copy``, which
skips validation: the gate must hold whatever gets past the door.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.docs import quoted
from support.synthetic import TIERS, baseline_of, make_baseline, make_result, write_baselines

from perfgate.cli import main
from perfgate.config import GateConfig, MetricPolicy
from perfgate.contracts.baseline import Baseline
from perfgate.contracts.gate import GateReport, GateStatus, Verdict, VerdictKind
from perfgate.contracts.results import Failure, LoadedResults, RunResult, ScenarioResult
from perfgate.decide.coverage import compared_anything, problems_from_results
from perfgate.decide.gate import evaluate, group_by_tier
from perfgate.errors import Kind
from perfgate.files import write_model

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
RESULTS = "results-pro-0.json"
BASELINE = "baselines/pro.json"


def gate(results: list[RunResult], baselines: list[Baseline], *, config: GateConfig | None = None) -> GateReport:
    inputs = group_by_tier(
        [(f"results-{r.tier}-{i}.json", r) for i, r in enumerate(results)],
        {b.tier: (f"baselines/{b.tier}.json", b) for b in baselines},
        TIERS,
    )
    return evaluate(inputs, config or GateConfig(), created_at="2026-11-28T12:00:00Z", now=NOW)


def verdict(report: GateReport, metric: str, scenario: str = "short-explain") -> Verdict:
    (found,) = [v for v in report.verdicts if (v.scenario, v.metric) == (scenario, metric)]
    return found


def messages(report: GateReport) -> list[str]:
    return [p.message for p in report.problems]


def assert_could_not_measure(report: GateReport, *lines: str) -> None:
    """Exit 3 with exactly these problems, all ``measurement_missing``."""
    assert (report.status, report.exit_code) == (GateStatus.COULD_NOT_MEASURE, 3)
    assert messages(report) == list(lines)
    assert {p.kind for p in report.problems} == {Kind.MEASUREMENT_MISSING}
    assert report.headline == "Could not measure: measurement missing on pro"


def with_values(result: RunResult, metric: str, values: list[float], scenario: str = "short-explain") -> RunResult:
    """``result`` with one metric of one scenario replaced, unvalidated (as a file could once hold it)."""
    scenarios = [
        s.model_copy(
            update={"samples": tuple(x.model_copy(update={metric: v}) for x, v in zip(s.samples, values, strict=True))}
        )
        if s.name == scenario
        else s
        for s in result.scenarios
    ]
    return result.model_copy(update={"scenarios": tuple(scenarios)})


def no_valid(metric: str, scenario: str = "short-explain") -> str:
    return (
        f"pro/{scenario}: {metric} has no valid value in the results (absent, NaN, infinite, zero or negative) "
        f"but {BASELINE} has; measure again, or update the baseline if it is gone for good"
    )


def test_the_a_a_gate_still_passes():
    report = gate([make_result(seed=2)], [make_baseline()])
    assert (report.status, report.exit_code, report.problems) == (GateStatus.PASS, 0, ())
    assert compared_anything(report)


def test_a_gate_of_no_tier_at_all_never_passes():
    report = gate([], [])
    assert (report.status, report.exit_code, report.headline) == (
        GateStatus.COULD_NOT_MEASURE,
        3,
        "Could not measure: no results",
    )


def test_results_that_ran_no_scenario_are_one_problem():
    report = gate([make_result(seed=2, scenarios=())], [make_baseline()])
    assert_could_not_measure(report, f"pro: {RESULTS} measured no scenario and recorded no failure; run it again")
    assert not compared_anything(report)


def test_results_that_ran_no_scenario_without_a_baseline_still_say_so():
    report = gate([make_result(seed=2, scenarios=())], [])
    assert report.exit_code == 3
    assert [p.kind for p in report.problems] == [Kind.BASELINE_MISSING, Kind.MEASUREMENT_MISSING]


def test_a_scenario_with_no_sample_is_a_problem():
    result = make_result(seed=2)
    empty = result.scenarios[1].model_copy(update={"samples": ()})
    report = gate([result.model_copy(update={"scenarios": (result.scenarios[0], empty)})], [make_baseline()])
    assert_could_not_measure(report, f"pro/prefill: no sample in {RESULTS} and no failure recorded; run it again")
    assert verdict(report, "ttft_ms", "prefill").notes == ("not measured",)
    assert verdict(report, "ttft_ms").verdict is VerdictKind.UNCHANGED


@pytest.mark.parametrize(
    ("values", "note"),
    [
        pytest.param([math.nan] * 10, "no valid value", id="all-nan"),
        pytest.param([math.inf] * 10, "no valid value", id="all-inf"),
        pytest.param([0.0] * 10, "no valid value", id="all-zero"),
        pytest.param([-120.0] * 10, "no valid value", id="all-negative"),
        pytest.param([None] * 10, "not measured", id="absent-from-every-sample"),
    ],
)
def test_a_gating_metric_with_no_valid_value_is_a_problem(values, note):
    report = gate([with_values(make_result(seed=2), "ttft_ms", values)], [make_baseline()])
    assert_could_not_measure(report, no_valid("ttft_ms"))
    ttft = verdict(report, "ttft_ms")
    assert (ttft.verdict, ttft.notes, ttft.n_current) == (VerdictKind.MISSING, (note,), 0)
    assert report.problems[0].metric == "ttft_ms"
    assert verdict(report, "ttft_ms", "prefill").verdict is VerdictKind.UNCHANGED


def test_two_metrics_missing_in_one_scenario_are_one_line():
    result = with_values(make_result(seed=2), "ttft_ms", [None] * 10)
    result = with_values(result, "decode_tok_s", [math.nan] * 10)
    report = gate([result], [make_baseline()])
    line = (
        f"pro/short-explain: ttft_ms, decode_tok_s have no valid value in the results (absent, NaN, infinite, zero "
        f"or negative) but {BASELINE} has; measure again, or update the baseline if it is gone for good"
    )
    assert_could_not_measure(report, line)
    assert report.problems[0].metric is None


def test_an_informational_metric_with_no_value_is_not_a_problem():
    report = gate([with_values(make_result(seed=2), "client_decode_tok_s", [None] * 10)], [make_baseline()])
    assert (report.exit_code, report.problems) == (0, ())
    assert verdict(report, "client_decode_tok_s").verdict is VerdictKind.MISSING


def test_one_invalid_sample_is_left_out_and_said():
    values = [120.0 * (1 + 0.01 * i) for i in range(10)]
    values[3] = math.nan
    report = gate([with_values(make_result(seed=2), "ttft_ms", values)], [make_baseline()])
    ttft = verdict(report, "ttft_ms")
    assert ttft.n_current == 9
    assert "1 invalid value left out" in ttft.notes
    assert ttft.verdict is not VerdictKind.MISSING
    assert report.problems == ()


def test_a_scenario_dropped_from_the_results_is_a_problem():
    report = gate([make_result(seed=2, scenarios=("short-explain",))], [make_baseline()])
    assert_could_not_measure(
        report,
        f"pro/prefill: in {BASELINE} but in no results file (renamed, dropped or not run); run it, or update the "
        "baseline with perfgate baseline update",
    )
    assert {v.notes for v in report.verdicts if v.scenario == "prefill"} == {("not in the results",)}


def test_a_renamed_scenario_is_a_problem_not_a_pass():
    renamed = make_result(seed=2, scenarios=("short-explain", "prefill-v2"))
    report = gate([renamed], [make_baseline()])
    assert_could_not_measure(
        report,
        f"pro/prefill: in {BASELINE} but in no results file (renamed, dropped or not run); run it, or update the "
        "baseline with perfgate baseline update",
    )
    assert {v.notes for v in report.verdicts if v.scenario == "prefill-v2"} == {("not in the baseline",)}


def test_a_baseline_metric_with_no_valid_value_is_a_problem():
    held = make_baseline()
    broken = {**held.samples, "short-explain": {**held.samples["short-explain"], "ttft_ms": (math.nan,) * 15}}
    report = gate([make_result(seed=2)], [held.model_copy(update={"samples": broken})])
    assert_could_not_measure(
        report,
        f"pro/short-explain: {BASELINE} holds no valid value of ttft_ms (NaN, infinite, zero or negative); make it "
        "again with perfgate baseline update",
    )
    assert verdict(report, "ttft_ms").notes == ("no valid baseline value",)


def test_results_holding_the_baselines_own_samples_measure_nothing_new():
    source = make_result(seed=1, n=15)
    report = gate([source], [baseline_of(source)])
    assert_could_not_measure(
        report,
        f"pro: {RESULTS} holds the samples {BASELINE} was made from, not a new measurement; run perfgate run on "
        "this change",
    )
    assert report.tiers[0].results_files == ()


def test_the_baselines_own_samples_beside_a_new_run_are_left_out_with_a_warning():
    source = make_result(seed=1, n=15)
    report = gate([source, make_result(seed=2)], [baseline_of(source)])
    assert (report.exit_code, report.problems) == (0, ())
    assert report.tiers[0].results_files == ("results-pro-1.json",)
    assert f"{RESULTS} left out: it holds the samples {BASELINE} was made from" in report.tiers[0].warnings
    assert verdict(report, "ttft_ms").n_current == 10


def test_a_tier_where_nothing_was_compared_is_a_problem():
    # The one gating metric is in the results but not in the baseline: a verdict "missing", nothing decided.
    only_ttft = GateConfig(metrics={"ttft_ms": MetricPolicy(threshold_worse=0.1, threshold_better=0.1)})
    held = make_baseline()
    without = {name: {m: v for m, v in metrics.items() if m != "ttft_ms"} for name, metrics in held.samples.items()}
    report = gate([make_result(seed=2)], [held.model_copy(update={"samples": without})], config=only_ttft)
    assert_could_not_measure(
        report,
        f"pro: nothing compared: no gating metric has valid values in both the results and {BASELINE}",
    )
    assert not compared_anything(report)


def test_a_stopped_run_is_its_failure_alone():
    failed = make_result(
        seed=2,
        scenarios=("short-explain",),
        failures=(Failure(kind=Kind.STREAM_TRUNCATED, message="stream ended early", scenario="short-explain"),),
    )
    report = gate([failed], [make_baseline()])
    assert [p.kind for p in report.problems] == [Kind.STREAM_TRUNCATED]
    assert report.exit_code == 3


def test_problems_from_results_alone_name_empty_runs_and_scenarios():
    empty = make_result(seed=2, scenarios=())
    result = make_result(seed=3, tier="base")
    hollow = ScenarioResult.model_validate({**result.scenarios[0].model_dump(), "samples": ()})
    partial = result.model_copy(update={"scenarios": (hollow, result.scenarios[1])})
    loaded = [LoadedResults(Path("a.json"), empty), LoadedResults(Path("b.json"), partial)]
    assert [p.message for p in problems_from_results(loaded, ())] == [
        "base/short-explain: no sample in b.json and no failure recorded; run it again",
        "pro: a.json measured no scenario and recorded no failure; run it again",
    ]


# ----------------------------------------------------------------- the lines docs/troubleshooting.md quotes


def _put(root: Path, name: str, result: RunResult) -> None:
    path = root / "perf-results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_model(path, result)


def _hollow(root: Path) -> None:
    result = make_result(seed=2)
    _put(root, "results-pro.json", result.model_copy(update={"scenarios": (result.scenarios[0].model_copy(
        update={"samples": ()}), result.scenarios[1])}))  # fmt: skip


def _stray(root: Path) -> None:
    _put(root, "results-pro.json", make_result(seed=2))
    (root / "perf-results" / "notes.json").write_bytes(b"\xff\xfe")


def _stale(root: Path) -> None:
    _put(root, "results-pro.json", make_result(seed=2))
    old = make_result(seed=3, created_at="2026-11-20T09:00:00Z").model_copy(update={"git_sha": "0dd5a1e"})
    _put(root, "results-pro-old.json", old)


def _copy(root: Path) -> None:
    _put(root, "results-pro.json", make_result(seed=2))
    _put(root, "perf-pro-20261127-100000.json", make_result(seed=2))


DOCUMENTED = [
    pytest.param(lambda root: (root / "perf-results").mkdir(), "perf-results: no results files", 3, id="empty"),
    pytest.param(lambda root: None, "perf-resluts: no such directory", 2, id="mistyped"),
    pytest.param(lambda root: _put(root, "results-pro.json", make_result(seed=2, scenarios=("short-explain",))),
                 "pro/prefill: in baselines/pro.json", 3, id="dropped"),
    pytest.param(lambda root: _put(root, "results-pro.json", with_values(make_result(seed=2), "ttft_ms", [None] * 10)),
                 "pro/short-explain: ttft_ms has no valid value", 3, id="no-valid-value"),
    pytest.param(_hollow, "pro/short-explain: no sample in", 3, id="no-sample"),
    pytest.param(lambda root: _put(root, "results-pro.json", make_result(seed=2, scenarios=())),
                 "pro: perf-results/results-pro.json measured no scenario", 3, id="no-scenario"),
    pytest.param(lambda root: _put(root, "results-pro.json", make_result(seed=1, n=15)),
                 "pro: perf-results/results-pro.json holds the samples", 3, id="baseline-own"),
    pytest.param(_stale, "perf-results/results-pro-old.json: left out: stale", 0, id="stale"),
    pytest.param(_copy, "perf-results/results-pro.json: left out: a copy", 0, id="copy"),
    pytest.param(_stray, "perf-results/notes.json: skipped", 0, id="stray"),
]  # fmt: skip


@pytest.mark.parametrize(("setup", "prefix", "code"), DOCUMENTED)
def test_the_troubleshooting_page_quotes_what_the_gate_prints(  # noqa: PLR0917 -- pytest fixtures and params
    tmp_path, capsys, monkeypatch, setup, prefix, code
):
    monkeypatch.chdir(tmp_path)
    write_baselines(tmp_path / "baselines", make_baseline(sessions=1))  # one session: baseline-own's results file
    setup(tmp_path)
    directory = "perf-resluts" if prefix.startswith("perf-resluts") else "perf-results"
    assert main(["gate", "--results-dir", directory]) == code
    assert f"perfgate: {quoted(prefix)}" in capsys.readouterr().err.splitlines()


def test_the_troubleshooting_page_quotes_nothing_compared():
    only_ttft = GateConfig(metrics={"ttft_ms": MetricPolicy(threshold_worse=0.1, threshold_better=0.1)})
    held = make_baseline()
    without = {name: {m: v for m, v in metrics.items() if m != "ttft_ms"} for name, metrics in held.samples.items()}
    report = gate([make_result(seed=2)], [held.model_copy(update={"samples": without})], config=only_ttft)
    assert messages(report) == [quoted("pro: nothing compared")]
