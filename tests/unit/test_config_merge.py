"""Layers merge onto the defaults key by key, and names that do not exist are refused at load (issue 11)."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from perfgate.cli import main
from perfgate.config import FINGERPRINT_FIELDS, GateConfig, MetricPolicy, PerfgateConfig, TierConfig, load_config
from perfgate.contracts.results import HostInfo
from perfgate.errors import ConfigError
from perfgate.measure.host import resolve_tier
from perfgate.metrics import BY_NAME

DEFAULTS = PerfgateConfig()
DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
LINUX_HOST = HostInfo(label="ci", os="linux", os_version="6.1", chip="AMD EPYC", memory_bytes=2**34)


def from_file(tmp_path: Path, toml: str, environ: dict[str, str] | None = None) -> PerfgateConfig:
    (tmp_path / "pyproject.toml").write_text(toml, encoding="utf-8")
    return load_config(cwd=tmp_path, environ=environ or {})


def refusal(
    tmp_path: Path, toml: str = "", environ: dict[str, str] | None = None, overrides: dict[str, object] | None = None
) -> str:
    """The one-line message of a config that is refused (no pyproject.toml unless ``toml`` is given)."""
    pyproject = tmp_path / "pyproject.toml"
    if toml:
        pyproject.write_text(toml, encoding="utf-8")
    else:
        pyproject.unlink(missing_ok=True)
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path, environ=environ or {}, overrides=overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


def without(tier: TierConfig, **changed: object) -> dict[str, object]:
    """A tier's settings with the keys a test changed left out: the rest must be the defaults."""
    return {k: v for k, v in tier.model_dump().items() if k not in changed}


# ------------------------------------------------------------------ one key of a table keeps the rest


def test_one_env_key_of_the_sim_tier_keeps_it_simulated(tmp_path):
    # The example: this used to leave a 'sim' tier with simulated=False.
    config = load_config(cwd=tmp_path, environ={"PERFGATE_TIERS__SIM__DESCRIPTION": "x"})
    sim = config.tiers["sim"]
    assert sim.description == "x"
    assert sim.simulated is True
    assert sim.auto_detect is False
    assert without(sim, description=1) == without(DEFAULTS.tiers["sim"], description=1)
    assert list(config.tiers) == list(DEFAULTS.tiers)


def test_one_file_key_of_the_sim_tier_keeps_the_rest(tmp_path):
    config = from_file(tmp_path, '[tool.perfgate.tiers.sim]\ndescription = "x"\n')
    assert config.tiers["sim"].description == "x"
    assert without(config.tiers["sim"], description=1) == without(DEFAULTS.tiers["sim"], description=1)
    assert {k: v for k, v in config.tiers.items() if k != "sim"} == {
        k: v for k, v in DEFAULTS.tiers.items() if k != "sim"
    }


def test_one_match_rule_keeps_the_tiers_other_rules(tmp_path):
    config = from_file(tmp_path, '[tool.perfgate.tiers.base.match]\nchip_regex = "Apple M[123]"\n')
    match = config.tiers["base"].match
    assert match.chip_regex == "Apple M[123]"
    assert (match.max_memory_gb, match.os) == (16, "darwin")
    assert config.tiers["base"].runner_labels == DEFAULTS.tiers["base"].runner_labels
    config = load_config(cwd=tmp_path, environ={"PERFGATE_TIERS__PRO__MATCH__MIN_MEMORY_GB": "24"})
    pro = config.tiers["pro"].match
    assert pro.min_memory_gb == 24
    assert (pro.chip_regex, pro.os) == (DEFAULTS.tiers["pro"].match.chip_regex, "darwin")


def test_one_metric_in_a_file_keeps_every_other_metric(tmp_path):
    # The issue: setting one metric used to drop all the others.
    config = from_file(
        tmp_path, "[tool.perfgate.gate.metrics.ttft_ms]\nthreshold_worse = 0.2\nthreshold_better = 0.15\n"
    )
    assert config.gate.metrics["ttft_ms"] == MetricPolicy(threshold_worse=0.2, threshold_better=0.15)
    assert list(config.gate.metrics) == list(DEFAULTS.gate.metrics)
    rest = {k: v for k, v in config.gate.metrics.items() if k != "ttft_ms"}
    assert rest == {k: v for k, v in DEFAULTS.gate.metrics.items() if k != "ttft_ms"}


