"""Every fault mode of the simulated runtime, seen by a raw httpx client over real sockets.

(How a stall delays the stream and pacing resumes after it is timed in test_timing_accuracy.py.)
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from support.sim import MODEL

from perfgate.sim.generate import FAULT_TOKENS

CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "options": {"num_predict": 8}}
GEN = {"model": MODEL, "prompt": "hi", "options": {"num_predict": 8}}
OPENAI = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "stream": True}


def read_lines(client: httpx.Client, path: str, body: dict[str, Any], into: list[str]) -> int:
    """Stream into ``into`` line by line (kept even if the stream then fails); return the status."""
    with client.stream("POST", path, json=body) as response:
        for line in response.iter_lines():
            into.append(line)
        return response.status_code


def content_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [obj for obj in map(json.loads, lines) if not obj.get("done") and "error" not in obj]


def test_model_missing(start_sim):
    _, client = start_sim(fault="model_missing")
    for path in ("/api/chat", "/api/generate", "/api/show"):
        body = CHAT if path == "/api/chat" else {"model": MODEL, "prompt": "hi"}
        response = client.post(path, json=body)
        assert response.status_code == 404, path
        assert response.json() == {"error": f"model '{MODEL}' not found"}
    assert client.get("/api/tags").json() == {"models": []}
    assert client.get("/v1/models").json()["data"] == []
    openai = client.post("/v1/chat/completions", json=OPENAI)
    assert openai.status_code == 404
    error = openai.json()["error"]
    assert MODEL in error["message"]
    assert {"type", "code"} <= set(error)
    assert client.get("/api/version").status_code == 200  # the runtime itself is up


def test_http_500(start_sim):
    _, client = start_sim(fault="http_500")
    response = client.post("/api/chat", json=CHAT)
    assert response.status_code == 500
    assert "error" in response.json()
    openai = client.post("/v1/chat/completions", json=OPENAI)
    assert openai.status_code == 500
    assert openai.json()["error"]["message"]


def test_error_midstream_ndjson_and_sse(start_sim):
    _, client = start_sim(fault="error_midstream")
    lines: list[str] = []
    assert read_lines(client, "/api/chat", CHAT, lines) == 200
    *tokens, last = [json.loads(line) for line in lines]
    assert len(tokens) == FAULT_TOKENS
    assert all(t["done"] is False for t in tokens)
    assert set(last) == {"error"}
    events: list[str] = []
    assert read_lines(client, "/v1/chat/completions", OPENAI, events) == 200
    data = [e.removeprefix("data: ") for e in events if e.startswith("data: ")]
    assert "[DONE]" not in data
    assert set(json.loads(data[-1])["error"]) == {"message", "type", "code"}


def test_disconnect_midstream(start_sim):
    _, client = start_sim(fault="disconnect_midstream")
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        read_lines(client, "/api/generate", GEN, lines)
    assert len(content_lines(lines)) == FAULT_TOKENS
    assert not any(json.loads(line).get("done") for line in lines)
    events: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        read_lines(client, "/v1/chat/completions", OPENAI, events)
    assert "data: [DONE]" not in events
    assert client.get("/api/version").status_code == 200  # only that connection died


def test_stall_trips_a_read_timeout_and_stop_ends_it(start_sim):
    server, _ = start_sim(fault="stall", stall_s=30.0)
    lines: list[str] = []
    with (
        httpx.Client(base_url=server.base_url, timeout=httpx.Timeout(5.0, read=0.3)) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        read_lines(impatient, "/api/chat", CHAT, lines)
    assert len(content_lines(lines)) == FAULT_TOKENS
    started = time.monotonic()
    server.stop()  # the stalled handler must not hold shutdown for stall_s
    assert time.monotonic() - started < 3.0


def test_malformed_line(start_sim):
    _, client = start_sim(fault="malformed_line")
    lines: list[str] = []
    assert read_lines(client, "/api/chat", CHAT, lines) == 200
    bad = lines[FAULT_TOKENS]
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad)
    assert all(json.loads(line)["done"] is False for line in lines[:FAULT_TOKENS])
    events: list[str] = []
    read_lines(client, "/v1/chat/completions", OPENAI, events)
    payloads = [e.removeprefix("data: ") for e in events if e.startswith("data: ") and e != "data: [DONE]"]
    failures = 0
    for payload in payloads:
        try:
            json.loads(payload)
        except json.JSONDecodeError:
            failures += 1
    assert failures == 1


def test_fault_after_counts_generations_not_preloads(start_sim):
    _, client = start_sim(fault="http_500", fault_after=2)
    assert client.post("/api/generate", json={"model": MODEL}).json()["done_reason"] == "load"
    assert client.post("/api/chat", json={**CHAT, "stream": False}).status_code == 200
    assert client.post("/api/generate", json={"model": MODEL}).status_code == 200  # preload: not counted
    assert client.post("/api/chat", json={**CHAT, "stream": False}).status_code == 200
    assert client.post("/api/chat", json={**CHAT, "stream": False}).status_code == 500
    assert client.post("/api/chat", json={**CHAT, "stream": False}).status_code == 500


def test_model_missing_after_some_requests_hides_the_tag(start_sim):
    _, client = start_sim(fault="model_missing", fault_after=1)
    assert len(client.get("/api/tags").json()["models"]) == 1
    assert client.post("/api/chat", json={**CHAT, "stream": False}).status_code == 200
    assert client.get("/api/tags").json() == {"models": []}
    assert client.post("/api/chat", json={**CHAT, "stream": False}).status_code == 404


def test_concurrent_streams_are_independent(start_sim):
    _, client = start_sim(tok_s=200)
    results: list[int] = []

    def one() -> None:
        with httpx.Client(base_url=client.base_url, timeout=10.0) as own:
            lines: list[str] = []
            read_lines(own, "/api/chat", CHAT, lines)
            results.append(json.loads(lines[-1])["eval_count"])

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [8, 8, 8]
