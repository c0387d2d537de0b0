"""The messages quoted in docs/troubleshooting.md are the ones perfgate prints."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx
import pytest

from perfgate.cli import main
from perfgate.contracts.baseline import load_baseline
from perfgate.errors import BadFileError, MemoryUnavailable, ModelMissing, NewerSchemaError, PublishError
from perfgate.measure.memory import locate_runtime
from perfgate.publish.comment import upsert_sticky_comment
from perfgate.publish.github import GitHubClient
from perfgate.runtimes.ollama import OllamaClient
from perfgate.sim.launch import SimProcess
from perfgate.sim.profile import SimProfile

DOC = (Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
QUOTED = [line for line in DOC.splitlines() if line.startswith("perfgate: ")]


def quoted(prefix: str) -> str:
    (line,) = [q for q in QUOTED if q.startswith(f"perfgate: {prefix}")]
    return line.removeprefix("perfgate: ")


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(port_in_use(11434), reason="something (a real Ollama?) listens on 11434 here")
def test_runtime_not_running(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--tier", "pro", "--out", str(tmp_path / "r.json")])
    assert code == 3
    assert f"perfgate: {quoted('runtime unavailable')}" in capsys.readouterr().err.splitlines()


def test_model_not_pulled():
    with SimProcess(SimProfile(fault="model_missing", ballast_mb=0)) as sim, httpx.Client() as http:
        with pytest.raises(ModelMissing) as caught:
            OllamaClient(http, base_url=sim.base_url, model="qwen2.5:7b-instruct-q4_K_M").preflight()
        port = sim.base_url.rsplit(":", 1)[1]
    assert str(caught.value).replace(f":{port}", ":11434") == quoted("model missing")


def test_tier_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    assert main(["gate", "--results-dir", "results", "--expect-tiers", "pro"]) == 3
    assert f"perfgate: {quoted('no results for expected tier')}" in capsys.readouterr().err.splitlines()


def test_no_tier_matches(capsys, monkeypatch, tmp_path):
    # A project that lists only Apple Silicon tiers (no catch-all `local` tier).
    (tmp_path / "pyproject.toml").write_text(
        """
[tool.perfgate.tiers.base.match]
chip_regex = "Apple M[12]"
os = "darwin"
[tool.perfgate.tiers.pro.match]
chip_regex = "Apple M3 Pro"
os = "darwin"
[tool.perfgate.tiers.sim]
simulated = true
auto_detect = false
""",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    pattern = re.escape(quoted("host (")).replace(re.escape("Intel(R) Xeon(R) Processor, 23.5 GiB, linux 6"), ".*")
    assert re.fullmatch(f"perfgate: {pattern}", err), err


@pytest.mark.skipif(port_in_use(11434), reason="something listens on 11434 here")
def test_memory_unavailable():
    with pytest.raises(MemoryUnavailable) as caught:
        locate_runtime("http://127.0.0.1:11434")
    assert str(caught.value) == quoted("no process found listening")


def test_corrupt_and_newer_baselines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = Path(__file__).resolve().parents[2] / "baselines" / "sim.json"
    data = json.loads(good.read_text(encoding="utf-8"))
    data["tier"] = "pro"
    (tmp_path / "baselines").mkdir()
    path = Path("baselines/pro.json")
    data["samples"]["short-explain"]["ttft_ms"][0] = "fast"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BadFileError) as caught:
        load_baseline(path)
    assert str(caught.value) == quoted("baselines/pro.json: invalid")
    data["samples"]["short-explain"]["ttft_ms"][0] = 40.0
    data["schema_version"] = 2
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(NewerSchemaError) as caught:
        load_baseline(path)
    assert str(caught.value) == quoted("baselines/pro.json: baseline file has schema_version 2")


def test_github_refused():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "Bad credentials"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = GitHubClient(http, token="ghp_docs_example_token", repository="acme/app", sleep=lambda _s: None)
    with pytest.raises(PublishError) as caught:
        upsert_sticky_comment(client, 7, "body")
    assert f"PR comment not posted: {caught.value}" == quoted("PR comment not posted")
