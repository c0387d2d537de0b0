"""`perfgate run` end to end over real sockets against `perfgate sim`.

How accurately it measures is in test_timing_accuracy.py; these tests check what it writes and how it fails.
"""

from __future__ import annotations

import json

import pytest
from support.cli import free_port, perfgate
from support.cli import load_results as load
from support.cli import write_project as write_config
from support.runs import assert_runs

from perfgate.contracts.results import RESULTS_SCHEMA_VERSION
from perfgate.sim.launch import SimProcess
from perfgate.sim.profile import SimProfile


def test_run_on_simulator_writes_results_and_prints_table(tmp_path):
    write_config(tmp_path)
    out = tmp_path / "r.json"
    proc = perfgate(
        "run",
        "--runtime",
        "sim",
        "--sim-ttft-ms",
        "30",
        "--sim-tok-s",
        "400",
        "--sim-ballast-mb",
        "300",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ttft_ms" in proc.stdout
    assert "peak_runtime_rss_mb" in proc.stdout
    assert "results written to" in proc.stdout
    result = load(out)
    assert result.ok
    assert result.simulated
    assert result.tier == "sim"
    assert result.runtime.version
    assert result.runtime.version.endswith("perfgate-sim")
    short = result.scenarios[0]
    assert_runs(short, 5)
    assert short.warmups_discarded == 1
    # The 300 MB ballast lives in the simulator's *child* process: counting it proves the tree is walked.
    assert short.summaries["peak_runtime_rss_mb"].min >= 300
    harness = short.summaries["peak_harness_rss_mb"].median
    assert 0 < harness < 300
    assert short.summaries["peak_combined_rss_mb"].min >= 300 + harness * 0.5
    raw = json.loads(out.read_text(encoding="utf-8"))
    assert raw["schema_version"] == RESULTS_SCHEMA_VERSION
    assert raw["fingerprint"]["scenarios"]["short"]["prompt_sha256"] == short.prompt_sha256


def test_nothing_listening_exit_3_and_results_kept(tmp_path):
    write_config(tmp_path)
    out = tmp_path / "r.json"
    url = f"http://127.0.0.1:{free_port()}"
    proc = perfgate("run", "--runtime", "ollama", "--base-url", url, "--tier", "pro", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 3
    errors = [line for line in proc.stderr.splitlines() if line.startswith("perfgate:")]
    assert len(errors) == 1
    assert url in errors[0]
    assert "Traceback" not in proc.stderr
    result = load(out)
    assert [f.kind.value for f in result.failures] == ["runtime_unavailable"]
    assert result.scenarios == ()


FAULT_KINDS = {
    "model_missing": "model_missing",
    "http_500": "runtime_error",
    "error_midstream": "runtime_error",
    "disconnect_midstream": "stream_truncated",
    "stall": "timeout",
    "malformed_line": "protocol_error",
}


@pytest.mark.parametrize("fault", sorted(FAULT_KINDS))
def test_each_fault_maps_to_its_kind_and_keeps_earlier_samples(tmp_path, fault):
    # warm-up + 2 measured requests succeed, then the fault hits the third measured one.
    write_config(tmp_path, runs=5, extra="[tool.perfgate.runtime]\nread_timeout_s = 1.0")
    profile = SimProfile(
        ttft_ms=5, tok_s=500, jitter_cv=0, load_ms=0, ballast_mb=8, fault=fault, fault_after=3, stall_s=5
    )
    out = tmp_path / "r.json"
    with SimProcess(profile) as sim:
        proc = perfgate(
            "run", "--runtime", "ollama", "--base-url", sim.base_url, "--tier", "sim", "--out", str(out), cwd=tmp_path
        )
    assert proc.returncode == 3, proc.stderr
    result = load(out)
    assert [f.kind.value for f in result.failures] == [FAULT_KINDS[fault]]
    assert result.failures[0].scenario == "short"
    assert result.failures[0].iteration == 2
    assert len(result.scenarios[0].samples) == 2
    assert result.simulated


def test_unknown_scenario_is_a_usage_error(tmp_path):
    write_config(tmp_path)
    proc = perfgate("run", "--runtime", "sim", "--scenario", "nope", cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown scenario 'nope'" in proc.stderr
