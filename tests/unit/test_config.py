from __future__ import annotations

import pytest
from pydantic import ValidationError

from perfgate.config import SEED_PROMPT, GateConfig, MetricPolicy, PerfgateConfig, env_overrides, load_config
from perfgate.errors import ConfigError
from perfgate.metrics import METRICS, default_informational


def test_defaults_match_the_seed(tmp_path):
    config = load_config(cwd=tmp_path, environ={})
    assert config.runtime.kind == "ollama"
    assert config.runtime.base_url == "http://127.0.0.1:11434"
    assert config.runtime.model == "qwen2.5:7b-instruct-q4_K_M"
    assert config.scenarios["short-explain"].prompt == SEED_PROMPT
    assert len(config.scenarios["prefill"].prompt) > 2000
    assert config.scenarios["short-explain"].temperature == 0
    assert (config.warmup, config.runs) == (1, 5)
    assert config.tiers["sim"].simulated is True
    assert not config.tiers["base"].simulated
    assert not config.tiers["pro"].simulated


def test_config_is_frozen_and_strict():
    config = PerfgateConfig()
    with pytest.raises(ValidationError):
        config.runs = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        PerfgateConfig.model_validate({"runz": 3})


def test_layers_in_order(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfgate]\nruns = 7\nwarmup = 2\n[tool.perfgate.runtime]\nmodel = "from-file"\n', encoding="utf-8"
    )
    config = load_config(cwd=tmp_path, environ={"PERFGATE_WARMUP": "3", "PERFGATE_RUNTIME__BASE_URL": "http://h:1"})
    assert config.runs == 7  # file
    assert config.warmup == 3  # env beats file
    assert config.runtime.model == "from-file"
    assert config.runtime.base_url == "http://h:1"
    config = load_config(cwd=tmp_path, environ={"PERFGATE_WARMUP": "3"}, overrides={"warmup": 0})
    assert config.warmup == 0  # flags beat env


def test_bad_value_names_the_field(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.perfgate]\nruns = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"pyproject.toml: invalid config at runs"):
        load_config(cwd=tmp_path, environ={})


def test_unknown_key_rejected(tmp_path):
    with pytest.raises(ConfigError, match=r"runtime\.colour"):
        load_config(cwd=tmp_path, environ={"PERFGATE_RUNTIME__COLOUR": "red"})


def test_missing_and_broken_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(config_file=tmp_path / "nope.toml", environ={})
    bad = tmp_path / "perfgate.toml"
    bad.write_text("runs = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(config_file=bad, environ={})


def test_env_values_parse_as_json_when_they_can():
    env = env_overrides({"PERFGATE_RUNS": "9", "PERFGATE_RUNTIME__MODEL": "llama3:8b", "OTHER": "x"})
    assert env == {"runs": 9, "runtime": {"model": "llama3:8b"}}


def test_default_metric_thresholds_come_from_the_registry_and_are_unchanged():
    def policy(threshold: float) -> MetricPolicy:
        return MetricPolicy(threshold_worse=threshold, threshold_better=threshold)

    # The gate's defaults as they were written out by hand before the registry held them (same order),
    # with whether each is informational in perfgate's own scenarios and in an app scenario.
    expected = {
        "ttft_ms": (policy(0.10), False, False),
        "e2e_ms": (policy(0.10), False, False),
        "app_wall_ms": (policy(0.10), False, False),  # app scenarios
        "decode_tok_s": (policy(0.05), False, False),
        "prefill_tok_s": (policy(0.10), False, False),
        "peak_runtime_rss_mb": (policy(0.05), False, False),
        "peak_runtime_footprint_mb": (policy(0.05), False, False),
        "peak_app_rss_mb": (policy(0.05), False, False),  # app scenarios
        "load_cold_ms": (policy(0.10), False, False),  # cold-start scenarios
        "ttft_cold_ms": (policy(0.10), False, False),  # cold-start scenarios
        "client_decode_tok_s": (policy(0.05), True, True),
        "itl_ms_p50": (policy(0.10), True, True),
        "peak_harness_rss_mb": (policy(0.05), True, True),
        # perfgate's own + runtime in its scenarios; the app's tree + runtime (what the team reports) in an app's.
        "peak_combined_rss_mb": (policy(0.05), True, False),
    }
    metrics = GateConfig().metrics
    assert list(metrics.items()) == [(name, p) for name, (p, _, _) in expected.items()]
    roles = {name: (default_informational(name, app_scenario=False), default_informational(name, app_scenario=True))
             for name in metrics}  # fmt: skip
    assert roles == {name: (own, app) for name, (_, own, app) in expected.items()}
    from_registry = {m.name: policy(m.threshold) for m in METRICS if m.threshold}
    assert metrics == from_registry
