"""perfgate against llama.cpp's real C++ server (the xllamacpp wheel) on the generated tiny model.

These tests fail rather than skip when xllamacpp is missing or the server
cannot start: the extra is part of the test install, and a runtime test that
quietly did not run reads as a passing one.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import httpx
import psutil
import pytest
from support.children import kill_hard, launcher
from support.runs import refused_as_untimed, until_timed
from support.waiting import still_alive

from perfgate.errors import RuntimeUnavailable
from perfgate.llamacpp.launch import LlamaCppProcess
from perfgate.llamacpp.model import ensure_model

SERVER_MODULE = "perfgate.llamacpp.server"
PROJECT_TOML = """\
[tool.perfgate]
results_dir = "perf-results"

[tool.perfgate.tiers.e2e]
description = "whatever machine runs the e2e tests"
auto_detect = false
"""


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def project(tmp_path, cache_dir):
    (tmp_path / "pyproject.toml").write_text(PROJECT_TOML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFGATE_")}
    env["PERFGATE_RUNTIME__MODEL_CACHE_DIR"] = str(cache_dir)
    return tmp_path, env


def _server_pids(root: psutil.Process) -> set[int]:
    try:
        tree = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    found = set()
    for proc in tree:
        try:
            if SERVER_MODULE in " ".join(proc.cmdline()):
                found.add(proc.pid)
        except psutil.Error:
            continue
    return found


def run_perfgate(project, *args: str, timeout_s: float = 300.0):
    """Run `perfgate run --runtime llamacpp` as a subprocess; also return the server PIDs seen while it ran."""
    cwd, env = project
    argv = [sys.executable, "-m", "perfgate", "run", "--runtime", "llamacpp", "--tier", "e2e", *args]
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        seen |= _server_pids(root)
        time.sleep(0.02)
    try:
        stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    return proc.returncode, stdout, stderr, seen


def test_the_llamacpp_extra_is_installed():
    for module in ("xllamacpp", "gguf"):
        importlib.import_module(module)  # ImportError here is the failure: pip install -e '.[test]'


def test_run_end_to_end_on_the_real_server(project):
    code, stdout, stderr, server_pids = until_timed(
        lambda: run_perfgate(project, "--model-size", "tiny", "--runs", "5", "--warmup", "1", "--out", "results.json"),
        lambda outcome: refused_as_untimed(outcome[0], outcome[2]),
    )
    assert code == 0, f"perfgate run exited {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    assert len(server_pids) == 1, f"expected one llama.cpp server child, saw {server_pids}"
    assert still_alive(server_pids) == set(), "the server outlived the run"

    result = json.loads((project[0] / "results.json").read_text(encoding="utf-8"))
    assert result["failures"] == []
    runtime = result["runtime"]
    assert runtime["kind"] == "llamacpp"
    assert re.fullmatch(r"xllamacpp 2026\.10\.11549 \(b\d+-\w+\)", runtime["version"])  # /props build_info
    assert runtime["model"] == "perfgate-tiny"
    assert len(runtime["model_digest"]) == 64
    assert result["simulated"] is False
    for scenario in result["scenarios"]:
        # 5 runs, and one more in place of each sample a busy machine made suspect (while most were).
        suspect = sum(1 for sample in scenario["samples"] if sample.get("suspect_reason"))
        assert len(scenario["samples"]) == 5 or (len(scenario["samples"]) > 5 and suspect > 0)
        for sample in scenario["samples"]:
            assert sample["ttft_ms"] > 0
            assert sample["decode_source"] == "server"
            assert sample["decode_tok_s"] > 0
            assert sample["client_decode_tok_s"] > 0
            assert sample["prefill_tok_s"] > 0
            assert sample["peak_runtime_rss_mb"] > 0
            assert sample["token_count_source"] == "server"
            # The biased output rows keep generation away from end-of-generation tokens.
            assert sample["done_reason"] == "length"
            assert sample["output_tokens"] == scenario["options"]["num_predict"]
    prefill = next(s for s in result["scenarios"] if s["name"] == "prefill")
    # Every measured request prefills its whole prompt: llama.cpp's prompt cache is off.
    assert all(s["prompt_tokens"] > 1000 for s in prefill["samples"])
    assert prefill["summaries"]["prefill_tok_s"]["median"] > 1000


def test_200_back_to_back_requests_lose_no_sample(project):
    code, stdout, stderr, server_pids = until_timed(
        lambda: run_perfgate(
            project, "--scenario", "short-explain", "--runs", "200", "--warmup", "1", "--out", "results.json"
        ),
        lambda outcome: refused_as_untimed(outcome[0], outcome[2]),
    )
    assert code == 0, f"perfgate run exited {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    assert still_alive(server_pids) == set()
    result = json.loads((project[0] / "results.json").read_text(encoding="utf-8"))
    assert result["failures"] == []
    (scenario,) = result["scenarios"]
    samples = scenario["samples"]
    assert [s["iteration"] for s in samples] == list(range(200))
    assert all(s["ttft_ms"] is not None and s["output_tokens"] == 64 for s in samples)
    retried = sum(s["retries_before_first_byte"] for s in samples)
    print(f"200 back-to-back requests: {retried} re-sent before their first byte")
    assert retried <= 10, f"{retried} of 200 requests needed a re-send"


def test_server_serves_the_alias_and_tokenizes_any_input(cache_dir):
    model = ensure_model(cache_dir, "tiny")
    with LlamaCppProcess(model.path, "perfgate-tiny") as server, httpx.Client(timeout=10) as http:
        assert http.get(f"{server.base_url}/health").json() == {"status": "ok"}
        served = [m["id"] for m in http.get(f"{server.base_url}/v1/models").json()["data"]]
        assert served == ["perfgate-tiny"]  # the alias as a set of one name, not a set of letters
        text = "Explain naïve Bzzbe: 🙂\n"
        tokens = http.post(f"{server.base_url}/tokenize", json={"content": text}).json()["tokens"]
        assert http.post(f"{server.base_url}/detokenize", json={"tokens": tokens}).json()["content"].strip() == (
            text.strip()
        )
        rss_mb = psutil.Process(server.pid).memory_info().rss / 2**20
        print(f"llama.cpp server RSS on the tiny model: {rss_mb:.1f} MB")
        assert rss_mb > 5


def test_a_server_that_cannot_load_its_model_is_reported_with_its_stderr(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(RuntimeUnavailable, match=r"exited with code 1; stderr: .*(failed to load|Failed to init)"):
        LlamaCppProcess(bad, "broken").start()


def test_killed_launcher_leaves_no_server_behind(cache_dir):
    model = ensure_model(cache_dir, "tiny")
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from perfgate.llamacpp.launch import LlamaCppProcess
        server = LlamaCppProcess(Path({str(model.path)!r}), "perfgate-tiny")
        server.start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    with launcher(script) as (child, server_pid):
        assert psutil.pid_exists(server_pid)
        kill_hard(child)  # no chance to clean up: the server must notice by itself
        assert still_alive({server_pid}) == set()


def test_sigterm_stops_the_server_promptly(cache_dir):
    model = ensure_model(cache_dir, "tiny")
    server = LlamaCppProcess(model.path, "perfgate-tiny")
    server.start()
    pid = server.pid
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 4.0  # SIGTERM honoured, not escalated to SIGKILL after 5 s
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
