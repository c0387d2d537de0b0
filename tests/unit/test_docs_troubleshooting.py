"""The messages quoted in docs/troubleshooting.md are the ones perfgate prints.

The ones that need a socket or a process (nothing listening on Ollama's port, a
simulator without the model) are in tests/integration/test_docs_troubleshooting_live.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from support.docs import quoted
from support.synthetic import make_baseline, make_result, write_baselines

from perfgate.cli import main
from perfgate.contracts.baseline import load_baseline
from perfgate.errors import BadFileError, NewerSchemaError, PublishError
from perfgate.files import write_model
from perfgate.publish.comment import upsert_sticky_comment
from perfgate.publish.github import GitHubClient


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
[tool.perfgate.tiers.local]
enabled = false
""",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    pattern = re.escape(quoted("host (")).replace(re.escape("Intel(R) Xeon(R) Processor, 23.5 GiB, linux 6"), ".*")
    assert re.fullmatch(f"perfgate: {pattern}", err), err


def test_incomparable_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_baselines(tmp_path / "baselines", make_baseline())
    write_model(tmp_path / "results.json", make_result(seed=2, chip="Apple M4 Pro"))
    assert main(["compare", "results.json"]) == 3
    assert f"perfgate: {quoted('baseline and results differ in chip')}" in capsys.readouterr().err.splitlines()


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
    data["schema_version"] = 4
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(NewerSchemaError) as caught:
        load_baseline(path)
    assert str(caught.value) == quoted("baselines/pro.json: baseline file has schema_version 4")


def test_github_refused():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "Bad credentials"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = GitHubClient(http, token="ghp_docs_example_token", repository="acme/app", sleep=lambda _s: None)
    with pytest.raises(PublishError) as caught:
        upsert_sticky_comment(client, 7, "body")
    assert f"PR comment not posted: {caught.value}" == quoted("PR comment not posted")
