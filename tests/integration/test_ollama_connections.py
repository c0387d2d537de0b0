"""OllamaClient over a real socket: no request leaves a connection for a measured stream.

(Moved from tests/unit/test_ollama_client.py: it serves HTTP on loopback.)
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from perfgate.contracts.results import ScenarioOptions
from perfgate.runtimes.ollama import OllamaClient

OPTIONS = ScenarioOptions(num_predict=64, num_ctx=4096, temperature=0.0, seed=7, keep_alive="10m")
PS = {"models": [{"name": "llama3.2:latest", "size": 3_000_000_000, "size_vram": 2_500_000_000}]}
STREAM = [
    {"model": "llama3.2", "message": {"role": "assistant", "content": "hi"}, "done": False},
    {"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"},
]


class _OllamaLikeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says otherwise
    client_ports: list[int] = []  # noqa: RUF012 -- per-test registry, reset by the test

    def _answer(self, body: bytes, content_type: str) -> None:
        self.client_ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(json.dumps(PS).encode(), "application/json")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(b"".join(json.dumps(line).encode() + b"\n" for line in STREAM), "application/x-ndjson")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_every_measured_stream_opens_its_own_connection() -> None:
    _OllamaLikeHandler.client_ports = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OllamaLikeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client() as http:
            client = OllamaClient(http, base_url=f"http://127.0.0.1:{server.server_address[1]}", model="llama3.2")
            # A fully read plain request would otherwise leave a pooled
            # keep-alive connection for the next stream to pick up.
            assert client.runtime_reported() == {"ps_size_bytes": 3_000_000_000, "ps_size_vram_bytes": 2_500_000_000}
            first = client.stream("p", OPTIONS)
            second = client.stream("p", OPTIONS)
    finally:
        server.shutdown()
        server.server_close()
    assert first.text == second.text == "hi"
    assert len(_OllamaLikeHandler.client_ports) == 3
    assert len(set(_OllamaLikeHandler.client_ports)) == 3
