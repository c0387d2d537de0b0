"""`perfgate compare`, `run --compare` and `baseline update/diff` end to end over real sockets against the simulator.

One real `--for-baseline` run of the simulator gives the files their real fingerprint;
the numbers the gate decides on are then chosen (``resampled``): a baseline and a
"same" run at TTFT 100 ms, a "slow" run at 130 ms. A loaded machine changes none of
them, so "same passes" and "slow regresses" hold anywhere. The one live comparison
(`run --compare` with the simulator at 130 ms) can only come out slower than that
under load, never faster, so its regression holds too.
"""

from __future__ import annotations

import json
import shutil

import pytest
from support.cli import error_lines, perfgate
from support.git import git
from support.synthetic import TYPICAL, lognormal_columns, resampled

from perfgate.contracts.gate import GATE_SCHEMA_VERSION, GateReport
from perfgate.contracts.results import RESULTS_SCHEMA_VERSION, RunResult
from perfgate.files import read_model, write_model

# Fast simulator runs: 16 tokens at 400 tok/s after the first token, a small runner child.
SIM = ("--runtime", "sim", "--sim-tok-s", "400", "--sim-ballast-mb", "8")


def write_config(path):
    (path / "pyproject.toml").write_text(
        """[tool.perfgate]
runs = 5
warmup = 1

[tool.perfgate.gate]
min_baseline_samples = 10
baseline_runs = 12

[tool.perfgate.scenarios]
# Only the scenario below: the built-in ones are switched off.
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.short]
prompt = "Explain what Bzzbe does in two short sentences."
num_predict = 16
""",
        encoding="utf-8",
    )


def row(stdout, metric):
    """The verdict-table row of one metric (the text table starts each row with the metric name)."""
    (line,) = [line for line in stdout.splitlines() if line.split()[:1] == [metric]]
    return line


