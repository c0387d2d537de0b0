"""A real regression, caught end to end on llama.cpp's real server.

The baseline is measured with the generated *small* model; then the *medium*
model (several times slower per token, a real engine doing real work) plays a
regressed build. `perfgate compare` must exit 1 with decode tok/s and TTFT
regressed; the run the baseline was made from must pass (exit 0), and the small
model measured again must come out less than half as much worse than the medium one.

Whether a second live measurement of the same model *passes* is up to the
machine, not perfgate: a neighbour's load between the two measurements is a
real slowdown of the second (on a 2-core machine running other test suites it
crossed the 25 % thresholds). A several-fold slowdown is not within its reach,
so that is what the live comparisons assert.

The model is what changes here, so this project's tier does not require the
model digest to match (a real project keeps it in `must_match`). Thresholds
are wider than the defaults because this shared 2-core machine is noisy; the
slowdown being detected is several-fold.
"""

from __future__ import annotations

import json
import os

import pytest
from support.cli import perfgate as run_perfgate

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
must_match = ["chip", "memory_gb", "runtime_kind", "runtime_version", "prompt", "scenario_options"]

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
    proc = perfgate(
        project,
        "run",
        "--runtime",
        "llamacpp",
        "--model-size",
        size,
        "--tier",
        "e2e",
        "--runs",
        str(runs),
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def baseline(project):
    measure(project, "small", "base.json", runs=10)
    proc = perfgate(project, "baseline", "update", "--tier", "e2e", "--from", "base.json")
    assert proc.returncode == 0, proc.stderr
    return project


def compared(project, results):
    """``perfgate compare --format json``: the exit code and each metric's verdict record."""
    proc = perfgate(project, "compare", results, "--format", "json")
    report = json.loads(proc.stdout)
    return proc.returncode, {v["metric"]: v for v in report["verdicts"]}


def verdicts(project, results):
    code, found = compared(project, results)
    return code, {metric: v["verdict"] for metric, v in found.items()}


def worse_by(verdict):
    """The relative change in the metric's bad direction (negative when it got better)."""
    return verdict["change"] if verdict["direction"] == "lower" else -verdict["change"]


@pytest.fixture(scope="module")
def slow(baseline):
    """The medium model measured against the small model's baseline: (exit code, verdict records)."""
    measure(baseline, "medium", "slow.json", runs=5)
    return compared(baseline, "slow.json")


def test_a_slower_model_is_caught_as_a_regression(slow):
    code, found = slow
    assert code == 1
    assert found["decode_tok_s"]["verdict"] == "regressed"
    assert found["ttft_ms"]["verdict"] == "regressed"


def test_the_same_model_again_passes(baseline, slow):
    # The very run the baseline holds: a pass that no load can change.
    code, found = verdicts(baseline, "base.json")
    assert code == 0, found
    assert found["decode_tok_s"] == "unchanged"
    assert found["ttft_ms"] == "unchanged"
    # Measured again, live: however busy the machine got meanwhile, the same model comes out less
    # than half as much worse than a model several times slower (better is fine: the baseline may
    # have been the busier measurement).
    measure(baseline, "small", "again.json", runs=5)
    _, again = compared(baseline, "again.json")
    _, slower = slow
    for metric in ("decode_tok_s", "ttft_ms"):
        assert worse_by(again[metric]) < worse_by(slower[metric]) / 2, (metric, again[metric], slower[metric])
