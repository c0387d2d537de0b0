"""The floor of issue 19, end to end: 30 default-branch gate runs of the simulator, each a little slower and
each passing its gate, then `perfgate history drift` exits 1 and files a drift entry naming the commits to bisect.

Real processes measure: `perfgate run --runtime sim` (its own simulator each time, the creep injected as
its time to first token); `perfgate gate` (run in this process, to keep the test short: it reads files and
writes files) records into the history store as `history.store` says; one git commit per run.

Two measured runs per scenario: too few for any gate to show a regression (the smallest p-value of
2 runs against 6 is 1/28, above α once Holm counts the gate's tests), as a noisy CI's few runs are;
so every gate passes, by design and on any machine, however busy, while the creep adds up to +29 %.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from support.cli import clean_env
from support.cli import perfgate as run_perfgate
from support.git import HERMETIC, git

from perfgate.cli import main
from perfgate.contracts.triage import LEDGER_SCHEMA_VERSION, TriageLedger
from perfgate.errors import Kind
from perfgate.files import read_model

RUNS = 30
TTFT_MS = 50.0
CREEP = 0.01  # each run 1 % slower to its first token than the one before
SIM = ("--runtime", "sim", "--tier", "sim", "--sim-tok-s", "400", "--sim-jitter-cv", "0.01", "--sim-load-ms", "0")
CONFIG = """[tool.perfgate]
runs = 2
warmup = 1

[tool.perfgate.gate]
min_baseline_samples = 4

[tool.perfgate.history]
store = "perf-history"

[tool.perfgate.scenarios]
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.short]
prompt = "Explain what Bzzbe does in two short sentences."
num_predict = 8
"""


def perfgate(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_perfgate(*args, cwd=cwd, env=clean_env(**HERMETIC), timeout=180)


def gate_in_process(root: Path, results: Path) -> tuple[int, str]:
    """``perfgate gate --results-dir results`` in ``root``, outside GitHub Actions (a local default-branch run)."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        patch.chdir(root)
        for name in [n for n in os.environ if n.startswith(("GITHUB_", "PERFGATE_", "RUNNER_"))]:
            patch.delenv(name)
        code = main(["gate", "--results-dir", str(results)])
    return code, out.getvalue()


def head(repo: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def crept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """The project after its baseline and 30 creeping default-branch runs: (root, run commits, baseline commit)."""
    root = tmp_path_factory.mktemp("creep")
    (root / "pyproject.toml").write_text(CONFIG, encoding="utf-8")
    (root / ".gitignore").write_text("perf-results/\nperf-history/\n", encoding="utf-8")
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "app")
    baseline_commit = head(root)  # the commit the baseline measures
    base = ("--runs", "6", "--sim-ttft-ms", f"{TTFT_MS:g}", "--out", "perf-results/base.json")
    made = perfgate("run", *SIM, *base, cwd=root)
    assert made.returncode == 0, made.stderr
    update = perfgate("baseline", "update", "--tier", "sim", "--from", "perf-results/base.json", cwd=root)
    assert update.returncode == 0, update.stderr
    git(root, "add", "baselines")
    git(root, "commit", "--quiet", "-m", "baseline")
    commits: list[str] = []
    for k in range(RUNS):
        git(root, "commit", "--quiet", "--allow-empty", "-m", f"PR {k}: a little slower")
        commits.append(head(root))
        results = root / "perf-results" / f"run{k}"
        ttft = TTFT_MS * (1 + CREEP * k)
        run = perfgate("run", *SIM, "--sim-ttft-ms", f"{ttft:.2f}", "--out", results / "results-sim.json", cwd=root)
        assert run.returncode == 0, run.stderr
        code, said = gate_in_process(root, results)
        assert code == 0, f"run {k} (TTFT {ttft:.1f} ms) did not pass its gate:\n{said}"
    return root, commits, baseline_commit


def test_every_default_branch_run_is_in_the_store(crept):
    root, commits, _ = crept
    files = sorted((root / "perf-history" / "sim").glob("*.json"))
    assert len(files) == RUNS
    assert sorted(json.loads(f.read_text(encoding="utf-8"))["commit"] for f in files) == sorted(commits)


def test_history_drift_exits_1_and_files_a_drift_entry_naming_the_range_to_bisect(crept):
    root, commits, baseline_commit = crept
    proc = perfgate("history", "drift", cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "DRIFT" in proc.stdout
    assert "sim/short/ttft_ms" in proc.stdout
    assert "refresh it with `nox -s baseline -- --tier sim`" in proc.stdout
    ledger = read_model(
        root / "perf-results" / "triage-ledger.json",
        TriageLedger,
        what="triage ledger",
        current_version=LEDGER_SCHEMA_VERSION,
    )
    entry = next(e for e in ledger.entries if e.fingerprint == "drift:sim:short:ttft_ms")
    assert entry.kind is Kind.DRIFT
    assert entry.status == "open"
    summary = entry.last_seen.summary
    good, bad = summary.rsplit("bisect ", 1)[1].split("..")
    known = [baseline_commit[:12], *(c[:12] for c in commits)]
    assert good in known
    assert bad in known
    assert known.index(good) < known.index(bad)


def test_drift_as_json_names_each_change_point_and_the_drift_since_the_baseline(crept):
    root, _, baseline_commit = crept
    proc = perfgate("history", "drift", "--format", "json", "--no-triage", cwd=root)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    ttft = next(s for s in report["series"] if (s["scenario"], s["metric"]) == ("short", "ttft_ms"))
    assert ttft["runs"] == RUNS
    assert ttft["cumulative"]["baseline_commit"] == baseline_commit
    assert ttft["cumulative"]["change"] > 0.15
    assert ttft["cumulative"]["past_threshold"] is True
    assert report["refresh"] == [
        {"tier": "sim", "reasons": report["refresh"][0]["reasons"], "command": "nox -s baseline -- --tier sim"}
    ]


def test_an_empty_store_is_never_no_drift(tmp_path):
    (tmp_path / "store").mkdir()
    proc = perfgate("history", "drift", "--store", tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 3
    assert "nothing to compare" in proc.stderr