def chosen(live: RunResult, n: int, *, seed: int, ttft_ms: float) -> RunResult:
    """``live`` with ``n`` chosen samples: 2 % CV around the live run's medians, TTFT around ``ttft_ms``."""
    (scenario,) = live.scenarios
    typical = {m: scenario.summaries[m].median for m in TYPICAL if m in scenario.summaries} | {"ttft_ms": ttft_ms}
    return resampled(live, {scenario.name: lognormal_columns(seed, n, typical=typical)})


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A project dir with baselines/sim.json (12 runs at TTFT 100 ms), slow.json (130 ms) and same.json (100 ms)."""
    work = tmp_path_factory.mktemp("project")
    write_config(work)
    made = perfgate("run", *SIM, "--sim-ttft-ms", "100", "--for-baseline", "--out", "live.json", cwd=work)
    assert made.returncode == 0, made.stderr
    live = read_model(work / "live.json", RunResult, what="results", current_version=RESULTS_SCHEMA_VERSION)
    write_model(work / "base.json", chosen(live, len(live.scenarios[0].samples), seed=1, ttft_ms=100.0))
    write_model(work / "slow.json", chosen(live, 5, seed=2, ttft_ms=130.0))
    write_model(work / "same.json", chosen(live, 5, seed=3, ttft_ms=100.0))
    updated = perfgate("baseline", "update", "--tier", "sim", "--from", "base.json", cwd=work)
    assert updated.returncode == 0, updated.stderr
    return work


@pytest.fixture
def project(tmp_path):
    """An empty project dir with the same config (no baselines)."""
    write_config(tmp_path)
    return tmp_path


def test_baseline_holds_the_for_baseline_runs(measured):
    data = json.loads((measured / "baselines" / "sim.json").read_text(encoding="utf-8"))
    assert data["kind"] == "perfgate-baseline"
    assert data["tier"] == "sim"
    assert data["simulated"] is True
    assert len(data["samples"]["short"]["ttft_ms"]) == 12
    assert data["provenance"]["source_files"] == ["base.json"]


def test_slower_ttft_is_a_regression(measured):
    proc = perfgate("compare", "slow.json", cwd=measured)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "regression" in proc.stdout.splitlines()[0]
    assert "TTFT +" in proc.stdout.splitlines()[0]
    ttft = row(proc.stdout, "ttft_ms")
    assert "regressed" in ttft
    assert "12/5" in ttft
    assert "gate: regression (exit 1)" in proc.stdout
    assert error_lines(proc) == []


def test_same_ttft_passes(measured):
    proc = perfgate("compare", "same.json", cwd=measured)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("No regressions on 1 tier")
    assert "regressed" not in row(proc.stdout, "ttft_ms")
    assert "gate: pass (exit 0)" in proc.stdout
    assert error_lines(proc) == []


def test_run_compare_exits_with_the_gate_code(measured, project):
    gate_file = project / "gate.json"
    proc = perfgate(
        "run",
        *SIM,
        "--sim-ttft-ms",
        "130",
        "--compare",
        "--baselines-dir",
        str(measured / "baselines"),
        "--gate-out",
        str(gate_file),
        "--out",
        "r.json",
        cwd=project,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "results written to r.json" in proc.stdout
    assert "regressed" in row(proc.stdout.split("results written to")[1], "ttft_ms")
    report = read_model(gate_file, GateReport, what="gate", current_version=GATE_SCHEMA_VERSION)
    assert report.exit_code == 1
    assert report.tiers[0].results_files == ("r.json",)


def test_markdown_format(measured):
    proc = perfgate("compare", "slow.json", "--format", "md", cwd=measured)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("### perfgate: ")
    assert "#### sim / short" in proc.stdout
    (ttft,) = [line for line in proc.stdout.splitlines() if line.startswith("| ttft_ms")]
    assert "🔴 regressed" in ttft
    assert "Gate regression (exit 1)" in proc.stdout


def test_json_format_and_out_file(measured, tmp_path):
    out = tmp_path / "gate.json"
    proc = perfgate("compare", "slow.json", "--format", "json", "--gate-out", str(out), cwd=measured)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema_version"] == GATE_SCHEMA_VERSION
    assert data["kind"] == "perfgate-gate"
    assert data["status"] == "regression"
    assert data["exit_code"] == 1
    verdicts = {(v["scenario"], v["metric"]): v for v in data["verdicts"]}
    assert verdicts[("short", "ttft_ms")]["verdict"] == "regressed"
    assert verdicts[("short", "ttft_ms")]["change"] == pytest.approx(0.30, abs=0.08)
    assert verdicts[("short", "decode_tok_s")]["verdict"] != "regressed"
    assert verdicts[("short", "peak_runtime_rss_mb")]["informational"] is True  # the sim tier's memory
    assert json.loads(out.read_text(encoding="utf-8")) == data
    assert read_model(out, GateReport, what="gate", current_version=GATE_SCHEMA_VERSION).status.value == "regression"


def copy_baselines(measured, project):
    target = project / "baselines"
    shutil.copytree(measured / "baselines", target)
    return target / "sim.json"


def test_corrupt_baseline_is_exit_2_naming_the_file(measured, project):
    baseline = copy_baselines(measured, project)
    baseline.write_text(baseline.read_text(encoding="utf-8")[:300], encoding="utf-8")
    proc = perfgate("compare", str(measured / "same.json"), cwd=project)
    assert proc.returncode == 2
    (error,) = error_lines(proc)
    assert "baselines/sim.json" in error
    assert "not valid JSON" in error
    assert "Traceback" not in proc.stderr


def test_newer_baseline_schema_says_upgrade(measured, project):
    baseline = copy_baselines(measured, project)
    data = json.loads(baseline.read_text(encoding="utf-8"))
    data["schema_version"] = 99
    baseline.write_text(json.dumps(data), encoding="utf-8")
    proc = perfgate("compare", str(measured / "same.json"), cwd=project)
    assert proc.returncode == 2
    (error,) = error_lines(proc)
    assert "upgrade perfgate" in error
    assert "baselines/sim.json" in error


def test_missing_baseline_is_exit_3_naming_the_expected_path(measured, project):
    proc = perfgate("compare", str(measured / "same.json"), cwd=project)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    (error,) = error_lines(proc)
    assert "baselines/sim.json: no baseline for tier 'sim'" in error
    assert proc.stdout.startswith("Could not measure: baseline missing on sim")
    assert "Traceback" not in proc.stderr


def test_corrupt_results_file_is_exit_2_naming_it(project):
    bad = project / "results-sim.json"
    bad.write_text('{"schema_version": 1, "kind": "perfgate-results"', encoding="utf-8")
    proc = perfgate("compare", str(bad), cwd=project)
    assert proc.returncode == 2
    (error,) = error_lines(proc)
    assert str(bad) in error
    assert "Traceback" not in proc.stderr


def test_baseline_update_refuses_simulated_results_for_a_hardware_tier(measured, project):
    run = perfgate("run", *SIM, "--tier", "pro", "--runs", "2", "--out", "pro.json", cwd=project)
    assert run.returncode == 0, run.stderr
    proc = perfgate("baseline", "update", "--tier", "pro", "--from", "pro.json", cwd=project)
    assert proc.returncode == 2
    (error,) = error_lines(proc)
    assert "simulated results cannot become the baseline of tier 'pro'" in error
    assert not (project / "baselines" / "pro.json").exists()
    wrong_tier = perfgate("baseline", "update", "--tier", "pro", "--from", str(measured / "same.json"), cwd=project)
    assert wrong_tier.returncode == 2
    (error,) = error_lines(wrong_tier)
    assert "results are for tier 'sim', not 'pro'" in error


def test_baseline_diff_against_git_head(measured, project):
    copy_baselines(measured, project)
    git(project, "init", "-q")
    git(project, "add", "baselines", "pyproject.toml")
    git(project, "commit", "-q", "-m", "baseline")
    unchanged = perfgate("baseline", "diff", "--base-ref", "HEAD", cwd=project)
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.stdout.strip() == "no baseline changed since HEAD"

    sources = [str(measured / "base.json"), str(measured / "same.json")]
    update = perfgate("baseline", "update", "--tier", "sim", "--from", *sources, cwd=project)
    assert update.returncode == 0, update.stderr
    proc = perfgate("baseline", "diff", "--base-ref", "HEAD", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("baselines/sim.json (changed, tier sim)")
    (e2e_row,) = [line for line in proc.stdout.splitlines() if line.split()[1:2] == ["e2e_ms"]]
    assert e2e_row.split()[-1] == "12/17"
    assert "ms" in e2e_row
    md = perfgate("baseline", "diff", "--base-ref", "HEAD", "--format", "md", cwd=project)
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("### Baseline changes (old vs new)")
    assert "#### `baselines/sim.json` — changed" in md.stdout
    assert "| 12/17" in md.stdout
