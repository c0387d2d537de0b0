"""Cold-start scenarios end to end on the simulator: it unloads on keep_alive 0 (and ``/api/ps`` says so), and
``perfgate gate`` catches a larger model's cold start (a longer injected load) as a regression.

How close the measured load time is to the injected one is asserted in
``tests/integration/test_timing_accuracy.py`` only (the one place for live timings).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.cli import clean_env, load_results, perfgate
from support.sim import MODEL, StartSim, gen

from perfgate.contracts.gate import GATE_SCHEMA_VERSION, GateReport
from perfgate.files import read_model

PROJECT = """\
[tool.perfgate]
runs = 10
warmup = 1

[tool.perfgate.scenarios]
# Only the cold start below: the built-in scenarios are switched off.
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.first-answer]
prompt = "Say hi."
num_predict = 8
kind = "cold"
"""
# A small model (120 ms to load) and a larger one (240 ms): fast enough to measure often, far apart
# enough that scheduling on a busy 2-core machine cannot close the gap.
SIM = ("--runtime", "sim", "--sim-ttft-ms", "5", "--sim-tok-s", "1000", "--sim-jitter-cv", "0",
       "--sim-ballast-mb", "8")  # fmt: skip


def test_the_simulator_unloads_on_keep_alive_0_and_api_ps_stops_listing_the_model(start_sim: StartSim) -> None:
    _, client = start_sim(load_ms=50.0)
    assert client.get("/api/ps").json() == {"models": []}
    first = client.post("/api/generate", json=gen(2, stream=False)).json()
    assert first["load_duration"] >= 50_000_000  # a cold request waits for the injected load
    assert [m["name"] for m in client.get("/api/ps").json()["models"]] == [MODEL]
    unload = client.post("/api/generate", json={"model": MODEL, "keep_alive": 0, "stream": False}).json()
    assert unload["done_reason"] == "unload"
    assert client.get("/api/ps").json() == {"models": []}
    again = client.post("/api/generate", json=gen(2, stream=False)).json()
    assert again["load_duration"] >= 50_000_000  # loaded again: cold again


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cold-start")
    (root / "pyproject.toml").write_text(PROJECT, encoding="utf-8")
    baseline_run = root / "baseline-run.json"
    proc = perfgate("run", *SIM, "--sim-load-ms", "120", "--out", baseline_run, cwd=root, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    proc = perfgate("baseline", "update", "--tier", "sim", "--from", baseline_run, cwd=root, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    return root


def _gate(root: Path, load_ms: str, name: str) -> tuple[int, GateReport, str]:
    results = root / name
    shutil.rmtree(results, ignore_errors=True)
    out = results / "results-sim" / "results-sim.json"
    proc = perfgate("run", *SIM, "--sim-load-ms", load_ms, "--out", out, cwd=root, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    sample = load_results(out).scenarios[0].samples[0]
    assert sample.load_cold_ms is not None
    assert sample.ttft_cold_ms is not None
    assert sample.ttft_ms is None
    gate = perfgate("gate", "--results-dir", results, "--expect-tiers", "sim", cwd=root, env=clean_env())
    report = read_model(results / "gate.json", GateReport, what="gate", current_version=GATE_SCHEMA_VERSION)
    return gate.returncode, report, gate.stdout


def _verdicts(report: GateReport) -> dict[str, str]:
    return {verdict.metric: verdict.verdict for verdict in report.verdicts}


def test_a_larger_models_cold_start_is_caught_as_a_regression(project: Path) -> None:
    code, report, stdout = _gate(project, "240", "larger")
    verdicts = _verdicts(report)
    assert code == 1, stdout
    assert verdicts["load_cold_ms"] == "regressed", verdicts
    assert verdicts["ttft_cold_ms"] == "regressed", verdicts
    # A warm TTFT is not measured in a cold start, and load_ms is not compared (warm, it is scheduling noise).
    assert "ttft_ms" not in verdicts
    assert "load_ms" not in verdicts
