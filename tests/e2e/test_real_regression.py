"""A real regression, caught end to end on llama.cpp's real server.

The baseline is measured with the generated *small* model; then the *medium*
model (several times slower per token, a real engine doing real work) plays a
regressed build. `perfgate compare` must exit 1 with decode tok/s and TTFT
regressed; the small model measured again must pass (exit 0).

The model is the change under test, and the project keeps perfgate's
**default** `gate.must_match` (the environment only): the comparison goes
ahead, and "What changed" names the model. Thresholds are wider than the
defaults because this shared 2-core machine is noisy; the slowdown being
detected is several-fold.
"""

from __future__ import annotations

import json
import os

import pytest
from support.cli import perfgate as run_perfgate
from support.runs import refused_as_untimed, until_timed

PROJECT_TOML = """\
[tool.perfgate]
warmup = 1

[tool.perfgate.scenarios]
# Only the scenario below: the built-in ones are switched off.
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.short]
prompt = "Explain what Bzzbe does in two short sentences."
num_predict = 32

[tool.perfgate.tiers.e2e]
description = "whatever machine runs the e2e tests"
auto_detect = false

[tool.perfgate.gate]
min_baseline_samples = 8

# Only the three metrics below are compared: the other built-in ones are switched off.
[tool.perfgate.gate.metrics]
client_decode_tok_s.enabled = false
prefill_tok_s.enabled = false
itl_ms_p50.enabled = false
peak_runtime_rss_mb.enabled = false
peak_runtime_footprint_mb.enabled = false
peak_harness_rss_mb.enabled = false
peak_combined_rss_mb.enabled = false

[tool.perfgate.gate.metrics.ttft_ms]
threshold_worse = 0.25
threshold_better = 0.25

[tool.perfgate.gate.metrics.decode_tok_s]
threshold_worse = 0.25
threshold_better = 0.25

[tool.perfgate.gate.metrics.e2e_ms]
threshold_worse = 0.25
threshold_better = 0.25
informational = true
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("regression")
    (root / "pyproject.toml").write_text(PROJECT_TOML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFGATE_")}
    env["PERFGATE_RUNTIME__MODEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("models"))
    return root, env


def perfgate(project, *args, timeout=600):
    root, env = project
    return run_perfgate(*args, cwd=root, env=env, timeout=timeout)


def measure(project, size, out, runs):
    proc = until_timed(
        lambda: perfgate(
            project, "run", "--runtime", "llamacpp", "--model-size", size, "--tier", "e2e",
            "--runs", str(runs), "--out", out,
        ),
        lambda proc: refused_as_untimed(proc.returncode, proc.stderr),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


ROUNDS = 3  # baseline and "same model again" runs, measured in alternation


@pytest.fixture(scope="module")
def baseline(project):
    # The small model's baseline and its "same model again" results are measured in
    # alternation: a change in this shared machine's load between them then falls on
    # both sides, instead of reading as a regression of the very same model.
    for i in range(ROUNDS):
        measure(project, "small", f"base-{i}.json", runs=4)
        measure(project, "small", f"again-{i}.json", runs=2)
    base = [f"base-{i}.json" for i in range(ROUNDS)]
    proc = perfgate(project, "baseline", "update", "--tier", "e2e", "--from", *base)
    assert proc.returncode == 0, proc.stderr
    return project


def verdicts(project, *results):
    proc = perfgate(project, "compare", *results, "--format", "json")
    report = json.loads(proc.stdout)
    found = {v["metric"]: v["verdict"] for v in report["verdicts"]}
    changes = {c["field"]: (c["old"], c["new"]) for c in report["changes"]}
    return proc.returncode, found, changes


def test_a_slower_model_is_caught_as_a_regression(baseline):
    measure(baseline, "medium", "slow.json", runs=5)
    code, found, changes = verdicts(baseline, "slow.json")
    assert code == 1, found
    assert found["decode_tok_s"] == "regressed"
    assert found["ttft_ms"] == "regressed"
    assert changes["model"] == ("perfgate-small", "perfgate-medium")
    assert "model_digest" in changes
    # what a person reads: the terminal output names the change beside the verdicts
    text = perfgate(baseline, "compare", "slow.json")
    assert text.returncode == 1
    assert "what changed since the baseline" in text.stdout
    assert "  model: perfgate-small → perfgate-medium (e2e)" in text.stdout.splitlines()
    markdown = perfgate(baseline, "compare", "slow.json", "--format", "md")
    assert "- model: perfgate-small → perfgate-medium (e2e)" in markdown.stdout.splitlines()


def test_the_same_model_again_passes(baseline):
    code, found, changes = verdicts(baseline, *(f"again-{i}.json" for i in range(ROUNDS)))
    assert code == 0, found
    assert found["decode_tok_s"] != "regressed"
    assert found["ttft_ms"] != "regressed"
    assert changes == {}