def test_one_key_of_one_metric_keeps_that_metrics_other_keys(tmp_path):
    config = load_config(cwd=tmp_path, environ={"PERFGATE_GATE__METRICS__DECODE_TOK_S__THRESHOLD_WORSE": "0.2"})
    assert config.gate.metrics["decode_tok_s"] == MetricPolicy(threshold_worse=0.2, threshold_better=0.05)
    config = from_file(tmp_path, "[tool.perfgate.gate.metrics.e2e_ms]\ninformational = true\n")
    assert config.gate.metrics["e2e_ms"] == MetricPolicy(
        threshold_worse=0.10, threshold_better=0.10, informational=True
    )


def test_a_registry_metric_without_a_default_can_be_added(tmp_path):
    config = from_file(
        tmp_path, "[tool.perfgate.gate.metrics.load_ms]\nthreshold_worse = 0.5\nthreshold_better = 0.5\n"
    )
    assert config.gate.metrics["load_ms"].threshold_worse == 0.5
    assert set(config.gate.metrics) == {*DEFAULTS.gate.metrics, "load_ms"}
    message = refusal(tmp_path, "[tool.perfgate.gate.metrics.load_ms]\nthreshold_worse = 0.5\n")
    assert "invalid config at gate.metrics.load_ms.threshold_better: Field required" in message


def test_scenarios_merge_and_add(tmp_path):
    config = from_file(
        tmp_path,
        '[tool.perfgate.scenarios.prefill]\nnum_predict = 8\n[tool.perfgate.scenarios.mine]\nprompt = "Hi"\n',
    )
    assert list(config.scenarios) == ["short-explain", "prefill", "mine"]
    assert config.scenarios["prefill"].num_predict == 8
    assert config.scenarios["prefill"].prompt == DEFAULTS.scenarios["prefill"].prompt
    assert config.scenarios["short-explain"] == DEFAULTS.scenarios["short-explain"]
    assert config.scenarios["mine"].num_predict == 64  # a new scenario takes the model's defaults
    config = load_config(cwd=tmp_path, environ={"PERFGATE_SCENARIOS__PREFILL__NUM_CTX": "8192"})
    assert config.scenarios["prefill"].num_ctx == 8192
    assert config.scenarios["prefill"].num_predict == 8  # the file's, beneath the environment's


def test_triage_owners_and_severities_merge(tmp_path):
    config = from_file(
        tmp_path,
        '[tool.perfgate.triage.owners]\nregression = "Perf"\n[tool.perfgate.triage.severities]\nincomparable = "P1"\n',
        environ={"PERFGATE_TRIAGE__OWNERS__MODEL_MISSING": "Models"},
    )
    assert config.triage.owners == {**DEFAULTS.triage.owners, "regression": "Perf", "model_missing": "Models"}
    assert config.triage.severities == {**DEFAULTS.triage.severities, "incomparable": "P1"}


def test_an_added_tier_is_detected_before_the_catch_all(tmp_path):
    config = from_file(tmp_path, '[tool.perfgate.tiers.ci-linux.match]\nos = "linux"\n')
    assert list(config.tiers) == ["ci-linux", *DEFAULTS.tiers]
    assert resolve_tier(LINUX_HOST, config.tiers, None) == "ci-linux"
    # Changing a built-in tier does not move it ahead of the others.
    config = from_file(tmp_path, '[tool.perfgate.tiers.local]\ndescription = "x"\n')
    assert list(config.tiers) == list(DEFAULTS.tiers)


def test_flags_merge_too(tmp_path):
    config = load_config(cwd=tmp_path, environ={}, overrides={"runtime": {"kind": "sim"}, "sim": {"tok_s": 9.0}})
    assert config.runtime.kind == "sim"
    assert config.runtime.model == DEFAULTS.runtime.model
    assert config.sim.tok_s == 9.0
    assert config.sim.ttft_ms == DEFAULTS.sim.ttft_ms


# ------------------------------------------------------------------ removing a built-in entry


def test_enabled_false_drops_a_builtin_metric_scenario_or_tier_from_a_file(tmp_path):
    config = from_file(
        tmp_path,
        """
[tool.perfgate.gate.metrics]
itl_ms_p50.enabled = false
[tool.perfgate.scenarios.prefill]
enabled = false
[tool.perfgate.tiers.local]
enabled = false
""",
    )
    assert list(config.gate.metrics) == [m for m in DEFAULTS.gate.metrics if m != "itl_ms_p50"]
    assert list(config.scenarios) == ["short-explain"]
    assert list(config.tiers) == ["base", "pro", "sim"]
    with pytest.raises(ConfigError, match=r"matches no tier \(known: base, pro, sim\)"):
        resolve_tier(LINUX_HOST, config.tiers, None)


