"""`perfgate init`'s pure parts: the repository's shape, the runtime it finds, and the files it renders."""

from __future__ import annotations

import argparse
import re
import tomllib

import httpx
import pytest

from perfgate.commands.init import app_shape, detect_runtime, files_for, pick_model
from perfgate.commands.init_files import AppShape, InitPlan, RuntimeFound, perfgate_toml
from perfgate.commands.run_baseline import baseline_command
from perfgate.config import PerfgateConfig, load_config
from perfgate.errors import ConfigError

SELF_HOSTED = (("base", ("self-hosted", "perf-base")), ("pro", ("self-hosted", "perf-pro")))


def plan(**changes: object) -> InitPlan:
    runtime = RuntimeFound("ollama", "http://127.0.0.1:11434", True, "0.5.7", ("a:1b", "b:7b"), "Ollama 0.5.7 …")
    base = {
        "app": AppShape("swift", "Bzzbe", ("swift", "run", "BzzbePerfHarness")),
        "runtime": runtime,
        "model": "a:1b",
        "tier": "pro",
        "self_hosted": SELF_HOSTED,
    }
    return InitPlan(**{**base, **changes})  # type: ignore[arg-type]


def test_app_shape_reads_a_swift_package_name(tmp_path):
    (tmp_path / "Package.swift").write_text('let package = Package(\n    name: "Bzzbe",\n)\n', encoding="utf-8")
    shape = app_shape(tmp_path)
    assert shape.kind == "swift"
    assert shape.command[-1] == "BzzbePerfHarness"


def test_app_shape_of_a_python_project_and_of_nothing(tmp_path):
    assert app_shape(tmp_path).kind == "unknown"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "chat"\n', encoding="utf-8")
    assert (app_shape(tmp_path).kind, app_shape(tmp_path).name) == ("python", "chat")


def test_the_rendered_config_loads_and_its_app_block_uncommented_loads_too(tmp_path):
    text = perfgate_toml(plan())
    (tmp_path / "perfgate.toml").write_text(text, encoding="utf-8")
    config = load_config(cwd=tmp_path, environ={})
    assert (config.runtime.base_url, config.runtime.model, config.runs) == ("http://127.0.0.1:11434", "a:1b", 5)
    assert set(config.scenarios) == {"short-explain", "prefill"}
    # Uncommenting the app's block and the two switches gives the app-only config the comments promise.
    lines = text.splitlines()
    start = lines.index("# [scenarios.app]")
    settings = re.compile(r"# (\[|\w+ = )")
    block = [line.removeprefix("# ") for line in lines[start : start + 10] if settings.match(line)]
    uncommented = tomllib.loads("\n".join(block))
    assert uncommented["scenarios"]["app"]["command"] == ["swift", "run", "BzzbePerfHarness"]
    assert uncommented["scenarios"]["prefill"] == {"enabled": False}


def test_the_config_notes_other_models_and_a_runtime_that_did_not_answer():
    assert "It also has: b:7b." in perfgate_toml(plan())
    silent = RuntimeFound("ollama", "http://127.0.0.1:11434", False, None, (), "no ollama runtime answered …")
    assert "perfgate init found no ollama runtime answered" in perfgate_toml(plan(runtime=silent))


def test_config_in_pyproject_means_no_perfgate_toml(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.perfgate]\nruns = 3\n", encoding="utf-8")
    files, notes = files_for(tmp_path, plan())
    assert [f.path for f in files] == [".github/workflows/perf.yml", "baselines/README.md"]
    assert "already has [tool.perfgate]" in notes[0]


def test_perfgate_toml_is_read_and_both_places_at_once_are_refused(tmp_path):
    (tmp_path / "perfgate.toml").write_text("runs = 7\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert load_config(cwd=tmp_path, environ={}).runs == 7
    (tmp_path / "pyproject.toml").write_text("[tool.perfgate]\nruns = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="both hold perfgate's settings"):
        load_config(cwd=tmp_path, environ={})
    # A file named explicitly is the one read.
    assert load_config(config_file=tmp_path / "perfgate.toml", cwd=tmp_path, environ={}).runs == 7


def ollama_transport(models: list[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/version":
            return httpx.Response(200, json={"version": "0.5.7"})
        if request.url.path == "/api/tags":
            return httpx.Response(200, json={"models": [{"name": name} for name in models]})
        return httpx.Response(404)

    return httpx.MockTransport(handler)


def test_detect_runtime_lists_the_models_and_picks_the_configured_one_only_when_served():
    config = PerfgateConfig()
    with httpx.Client(transport=ollama_transport(["llama3.2:3b", config.runtime.model])) as http:
        found = detect_runtime(config, http)
    assert found.answered
    assert found.models == ("llama3.2:3b", config.runtime.model)
    assert "Ollama 0.5.7 answered" in found.note
    assert pick_model(config, found) == config.runtime.model
    with httpx.Client(transport=ollama_transport(["llama3.2:3b"])) as http:
        assert pick_model(config, detect_runtime(config, http)) == "llama3.2:3b"


def test_detect_runtime_with_nothing_listening_says_so():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as http:
        found = detect_runtime(PerfgateConfig(), http)
    assert not found.answered
    assert found.note.startswith("no ollama runtime answered at http://127.0.0.1:11434")


@pytest.mark.parametrize(
    ("argv", "expected_run"),
    [
        (
            ["run", "--compare", "--until-conclusive", "--out", "x.json", "--runtime", "sim"],
            "perfgate run --tier sim --runtime sim --for-baseline --out perf-results/baseline-sim.json",
        ),
        (
            ["--config", "p.toml", "run", "--out=x.json", "--runs", "3", "--tier", "pro", "--", "swift", "run", "H"],
            "perfgate --config p.toml run --tier pro --for-baseline --out perf-results/baseline-pro.json "
            "-- swift run H",
        ),
    ],
)
def test_the_baseline_command_keeps_what_is_measured_and_drops_the_gates_flags(argv, expected_run):
    tier = "sim" if "sim" in argv else "pro"
    command = baseline_command(argparse.Namespace(argv=argv), tier)
    run, update = command.split(" && ")
    assert run == expected_run
    assert update.endswith(f"baseline update --tier {tier} --from perf-results/baseline-{tier}.json")
