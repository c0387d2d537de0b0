"""The simulated runtime over real sockets: wire shapes, load state, the runner child.

Every server runs in-process (SimServer in a thread, the ``start_sim`` fixture) and
is talked to with raw httpx, the way a runtime client would. How accurately it
keeps the profile's timing is in test_timing_accuracy.py.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime

import psutil
import pytest
from support.sim import FAST, MODEL, chat, gen, oai, stream

from perfgate.sim.profile import SimProfile
from perfgate.sim.server import SimServer

# ---------------------------------------------------------------- metadata endpoints


def test_liveness_version_tags_show_models(start_sim):
    _, client = start_sim()
    assert client.get("/").text == "Ollama is running"
    assert client.get("/api/version").json() == {"version": "0.0.0-perfgate-sim"}
    (tag,) = client.get("/api/tags").json()["models"]
    assert tag["name"] == tag["model"] == MODEL
    assert tag["digest"] == hashlib.sha256(MODEL.encode()).hexdigest()
    assert tag["details"]["quantization_level"] == "Q4_K_M"
    assert tag["details"]["family"] == "qwen2"
    show = client.post("/api/show", json={"model": MODEL}).json()
    assert show["details"]["quantization_level"] == "Q4_K_M"
    assert "general.architecture" in show["model_info"]
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == [MODEL]
    assert client.get("/nope").status_code == 404


def test_ps_follows_load_and_unload(start_sim):
    _, client = start_sim(load_ms=150, ballast_mb=8)
    assert client.get("/api/ps").json() == {"models": []}
    loaded = client.post("/api/generate", json={"model": MODEL, "keep_alive": "10m"}).json()
    assert (loaded["done"], loaded["done_reason"], loaded["response"]) == (True, "load", "")
    assert loaded["load_duration"] >= 150_000_000
    (ps,) = client.get("/api/ps").json()["models"]
    assert (ps["name"], ps["size"], ps["size_vram"]) == (MODEL, 8 * 2**20, 0)
    expires = datetime.fromisoformat(ps["expires_at"].replace("Z", "+00:00"))
    assert 590 < (expires - datetime.now(UTC)).total_seconds() <= 600
    unloaded = client.post("/api/generate", json={"model": MODEL, "keep_alive": 0}).json()
    assert unloaded["done_reason"] == "unload"
    assert client.get("/api/ps").json() == {"models": []}


def test_cold_load_only_on_first_request_and_after_unload(start_sim):
    _, client = start_sim(load_ms=200, ttft_ms=5)
    cold = stream(client, "/api/chat", chat(2)).json_lines()[-1]
    warm = stream(client, "/api/chat", chat(2, keep_alive=0)).json_lines()[-1]
    cold_again = stream(client, "/api/chat", chat(2)).json_lines()[-1]
    assert cold["load_duration"] >= 200_000_000
    assert warm["load_duration"] < 100_000_000  # no load: half the cold one even on a loaded machine
    assert cold_again["load_duration"] >= 200_000_000
    # The load comes before, not out of, the prompt phase.
    assert cold["prompt_eval_duration"] >= 5_000_000 * 0.9


# ---------------------------------------------------------------- Ollama streams


@pytest.mark.parametrize(
    ("path", "body", "field"), [("/api/chat", chat, "message"), ("/api/generate", gen, "response")]
)
def test_ollama_stream_shape(start_sim, path, body, field):
    _, client = start_sim(tok_s=500)
    result = stream(client, path, body(7))
    assert result.status == 200
    assert result.content_type.startswith("application/x-ndjson")
    lines = result.json_lines()
    *parts, done = lines
    assert len(parts) == 7
    for part in parts:
        assert part["done"] is False
        assert part["model"] == MODEL
        assert part["created_at"].endswith("Z")
        text = part["message"]["content"] if field == "message" else part["response"]
        assert text.startswith(" ")
        if field == "message":
            assert part["message"]["role"] == "assistant"
    assert done["done"] is True
    assert done["done_reason"] == "length"
    assert (done["message"]["content"] if field == "message" else done["response"]) == ""
    assert done["eval_count"] == 7
    assert done["prompt_eval_count"] >= 1
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(done[key], int)
        assert done[key] > 0
    assert done["total_duration"] >= done["prompt_eval_duration"] + done["eval_duration"]
    # That eval_duration is the span the client sees: test_timing_accuracy.py.


def test_ollama_stream_false_and_default_length(start_sim):
    _, client = start_sim(tok_s=2000)
    body = client.post("/api/generate", json={"model": MODEL, "prompt": "x", "stream": False}).json()
    assert body["done"] is True
    assert body["eval_count"] == 128  # no num_predict: the simulator's default length
    assert body["response"].count(" ") == 128
    streamed = stream(client, "/api/chat", {"model": MODEL, "messages": [{"role": "user", "content": "x"}]})
    assert len(streamed.lines) == 129


def test_bad_requests_are_400(start_sim):
    _, client = start_sim()
    assert client.post("/api/chat", content=b"{not json").status_code == 400
    bad_opts = client.post("/api/generate", json={"model": MODEL, "prompt": "x", "options": {"num_predict": "many"}})
    assert bad_opts.status_code == 400
    assert "num_predict" in bad_opts.json()["error"]
    assert client.post("/api/generate", json={"model": MODEL, "prompt": "x", "keep_alive": "soon"}).status_code == 400


def test_unknown_model_is_404_in_both_dialects(start_sim):
    _, client = start_sim()
    ollama = client.post("/api/chat", json={**chat(2), "model": "llama9:404b"})
    assert (ollama.status_code, ollama.json()) == (404, {"error": "model 'llama9:404b' not found"})
    openai = client.post("/v1/chat/completions", json={**oai(2), "model": "llama9:404b"})
    assert openai.status_code == 404
    assert set(openai.json()["error"]) == {"message", "type", "code"}


# ---------------------------------------------------------------- OpenAI streams


def test_openai_sse_shape_with_usage(start_sim):
    _, client = start_sim()
    result = stream(client, "/v1/chat/completions", oai(4, stream_options={"include_usage": True}))
    assert result.status == 200
    assert result.content_type.startswith("text/event-stream")
    events = result.events()
    assert events[0] == ": ping"
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[1:-1]]
    assert all(e.startswith("data: ") for e in events[1:])
    role, *tokens, finish, usage = chunks
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": None}
    assert len(tokens) == 4
    for chunk in tokens:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["id"] == role["id"]
        assert chunk["choices"][0]["delta"]["content"].startswith(" ")
        assert chunk["choices"][0]["finish_reason"] is None
    assert finish["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "length"}
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 4
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + 4
    timings = usage["timings"]
    assert timings["predicted_n"] == 4
    # That predicted_ms is the span the client sees: test_timing_accuracy.py.
    assert timings["predicted_per_second"] == pytest.approx(4 / timings["predicted_ms"] * 1000)
    assert timings["prompt_n"] == usage["usage"]["prompt_tokens"]
    assert timings["prompt_ms"] > 0


def test_openai_without_usage_and_non_streamed(start_sim):
    _, client = start_sim()
    events = stream(client, "/v1/chat/completions", oai(2)).events()
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[1:-1]]
    assert all(chunk["choices"] for chunk in chunks)  # no usage chunk unless asked
    body = client.post("/v1/chat/completions", json={**oai(3), "stream": False}).json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"].count(" ") == 3
    assert body["usage"]["completion_tokens"] == 3


# ---------------------------------------------------------------- the runner child


def test_runner_child_holds_the_ballast_and_goes_away():
    server = SimServer(SimProfile(**{**FAST, "ballast_mb": 64}))
    server.start()
    try:
        runner_pid = server.runner_pid
        assert runner_pid is not None
        me = psutil.Process(os.getpid())
        assert runner_pid in {child.pid for child in me.children()}
        runner = psutil.Process(runner_pid)
        assert runner.ppid() == os.getpid()
        assert "perfgate.sim.runner" in " ".join(runner.cmdline())
        assert runner.memory_info().rss >= 64 * 2**20
    finally:
        server.stop()
    assert not psutil.pid_exists(runner_pid)
