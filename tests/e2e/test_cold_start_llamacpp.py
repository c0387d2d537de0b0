"""Cold starts on llama.cpp's real server (the xllamacpp wheel): "cold" is the server started, then its first request.

perfgate stops the server inside the process it started (the model leaves memory) and starts it again on the
same port, so the process it samples stays the same; the load time is the server's start until ``/health``
answers. A larger generated model (medium, ~206 MB, against small, ~28 MB) loads several times slower, and
``perfgate gate`` must catch that as a regression of the cold start.

Skipped with the reason when the llama.cpp extra is absent (``pip install 'perfgate[llamacpp]'``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from support.cli import load_results
from support.cli import perfgate as run_perfgate
from support.runs import assert_runs, refused_as_untimed, until_timed

from perfgate.contracts.gate import GATE_SCHEMA_VERSION, GateReport
from perfgate.files import read_model

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec("gguf") is None,
    reason="the llama.cpp extra is not installed (pip install 'perfgate[llamacpp]')",
)

PROJECT_TOML = """\
[tool.perfgate]
warmup = 1

[tool.perfgate.scenarios]
# Only the cold start below: the built-in scenarios are switched off.
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.first-answer]
prompt = "Say hi."
num_predict = 1
kind = "cold"

[tool.perfgate.tiers.e2e]
description = "whatever machine runs the e2e tests"
auto_detect = false

[tool.perfgate.gate]
# Samples perfgate could not time on this busy machine do not count: 10 measured may leave fewer.
min_baseline_samples = 4

# Only the cold start's own figures are compared; one token has no decode to gate (nor to mistime).
[tool.perfgate.gate.metrics]
e2e_ms.enabled = false
decode_tok_s.enabled = false
client_decode_tok_s.enabled = false
prefill_tok_s.enabled = false
itl_ms_p50.enabled = false
peak_runtime_footprint_mb.enabled = false
peak_harness_rss_mb.enabled = false
peak_combined_rss_mb.enabled = false

# Wide: this shared 2-core machine is noisy, and the slowdown being detected is several-fold.
[tool.perfgate.gate.metrics.load_cold_ms]
threshold_worse = 0.5
threshold_better = 0.5

[tool.perfgate.gate.metrics.ttft_cold_ms]
threshold_worse = 0.5
threshold_better = 0.5
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("cold-llamacpp")
    (root / "pyproject.toml").write_text(PROJECT_TOML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFGATE_", "GITHUB_", "RUNNER_"))}
    env["PERFGATE_RUNTIME__MODEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("models"))
    return root, env


def measure(project: tuple[Path, dict[str, str]], size: str, out: Path, runs: int) -> None:
    root, env = project
    proc = until_timed(
        lambda: run_perfgate(
            "run", "--runtime", "llamacpp", "--model-size", size, "--tier", "e2e", "--runs", str(runs), "--out", out,
            cwd=root, env=env, timeout=600,
        ),
        lambda proc: refused_as_untimed(proc.returncode, proc.stderr),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_each_run_restarts_the_server_in_the_same_process_and_times_the_load(project) -> None:
    root, _ = project
    # The small model, not the tiny one: the tiny one's sub-millisecond token gaps coalesce in TCP, and
    # perfgate rightly refuses to time such a stream (every sample suspect is a timing_unreliable failure).
    out = root / "small.json"
    measure(project, "small", out, runs=3)
    result = load_results(out)
    (scenario,) = result.scenarios
    assert scenario.options.cold_start
    assert result.runtime.pid is not None
    assert_runs(scenario, 3)
    for sample in scenario.samples:
        assert sample.ttft_ms is None
        assert sample.load_cold_ms is not None
        assert sample.load_cold_ms > 0
        assert sample.cold
        # The load was inside the memory window: the process held the model while it was sampled.
        assert sample.peak_runtime_rss_mb is not None
        # Cold TTFT runs from the server's start: never shorter than its load (when perfgate could time it).
        if sample.ttft_cold_ms is not None:
            assert sample.ttft_cold_ms >= sample.load_cold_ms


def test_a_larger_models_cold_start_is_caught_by_the_gate(project) -> None:
    root, env = project
    for i in range(2):
        measure(project, "small", root / f"base-{i}.json", runs=5)
    proc = run_perfgate(
        "baseline", "update", "--tier", "e2e", "--from", root / "base-0.json", root / "base-1.json", cwd=root, env=env
    )
    assert proc.returncode == 0, proc.stderr
    results = root / "perf-results"
    shutil.rmtree(results, ignore_errors=True)
    measure(project, "medium", results / "results-e2e" / "results-e2e.json", runs=5)
    gate = run_perfgate("gate", "--results-dir", results, "--expect-tiers", "e2e", cwd=root, env=env)
    report = read_model(results / "gate.json", GateReport, what="gate", current_version=GATE_SCHEMA_VERSION)
    found = {verdict.metric: verdict.verdict for verdict in report.verdicts}
    assert gate.returncode == 1, (found, gate.stdout[-2000:])
    assert found["load_cold_ms"] == "regressed", found
    assert found["peak_runtime_rss_mb"] == "regressed", found  # the larger model's peak while loading
