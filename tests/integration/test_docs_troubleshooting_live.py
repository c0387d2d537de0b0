"""The messages quoted in docs/troubleshooting.md that take a socket or a process to provoke.

(Moved from tests/unit/test_docs_troubleshooting.py, which keeps the others.)
"""

from __future__ import annotations

import socket

import httpx
import pytest
from support.docs import quoted

from perfgate.cli import main
from perfgate.errors import MemoryUnavailable, ModelMissing
from perfgate.measure.locate import locate_runtime
from perfgate.runtimes.ollama import OllamaClient
from perfgate.sim.launch import SimProcess
from perfgate.sim.profile import SimProfile


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


@pytest.mark.skipif(port_in_use(11434), reason="something listens on 11434 here")
def test_memory_unavailable():
    with pytest.raises(MemoryUnavailable) as caught:
        locate_runtime("http://127.0.0.1:11434")
    assert str(caught.value) == quoted("no process found listening")