def test_enabled_false_from_the_environment(tmp_path):
    config = load_config(
        cwd=tmp_path,
        environ={
            "PERFGATE_GATE__METRICS__PEAK_RUNTIME_FOOTPRINT_MB__ENABLED": "false",
            "PERFGATE_TIERS__PRO__ENABLED": "false",
        },
    )
    assert "peak_runtime_footprint_mb" not in config.gate.metrics
    assert "pro" not in config.tiers


def test_a_disabled_entry_can_be_switched_back_on_by_a_higher_layer(tmp_path):
    config = from_file(
        tmp_path,
        "[tool.perfgate.scenarios.prefill]\nenabled = false\n",
        environ={"PERFGATE_SCENARIOS__PREFILL__ENABLED": "true"},
    )
    assert config.scenarios["prefill"] == DEFAULTS.scenarios["prefill"]


def test_switching_everything_off_is_refused(tmp_path):
    metrics = "\n".join(f"{name}.enabled = false" for name in DEFAULTS.gate.metrics)
    message = refusal(tmp_path, f"[tool.perfgate.gate.metrics]\n{metrics}\n")
    assert message.endswith(
        "invalid config at gate.metrics: every metric is disabled, so the gate would compare nothing"
    )
    message = refusal(tmp_path, "[tool.perfgate.scenarios]\nshort-explain.enabled = false\nprefill.enabled = false\n")
    assert "invalid config at scenarios: every scenario is disabled" in message


def test_a_config_round_trips_through_json_as_the_look_worker_sends_it(tmp_path):
    config = from_file(tmp_path, "[tool.perfgate.gate.metrics]\nitl_ms_p50.enabled = false\n")
    assert PerfgateConfig.model_validate_json(config.model_dump_json()) == config


# ------------------------------------------------------------------ names that do not exist


def test_a_misspelt_metric_in_a_file_is_refused(tmp_path):
    # The example: this turned the gate off (exit 0, nothing compared).
    message = refusal(tmp_path, "[tool.perfgate.gate.metrics.tfft_ms]\nthreshold_worse = 0.1\nthreshold_better = 0.1\n")
    assert message.startswith(
        f"{tmp_path / 'pyproject.toml'}: invalid config at gate.metrics: unknown metric 'tfft_ms'"
    )
    assert message.endswith(
        f"(known: {', '.join(BY_NAME)}; or app.<name> for a figure the app prints on a PERFGATE line)"
    )


def test_a_misspelt_metric_is_named_before_its_missing_thresholds(tmp_path):
    message = refusal(tmp_path, "[tool.perfgate.gate.metrics.tfft_ms]\nenabled = false\n")
    assert "unknown metric 'tfft_ms'" in message
    message = refusal(tmp_path, environ={"PERFGATE_GATE__METRICS__DECODE_TOKS__THRESHOLD_WORSE": "0.1"})
    assert "unknown metric 'decode_toks'" in message


def test_an_unknown_must_match_field_in_the_environment_is_refused(tmp_path):
    # The example: this passed validation, then `compare` died with AttributeError (exit 1).
    message = refusal(tmp_path, environ={"PERFGATE_TIERS__SIM__MUST_MATCH": '["chipp"]'})
    assert message == (
        "defaults + PERFGATE_* env: invalid config at tiers.sim.must_match: unknown fingerprint field 'chipp' "
        f"(known: {', '.join(FINGERPRINT_FIELDS)})"
    )


def test_an_unknown_gate_must_match_field_in_a_file_is_refused(tmp_path):
    message = refusal(tmp_path, '[tool.perfgate.gate]\nmust_match = ["chip", "ram"]\n')
    assert "invalid config at gate.must_match: unknown fingerprint field 'ram'" in message


def test_an_unknown_informational_metric_of_a_tier_is_refused(tmp_path):
    message = refusal(tmp_path, '[tool.perfgate.tiers.sim]\ninformational_metrics = ["peak_rss_mb"]\n')
    assert "invalid config at tiers.sim.informational_metrics: unknown metric 'peak_rss_mb' (known: ttft_ms," in message


