"""The simulated runtime over real sockets: wire shapes, load state, the runner child, timing accuracy.

Every server runs in-process (SimServer in a thread) and is talked to with
raw httpx, the way a runtime client would.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil
import pytest

from perfgate.sim.profile import SimProfile
from perfgate.sim.server import SimServer

MODEL = "qwen2.5:7b-instruct-q4_K_M"
FAST = {"ttft_ms": 2.0, "tok_s": 1000.0, "jitter_cv": 0.0, "load_ms": 0.0, "ballast_mb": 0}


@dataclass
class Stream:
    status: int
    content_type: str
    lines: list[str]
    stamps: list[int]  # perf_counter_ns at each line
    sent_ns: int  # when the request body was on the wire

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def events(self) -> list[str]:
        return [line for line in self.lines if line]


def stream(client: httpx.Client, path: str, body: dict[str, Any]) -> Stream:
    """Send one request and timestamp every line as it arrives."""
    sent: list[int] = []

    def trace(name: str, info: object) -> None:
        # Timing starts when the request is on the wire: httpx's own request
        # building (~1 ms here) is the client's cost, not the simulator's.
        if name == "http11.send_request_body.complete":
            sent.append(time.perf_counter_ns())

    lines: list[str] = []
    stamps: list[int] = []
    with client.stream("POST", path, json=body, extensions={"trace": trace}) as response:
        for line in response.iter_lines():
            stamps.append(time.perf_counter_ns())
            lines.append(line)
        return Stream(response.status_code, response.headers.get("content-type", ""), lines, stamps, sent[0])


def chat(num_predict: int, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say hi."}],
        "options": {"num_predict": num_predict},
        **extra,
    }


def gen(num_predict: int, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": "Say hi.", "options": {"num_predict": num_predict}, **extra}


def oai(max_tokens: int, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": max_tokens,
        "stream": True,
        **extra,
    }


@pytest.fixture
def start_sim() -> Iterator[Callable[..., tuple[SimServer, httpx.Client]]]:
    started: list[tuple[SimServer, httpx.Client]] = []

    def start(**overrides: Any) -> tuple[SimServer, httpx.Client]:
        server = SimServer(SimProfile(**{**FAST, **overrides}))
        server.start()
        client = httpx.Client(base_url=server.base_url, timeout=httpx.Timeout(10.0))
        started.append((server, client))
        return server, client

    yield start
    for server, client in started:
        client.close()
        server.stop()


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
    assert warm["load_duration"] < 20_000_000
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
    # Honest server: eval_duration is its own first-to-last emission (6 gaps of
    # 2 ms when nothing is late), which the client sees too, give or take transit.
    client_span = result.stamps[-2] - result.stamps[0]
    # The client may read late-arriving chunks together (a loaded machine), which
    # shortens what it sees, never lengthens it beyond transit.
    assert client_span <= done["eval_duration"] + 1_500_000
    assert 6_000_000 < done["eval_duration"] < 30_000_000


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
    token_stamps = [t for line, t in zip(result.lines, result.stamps, strict=True) if '"content":" ' in line]
    assert len(token_stamps) == 4
    client_span_ms = (token_stamps[-1] - token_stamps[0]) / 1e6
    assert client_span_ms <= timings["predicted_ms"] + 1.5  # coalesced reads only shorten the client's view
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


# ---------------------------------------------------------------- timing accuracy


def test_ttft_matches_profile(start_sim):
    _, client = start_sim(ttft_ms=30)
    stream(client, "/api/generate", gen(2))  # connection and first-request warm-up
    ttfts = []
    for _ in range(7):
        result = stream(client, "/api/generate", gen(2))
        ttfts.append((result.stamps[0] - result.sent_ns) / 1e6)
    median = statistics.median(ttfts)
    assert abs(median - 30) <= max(2.0, 0.02 * 30), ttfts


@pytest.mark.parametrize(("tok_s", "tokens"), [(20, 10), (200, 60), (2000, 600)])
def test_client_decode_rate_matches_profile(start_sim, tok_s, tokens):
    _, client = start_sim(tok_s=tok_s)
    stream(client, "/api/generate", gen(2))
    rates = []
    for _ in range(3):
        stamps = stream(client, "/api/generate", gen(tokens)).stamps[:-1]  # drop the done line
        assert len(stamps) == tokens
        rates.append((tokens - 1) / ((stamps[-1] - stamps[0]) / 1e9))
    assert statistics.median(rates) == pytest.approx(tok_s, rel=0.02), rates


def test_jitter_varies_requests_around_the_mean(start_sim):
    _, client = start_sim(ttft_ms=20, jitter_cv=0.3, seed=5)
    waits = [stream(client, "/api/generate", gen(1)).json_lines()[-1]["prompt_eval_duration"] for _ in range(8)]
    assert len(set(waits)) == 8
    assert max(waits) / min(waits) > 1.2
    assert 10e6 < statistics.fmean(waits) < 30e6
