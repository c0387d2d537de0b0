"""Environment vs treatment: what refuses a comparison, and what is compared and listed as a change.

The results and baselines come from ``support.synthetic``; the gate is ``evaluate`` as in test_gate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.synthetic import TIERS, baseline_of, make_baseline, make_result

from perfgate.config import ENVIRONMENT_FIELDS, TREATMENT_FIELDS, GateConfig, PerfgateConfig, load_config
from perfgate.contracts.baseline import Baseline
from perfgate.contracts.gate import Change, GateReport, GateStatus, VerdictKind
from perfgate.contracts.results import RunResult
from perfgate.decide.fingerprint import check_tier, same_model, show_change, show_value
from perfgate.decide.gate import TierInput, evaluate, group_by_tier
from perfgate.errors import Kind
from perfgate.render.text import run_report

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
# What a project that wants the old strictness writes: the environment and the model.
STRICT = GateConfig(must_match=(*ENVIRONMENT_FIELDS, "model", "model_digest"))


def gate(results: list[RunResult], baselines: list[Baseline], *, config: GateConfig | None = None) -> GateReport:
    inputs = group_by_tier(
        [(f"results-{r.tier}-{i}.json", r) for i, r in enumerate(results)],
        {b.tier: (f"baselines/{b.tier}.json", b) for b in baselines},
        TIERS,
    )
    return evaluate(inputs, config or GateConfig(), created_at="2026-11-28T12:00:00Z", now=NOW)


def ttft(report: GateReport, scenario: str = "short-explain", tier: str = "pro") -> VerdictKind:
    (found,) = [v for v in report.verdicts if (v.tier, v.scenario, v.metric) == (tier, scenario, "ttft_ms")]
    return found.verdict


def with_command(result: RunResult, scenario: str, command: str, app_model: str | None = None) -> RunResult:
    """``result`` as if ``scenario`` were an app scenario run with ``command`` (asking for ``app_model``)."""
    scenarios = dict(result.fingerprint.scenarios)
    scenarios[scenario] = scenarios[scenario].model_copy(update={"command": command, "app_model": app_model})
    return result.model_copy(update={"fingerprint": result.fingerprint.model_copy(update={"scenarios": scenarios})})


# ----------------------------------------------------------------- the default split


def test_default_must_match_is_the_environment_and_every_field_is_one_or_the_other():
    assert GateConfig().must_match == ENVIRONMENT_FIELDS == ("chip", "memory_gb", "os_major")
    assert not set(ENVIRONMENT_FIELDS) & set(TREATMENT_FIELDS)
    assert "command" in TREATMENT_FIELDS
    assert "model" in TREATMENT_FIELDS


def test_a_different_model_is_compared_and_listed_as_a_change():
    # the case: baseline on the small model, results on a slower medium one
    slower = make_result(
        seed=2, model="perfgate-medium", model_digest="a" * 64, scale={"ttft_ms": 1.5, "decode_tok_s": 0.4}
    )
    report = gate([slower], [make_baseline(model="perfgate-small")])
    assert report.problems == ()
    assert VerdictKind.INCOMPARABLE not in {v.verdict for v in report.verdicts}
    assert ttft(report) is VerdictKind.REGRESSED
    assert report.status is GateStatus.REGRESSION
    assert report.exit_code == 1
    assert set(report.changes) == {
        Change(tier="pro", field="model", old="perfgate-small", new="perfgate-medium"),
        Change(tier="pro", field="model_digest", old="845dbda0ea48", new="a" * 64),
    }


def test_the_same_model_again_has_no_changes():
    report = gate([make_result(seed=2)], [make_baseline()])
    assert report.changes == ()
    assert report.exit_code == 0


@pytest.mark.parametrize(("field", "value"), [("chip", "Apple M4 Pro"), ("memory_gb", 16.0), ("os_major", "macOS 15")])
def test_a_different_environment_is_still_incomparable(field, value):
    # even a large TTFT regression must not be reported across machines
    current = make_result(seed=2, scale={"ttft_ms": 1.5}, **{field: value})
    report = gate([current], [make_baseline()])
    assert report.verdicts
    assert {v.verdict for v in report.verdicts} == {VerdictKind.INCOMPARABLE}
    assert all(field in v.notes[0] for v in report.verdicts)
    (problem,) = report.problems
    assert problem.kind is Kind.INCOMPARABLE
    assert problem.scenario is None
    assert field in problem.message
    assert problem.message.endswith("; update the baseline")
    assert report.status is GateStatus.COULD_NOT_MEASURE
    assert report.exit_code == 3
    assert report.changes == ()


def test_the_refusal_names_old_and_new_values():
    report = gate([make_result(seed=2, chip="Apple M4 Pro")], [make_baseline()])
    assert report.problems[0].message == (
        "baseline and results differ in chip (Apple M3 Pro → Apple M4 Pro); update the baseline"
    )


def test_an_environment_refusal_and_a_treatment_change_together():
    report = gate([make_result(seed=2, chip="Apple M4 Pro", model="perfgate-medium")], [make_baseline()])
    assert [p.kind for p in report.problems] == [Kind.INCOMPARABLE]
    assert "chip" in report.problems[0].message
    assert "model" not in report.problems[0].message
    assert [c.field for c in report.changes] == ["model"]


def test_a_changed_prompt_is_compared_and_listed_for_its_scenario():
    report = gate([make_result(seed=2, changed_prompts=("prefill",), scale={"ttft_ms": 1.4})], [make_baseline()])
    assert report.problems == ()
    assert ttft(report, "prefill") is VerdictKind.REGRESSED
    (change,) = report.changes
    assert (change.tier, change.scenario, change.field) == ("pro", "prefill", "prompt")
    assert change.new == "f" * 64
    assert change.old is not None
    assert len(change.old) == 64  # the full hash in gate.json; renderers shorten it


def test_treatment_changes_list_runtime_quantization_and_command():
    base = with_command(make_result(seed=1, n=15), "short-explain", "python app.py")
    current = with_command(
        make_result(seed=2, runtime_kind="llamacpp", runtime_version="0.6.0", quantization="Q8_0"),
        "short-explain",
        "python app.py --stream",
    )
    report = gate([current], [baseline_of(base)])
    assert report.problems == ()
    assert [(c.scenario, c.field, c.old, c.new) for c in report.changes] == [
        (None, "runtime_kind", "ollama", "llamacpp"),
        (None, "runtime_version", "0.5.1", "0.6.0"),
        (None, "quantization", "Q4_K_M", "Q8_0"),
        ("short-explain", "command", "python app.py", "python app.py --stream"),
    ]
    # a treatment change is not staleness: no warning repeats it
    assert runtime_warnings(report) == ()


def test_the_model_an_app_asks_for_is_a_treatment_change_even_when_runtime_model_stays():
    # The app switched models; --model (runtime.model) was left alone, so only the proxy saw the change.
    base = with_command(make_result(seed=1, n=15), "short-explain", "python app.py", app_model="qwen2.5:7b")
    current = with_command(make_result(seed=2), "short-explain", "python app.py", app_model="qwen2.5:14b")
    report = gate([current], [baseline_of(base)])
    assert report.problems == ()
    assert [(c.scenario, c.field, c.old, c.new) for c in report.changes] == [
        ("short-explain", "app_model", "qwen2.5:7b", "qwen2.5:14b")
    ]
    # A baseline made before the app's model was recorded has none: nothing to compare, no change listed.
    older = with_command(make_result(seed=1, n=15), "short-explain", "python app.py")
    assert gate([current], [baseline_of(older)]).changes == ()


def test_same_model_reads_an_untagged_ollama_name_as_latest():
    assert same_model("llama3.2", "llama3.2:latest")
    assert same_model("qwen2.5:7b", "qwen2.5:7b")
    assert not same_model("qwen2.5:7b", "qwen2.5:14b")
    assert not same_model("qwen2.5", "qwen2.5:7b")


def test_run_report_notes_an_app_asking_for_another_model_than_runtime_model():
    result = with_command(make_result(seed=2), "short-explain", "python app.py", app_model="qwen2.5:14b")
    text = run_report(result)
    assert (
        "note: scenario short-explain asked the runtime for model qwen2.5:14b, not qwen2.5:7b-instruct-q4_K_M "
        "(runtime.model, whose digest is recorded): set --model to the app's model"
    ) in text
    same = with_command(make_result(seed=2), "short-explain", "python app.py", app_model=result.runtime.model)
    assert "note:" not in run_report(same)


# ----------------------------------------------------------------- today's strictness, by config


def test_a_strict_config_refuses_a_different_model_as_before():
    report = gate(
        [make_result(seed=2, model="perfgate-medium", scale={"ttft_ms": 1.5})], [make_baseline()], config=STRICT
    )
    assert {v.verdict for v in report.verdicts} == {VerdictKind.INCOMPARABLE}
    (problem,) = report.problems
    assert problem.kind is Kind.INCOMPARABLE
    assert "model (qwen2.5:7b-instruct-q4_K_M → perfgate-medium)" in problem.message
    assert report.exit_code == 3
    assert report.changes == ()  # refused, so not listed as a change


def test_a_prompt_that_must_match_makes_only_that_scenario_incomparable():
    config = GateConfig(must_match=(*ENVIRONMENT_FIELDS, "prompt"))
    report = gate([make_result(seed=2, changed_prompts=("prefill",))], [make_baseline()], config=config)
    assert {v.verdict for v in report.verdicts if v.scenario == "prefill"} == {VerdictKind.INCOMPARABLE}
    assert {v.verdict for v in report.verdicts if v.scenario == "short-explain" and not v.informational} == {
        VerdictKind.UNCHANGED
    }
    (problem,) = report.problems
    assert (problem.kind, problem.scenario) == (Kind.INCOMPARABLE, "prefill")
    assert "prompt (sha256 " in problem.message
    assert report.exit_code == 3


def test_a_tier_must_match_from_the_project_file_is_applied(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfgate.tiers.pro]\nmust_match = ["chip", "memory_gb", "os_major", "runtime_version"]\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    config: PerfgateConfig = load_config()
    inputs = group_by_tier(
        [("results-pro.json", make_result(seed=2, runtime_version="0.6.0"))],
        {"pro": ("baselines/pro.json", make_baseline())},
        config.tiers,
    )
    report = evaluate(inputs, config.gate, created_at="2026-11-28T12:00:00Z", now=NOW)
    (problem,) = report.problems
    assert "runtime_version (0.5.1 → 0.6.0)" in problem.message
    assert report.exit_code == 3


# ----------------------------------------------------------------- the sim tier


def test_the_sim_tier_needs_no_host_match_and_compares_treatment_changes():
    baseline = make_baseline(tier="sim")
    assert TIERS["sim"].must_match == ()
    other_host = make_result(
        seed=2, tier="sim", chip="Intel(R) Xeon(R) Processor", memory_gb=8.0, os_major="linux 6", model_digest="0" * 12
    )
    report = gate([other_host], [baseline])
    assert report.problems == ()
    assert VerdictKind.INCOMPARABLE not in {v.verdict for v in report.verdicts}
    assert report.exit_code == 0
    assert [(c.field, c.new) for c in report.changes] == [("model_digest", "0" * 12)]
    # the OS it did not refuse is still worth a word
    assert report.tiers[0].warnings == ("os_major differs from the baseline (macOS 14 → linux 6)",)
    # the same change of host on a hardware tier is refused
    pro = gate([make_result(seed=2, chip="Intel(R) Xeon(R) Processor")], [make_baseline()])
    assert {v.verdict for v in pro.verdicts} == {VerdictKind.INCOMPARABLE}


# ----------------------------------------------------------------- pooled results files


def test_results_files_that_disagree_on_a_treatment_are_not_pooled():
    """A second results file from another model must not be pooled beside the first."""
    matching = make_result(seed=2, created_at="2026-11-27T09:00:00Z")
    other_model = make_result(seed=3, model_digest="0123456789ab", created_at="2026-11-27T08:00:00Z")
    report = gate([matching, other_model], [make_baseline()])
    assert {v.verdict for v in report.verdicts} == {VerdictKind.INCOMPARABLE}
    (problem,) = report.problems
    assert problem.message == (
        "the results files differ among themselves in model_digest (845dbda0ea48 → 0123456789ab); "
        "measure a tier on one setup"
    )
    assert report.exit_code == 3


def test_results_files_that_agree_on_a_change_are_pooled():
    first = make_result(seed=2, model="perfgate-medium", created_at="2026-11-27T09:00:00Z")
    second = make_result(seed=3, model="perfgate-medium", created_at="2026-11-27T08:00:00Z")
    report = gate([first, second], [make_baseline()])
    assert report.problems == ()
    assert [c.field for c in report.changes] == ["model"]


def test_check_tier_on_its_own():
    base = make_result(seed=1).fingerprint
    newer = make_result(seed=2, model="m2", changed_prompts=("prefill",)).fingerprint
    found = check_tier("pro", base, [newer], must_match=("chip", "prompt"))
    assert [(d.scenario, d.field) for d in found.refused] == [("prefill", "prompt")]
    assert found.blocked("prefill") == ["prompt"]
    assert found.blocked("short-explain") == []
    assert [c.field for c in found.changes] == ["model"]
    assert check_tier("pro", base, [], must_match=("chip",)).problems() == []


# ----------------------------------------------------------------- staleness and how values read


def test_an_old_baseline_warns_without_failing_and_a_newer_runtime_is_a_change():
    old = make_baseline(measured_at=(NOW - timedelta(days=100)).isoformat().replace("+00:00", "Z"))
    tier = TierInput("pro", [("results-pro.json", make_result(seed=2, runtime_version="0.6.0"))], ("b.json", old))
    report = evaluate([tier], GateConfig(), created_at="2026-11-28T12:00:00Z", now=NOW)
    assert report.tiers[0].warnings == (
        "baseline is 100 days old (limit 60): refresh it with `nox -s baseline -- --tier pro`",
    )
    assert [(c.field, c.old, c.new) for c in report.changes] == [("runtime_version", "0.5.1", "0.6.0")]
    assert report.problems == ()
    assert report.exit_code == 0


def test_os_major_left_out_of_must_match_warns_instead_of_refusing():
    config = GateConfig(must_match=("chip", "memory_gb"))
    report = gate([make_result(seed=2, os_major="macOS 15")], [make_baseline()], config=config)
    assert report.problems == ()
    assert report.tiers[0].warnings == ("os_major differs from the baseline (macOS 14 → macOS 15)",)
    assert report.changes == ()  # the environment is never a change under test


def test_a_hash_change_reads_short_with_its_algorithm_once():
    assert show_change("prompt", "1a2b3c4d" + "0" * 56, "5e6f7a8b" + "f" * 56) == "sha256 1a2b3c4d → 5e6f7a8b"
    assert show_change("model", "a|b", "c", quote=lambda v: v.replace("|", "\\|")) == "a\\|b → c"


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("prompt", "1a2b3c4d" + "0" * 56, "1a2b3c4d"),
        ("scenario_options", "5e6f7a8b" + "0" * 56, "5e6f7a8b"),
        ("model_digest", "sha256:" + "ab" * 32, "abababababab"),
        ("model", "perfgate-small", "perfgate-small"),
        ("command", "python app.py " + "x" * 100, "python app.py " + "x" * 65 + "…"),
        ("runtime_version", None, "—"),
    ],
)
def test_values_read_short(field, value, shown):
    assert show_value(field, value) == shown


def test_the_strict_toml_in_the_baselines_doc_loads_and_refuses_every_treatment(tmp_path, monkeypatch):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "baselines.md").read_text(encoding="utf-8")
    section = doc.split("### Refusing treatment changes too", 1)[1]
    snippet = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "pyproject.toml").write_text(snippet, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    must_match = load_config().gate.must_match
    assert set(must_match) == set(ENVIRONMENT_FIELDS) | set(TREATMENT_FIELDS)
    report = gate(
        [make_result(seed=2, model="perfgate-medium")], [make_baseline()], config=GateConfig(must_match=must_match)
    )
    assert report.exit_code == 3


# ----------------------------------------------------------------- inherited runtime memory


def _with_runtime(result: RunResult, pid: int, started_at: str) -> RunResult:
    return result.model_copy(
        update={"runtime": result.runtime.model_copy(update={"pid": pid, "started_at": started_at})}
    )


def runtime_warnings(report: GateReport) -> tuple[str, ...]:
    """The tier's warnings but the one-session baseline's note (these baselines are one results file on purpose)."""
    return tuple(w for w in report.tiers[0].warnings if not w.startswith("baseline is one measuring session"))


def test_results_from_the_baselines_own_runtime_process_are_warned_about():
    # The created_at of make_result is 2026-11-27T10:00:00Z; the runtime started just before each run.
    base = baseline_of(_with_runtime(make_result(seed=1, n=15), 4242, "2026-11-27T09:59:30Z"))
    same = _with_runtime(make_result(seed=2), 4242, "2026-11-27T09:59:30Z")
    (warning,) = runtime_warnings(gate([same], [base]))
    assert warning.startswith("results and baseline measured the same runtime process (pid 4242)")
    fresh = _with_runtime(make_result(seed=2), 5151, "2026-11-27T09:59:40Z")
    assert runtime_warnings(gate([fresh], [base])) == ()


def test_a_runtime_serving_long_before_the_run_is_warned_about():
    base = baseline_of(_with_runtime(make_result(seed=1, n=15), 4242, "2026-11-27T09:59:30Z"))
    old = _with_runtime(make_result(seed=2), 5151, "2026-11-27T07:30:00Z")
    (warning,) = runtime_warnings(gate([old], [base]))
    assert warning.startswith("results: the runtime had been serving for 2 h 30 min before the run")


# ----------------------------------------------------------------- unknown facts and the runtime's settings


def _with_fingerprint(result: RunResult, **fields: object) -> RunResult:
    return result.model_copy(update={"fingerprint": result.fingerprint.model_copy(update=fields)})


def _baseline_with(**fields: object) -> Baseline:
    base = make_baseline()
    return base.model_copy(update={"fingerprint": base.fingerprint.model_copy(update=fields)})


def test_a_chip_unknown_on_both_sides_is_incomparable_with_the_field_named():
    report = gate([_with_fingerprint(make_result(seed=2), chip=None)], [_baseline_with(chip=None)])
    assert report.exit_code == 3
    (problem,) = [p for p in report.problems if p.kind is Kind.INCOMPARABLE]
    assert "chip (unknown → unknown)" in problem.message


def test_an_unknown_fact_not_required_to_match_is_no_problem():
    report = gate(
        [_with_fingerprint(make_result(seed=2), chip=None)],
        [_baseline_with(chip=None)],
        config=GateConfig(must_match=("memory_gb", "os_major")),
    )
    assert report.exit_code == 0


def test_a_macos_major_update_is_refused_by_default():
    report = gate(
        [_with_fingerprint(make_result(seed=2), os_major="darwin 15")], [_baseline_with(os_major="darwin 14")]
    )
    assert report.exit_code == 3
    assert any("os_major (darwin 14 → darwin 15)" in p.message for p in report.problems)


SETTINGS = {"OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_NUM_PARALLEL": "unset"}


def test_a_changed_ollama_setting_is_a_treatment_change_listed_with_only_the_setting_that_moved():
    changed = {**SETTINGS, "OLLAMA_KV_CACHE_TYPE": "f16"}
    report = gate(
        [_with_fingerprint(make_result(seed=2), runtime_settings=changed)], [_baseline_with(runtime_settings=SETTINGS)]
    )
    assert report.exit_code == 0
    assert report.changes == (
        Change(
            tier="pro",
            scenario=None,
            field="runtime_settings",
            old="OLLAMA_KV_CACHE_TYPE=q8_0",
            new="OLLAMA_KV_CACHE_TYPE=f16",
        ),
    )


def test_settings_unrecorded_in_an_old_baseline_are_not_a_change_and_unknown_settings_refuse_when_required():
    report = gate([_with_fingerprint(make_result(seed=2), runtime_settings=SETTINGS)], [make_baseline()])
    assert report.changes == ()
    unknown = dict.fromkeys(SETTINGS, "unknown")
    strict = GateConfig(must_match=(*ENVIRONMENT_FIELDS, "runtime_settings"))
    refused = gate(
        [_with_fingerprint(make_result(seed=2), runtime_settings=unknown)],
        [_baseline_with(runtime_settings=unknown)],
        config=strict,
    )
    assert refused.exit_code == 3
    assert any("runtime_settings (unknown → unknown)" in p.message for p in refused.problems)