@pytest.mark.parametrize(
    "layer",
    [
        {"toml": '[tool.perfgate]\ntier = "ultra"\n'},
        {"environ": {"PERFGATE_TIER": "ultra"}},
        {"overrides": {"tier": "ultra"}},
    ],
    ids=["file", "env", "flags"],
)
def test_a_forced_tier_that_is_not_configured_is_refused(tmp_path, layer):
    message = refusal(tmp_path, **layer)
    assert message.endswith("invalid config at tier: unknown tier 'ultra' (known: base, pro, local, sim)")


def test_a_forced_tier_may_be_one_the_config_adds_but_not_one_it_disables(tmp_path):
    config = from_file(tmp_path, '[tool.perfgate]\ntier = "mine"\n[tool.perfgate.tiers.mine]\ndescription = "m"\n')
    assert config.tier == "mine"
    message = refusal(tmp_path, '[tool.perfgate]\ntier = "pro"\n[tool.perfgate.tiers.pro]\nenabled = false\n')
    assert "unknown tier 'pro' (known: base, local, sim)" in message


def test_the_models_refuse_unknown_names_when_built_in_code_too():
    with pytest.raises(ValidationError, match="unknown metric 'tfft_ms'"):
        GateConfig(metrics={"tfft_ms": MetricPolicy(threshold_worse=0.1, threshold_better=0.1)})
    with pytest.raises(ValidationError, match="unknown fingerprint field 'chipp'"):
        TierConfig(must_match=("chipp",))
    with pytest.raises(ValidationError, match="unknown tier 'nope'"):
        PerfgateConfig(tier="nope")


def test_other_errors_stay_one_line_and_show_a_short_bad_value(tmp_path):
    message = refusal(tmp_path, environ={"PERFGATE_RUNTIME__KIND": "olama"})
    assert re.fullmatch(r"defaults \+ PERFGATE_\* env: invalid config at runtime\.kind: .* \(got 'olama'\)", message)
    message = refusal(tmp_path, "[tool.perfgate]\nruns = 0\n")
    assert message.endswith("invalid config at runs: Input should be greater than or equal to 1 (got 0)")


# ------------------------------------------------------------------ the CLI: exit 2, one line


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("PERFGATE_")]:
        monkeypatch.delenv(name)


def test_cli_refuses_a_misspelt_metric_with_exit_2_and_one_line(tmp_path, monkeypatch, capsys):
    clean_env(monkeypatch)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.perfgate.gate.metrics.tfft_ms]\nthreshold_worse = 0.1\nthreshold_better = 0.1\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "somefile.json"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("perfgate: ")
    assert "unknown metric 'tfft_ms'" in err[0]


def test_cli_refuses_an_unknown_must_match_field_with_exit_2_and_one_line(tmp_path, monkeypatch, capsys):
    clean_env(monkeypatch)
    monkeypatch.setenv("PERFGATE_TIERS__SIM__MUST_MATCH", '["chipp"]')
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "somefile.json"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "tiers.sim.must_match: unknown fingerprint field 'chipp'" in err[0]


# ------------------------------------------------------------------ the documented example


def test_the_example_on_the_configuration_page_loads_and_does_what_it_says(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    (example,) = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    tomllib.loads(example)
    config = from_file(tmp_path, example)
    assert config.runs == 7
    assert "itl_ms_p50" not in config.gate.metrics
    assert config.gate.metrics["ttft_ms"].threshold_worse == 0.15
    assert set(config.gate.metrics) == set(DEFAULTS.gate.metrics) - {"itl_ms_p50"}
    assert list(config.scenarios) == ["short-explain"]


def test_an_unknown_triage_kind_in_owners_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="unknown triage kind 'runtime_down'"):
        load_config(environ={"PERFGATE_TRIAGE__OWNERS__RUNTIME_DOWN": "Ops"}, cwd=Path("/nonexistent"))
    config = load_config(environ={"PERFGATE_TRIAGE__OWNERS__RUNTIME_ERROR": "Ops"}, cwd=Path("/nonexistent"))
    assert config.triage.owners["runtime_error"] == "Ops"
    assert config.triage.owners["regression"] == "QA"  # the other owners are kept


def test_a_setting_left_at_its_default_stays_unset() -> None:
    # A managed llama.cpp server names its model after the file unless runtime.model was chosen.
    config = load_config(environ={}, cwd=Path("/nonexistent"))
    assert "model" not in config.runtime.model_fields_set
    chosen = load_config(environ={"PERFGATE_RUNTIME__MODEL": "m"}, cwd=Path("/nonexistent"))
    assert "model" in chosen.runtime.model_fields_set
