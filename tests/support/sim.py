"""Simulator servers in this process (``SimServer`` in a thread), each with an httpx client, and
request bodies and a line-stamping ``stream`` for talking to them the way a runtime client would."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from perfgate.sim.profile import SimProfile
from perfgate.sim.server import SimServer

MODEL = "qwen2.5:7b-instruct-q4_K_M"
# Fast and exact unless a test says otherwise: 2 ms to the first token, 1,000 tok/s, no jitter, no load, no ballast.
FAST = {"ttft_ms": 2.0, "tok_s": 1000.0, "jitter_cv": 0.0, "load_ms": 0.0, "ballast_mb": 0}

StartSim = Callable[..., tuple[SimServer, httpx.Client]]


@contextmanager
def sim_servers() -> Iterator[StartSim]:
    """Yields ``start(**profile_overrides)``; every server started is stopped (and its client closed) on exit."""
    started: list[tuple[SimServer, httpx.Client]] = []

    def start(**overrides: Any) -> tuple[SimServer, httpx.Client]:
        server = SimServer(SimProfile(**{**FAST, **overrides}))
        server.start()
        client = httpx.Client(base_url=server.base_url, timeout=httpx.Timeout(10.0))
        started.append((server, client))
        return server, client

    try:
        yield start
    finally:
        for server, client in started:
            client.close()
            server.stop()


@dataclass
class Stream:
    """One streamed response as the client saw it, line by line, with perf_counter_ns stamps."""

    status: int
    content_type: str
    lines: list[str]
    stamps: list[int]  # perf_counter_ns at each line
    before_ns: int  # just before the request was built: earlier than anything the server does for it
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
    before = time.perf_counter_ns()
    with client.stream("POST", path, json=body, extensions={"trace": trace}) as response:
        for line in response.iter_lines():
            stamps.append(time.perf_counter_ns())
            lines.append(line)
        return Stream(response.status_code, response.headers.get("content-type", ""), lines, stamps, before, sent[0])


def chat(num_predict: int, **extra: Any) -> dict[str, Any]:
    """An Ollama /api/chat body asking for ``num_predict`` tokens."""
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say hi."}],
        "options": {"num_predict": num_predict},
        **extra,
    }


def gen(num_predict: int, **extra: Any) -> dict[str, Any]:
    """An Ollama /api/generate body asking for ``num_predict`` tokens."""
    return {"model": MODEL, "prompt": "Say hi.", "options": {"num_predict": num_predict}, **extra}


def oai(max_tokens: int, **extra: Any) -> dict[str, Any]:
    """A streamed OpenAI /v1/chat/completions body asking for ``max_tokens`` tokens."""
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": max_tokens,
        "stream": True,
        **extra,
    }
