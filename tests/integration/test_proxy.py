"""The measuring proxy over real sockets, with the simulator as the runtime.

The byte-for-byte checks put a TCP tap between the proxy and the simulator:
the body the client got through the proxy is compared with the bytes the
runtime sent for that very request (a direct request would differ anyway:
the simulator's answers carry timestamps and measured durations). Timings are
asserted one-sided only, as a loaded machine cannot break them.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.sim import MODEL, StartSim, chat, gen, oai
from support.waiting import wait_until

from perfgate.contracts.proxy import ProxyRecord, read_proxy_records
from perfgate.measure.proxy import MeasuringProxy
from perfgate.measure.proxy_observe import canonical_sha256
from perfgate.measure.samples import build_sample


class Tap:
    """A TCP relay in front of ``port`` that keeps every byte the upstream sent back, per connection."""

    def __init__(self, port: int) -> None:
        self.upstream_port = port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.answers: list[bytearray] = []
        self._sockets: list[socket.socket] = [self.server]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            answer = bytearray()
            self.answers.append(answer)
            self._sockets += [client, upstream]
            for source, sink, copy in ((client, upstream, None), (upstream, client, answer)):
                thread = threading.Thread(target=self._pipe, args=(source, sink, copy), daemon=True)
                self._threads.append(thread)
                thread.start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, copy: bytearray | None) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if copy is not None:
                    copy += data
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def tapped(start_sim: StartSim) -> Iterator[tuple[MeasuringProxy, Tap]]:
    """A proxy whose upstream is a tap in front of a fast simulator."""
    server, _ = start_sim(ttft_ms=5.0)
    tap = Tap(int(server.base_url.rsplit(":", 1)[1]))
    try:
        with MeasuringProxy(f"http://127.0.0.1:{tap.port}") as proxy:
            yield proxy, tap
    finally:
        tap.close()


def raw_exchange(host_port: str, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
    """One HTTP/1.1 request with Connection: close, and every byte of the answer."""
    host, port = host_port.rsplit(":", 1)
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + b"\r\n" + payload)
        answer = bytearray()
        while data := sock.recv(65536):
            answer += data
    return bytes(answer)


def split_answer(answer: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = [(name.lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    return status, headers, body


def generated_text(answer: bytes) -> str:
    """The text a client finds in a raw HTTP answer (NDJSON, SSE or one JSON body)."""
    response = http.client.HTTPResponse(_Replay(answer))  # type: ignore[arg-type]
    response.begin()
    text = ""
    for line in response.read().decode().splitlines():
        payload = line.removeprefix("data: ")
        if not payload or payload == "[DONE]" or payload.startswith(":"):
            continue
        obj = json.loads(payload)
        for choice in obj.get("choices", []):
            part = choice.get("delta") or choice.get("message") or {}
            text += part.get("content") or ""
        text += obj.get("response", "") + obj.get("message", {}).get("content", "")
    return text


class _Replay:
    """Enough of a socket for http.client to parse recorded bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.data)


def end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(item for item in headers if item[0] != "connection")


def only(records: list[ProxyRecord]) -> ProxyRecord:
    assert len(records) == 1, records
    return records[0]


# ---------------------------------------------------------------- unchanged answers


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/chat", chat(12)),
        ("/api/chat", chat(12, stream=False)),
        ("/api/generate", gen(12)),
        ("/api/generate", gen(12, stream=False)),
        ("/v1/chat/completions", oai(12, stream_options={"include_usage": True})),
        ("/v1/chat/completions", oai(12, stream=False)),
    ],
    ids=["chat", "chat-unstreamed", "generate", "generate-unstreamed", "openai-usage", "openai-unstreamed"],
)
def test_answers_pass_byte_for_byte_and_are_recorded(
    tapped: tuple[MeasuringProxy, Tap], path: str, body: dict[str, Any]
) -> None:
    proxy, tap = tapped
    got = raw_exchange(proxy.host_port, "POST", path, body)
    (sent,) = tap.answers
    status, headers, got_body = split_answer(got)
    up_status, up_headers, up_body = split_answer(bytes(sent))
    assert status == up_status == "HTTP/1.1 200 OK"
    assert end_to_end(headers) == end_to_end(up_headers)
    assert got_body == up_body  # chunked answers: the runtime's own chunks, framing included
    record = only(proxy.take_records())
    assert (record.status, record.error, record.model, record.path) == (200, None, MODEL, path)
    assert record.stream is (body.get("stream") is not False if path.startswith("/api") else body["stream"] is True)
    assert record.response_bytes == len(got_body)
    obs = record.observation
    assert obs is not None
    assert obs.output_tokens == 12
    assert obs.token_count_source == "server"
    assert obs.text == generated_text(got)
    assert obs.sent_ns <= (obs.first_content_ns or 0) <= (obs.last_content_ns or 0) <= obs.done_ns
    assert record.started_ns <= obs.sent_ns <= obs.done_ns <= record.ended_ns


def test_non_generation_requests_pass_through_and_are_recorded(tapped: tuple[MeasuringProxy, Tap]) -> None:
    proxy, tap = tapped
    for method, path in (("GET", "/api/tags"), ("GET", "/api/version"), ("GET", "/v1/models"), ("HEAD", "/")):
        got = raw_exchange(proxy.host_port, method, path)
        assert split_answer(got)[2] == split_answer(bytes(tap.answers[-1]))[2]
    records = proxy.take_records()
    assert [(r.method, r.path, r.api, r.status, r.observation, r.error) for r in records] == [
        ("GET", "/api/tags", "other", 200, None, None),
        ("GET", "/api/version", "other", 200, None, None),
        ("GET", "/v1/models", "other", 200, None, None),
        ("HEAD", "/", "other", 200, None, None),
    ]
    assert not any(r.is_llm_request for r in records)
    assert proxy.take_records() == []  # taken means gone


def test_missing_model_404_passes_through_with_status_and_record(start_sim: StartSim) -> None:
    server, client = start_sim()
    body = chat(3, model="nope")
    direct = client.post("/api/chat", json=body)
    with MeasuringProxy(server.base_url) as proxy, httpx.Client() as app:
        proxied = app.post(f"{proxy.url}/api/chat", json=body)
    assert (proxied.status_code, proxied.content) == (direct.status_code, direct.content) == (404, direct.content)
    record = only(proxy.take_records())
    assert (record.status, record.error_kind, record.model, record.observation) == (404, "model_missing", "nope", None)
    assert record.error is not None
    assert "not found" in record.error


# ---------------------------------------------------------------- what is recorded


def test_record_is_what_perfgate_run_would_measure(start_sim: StartSim) -> None:
    server, client = start_sim(ttft_ms=60.0, tok_s=200.0)
    body = chat(8, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    body["options"]["num_ctx"] = 2048
    direct_text = "".join(line.get("message", {}).get("content", "") for line in _ndjson(client, "/api/chat", body))
    with MeasuringProxy(server.base_url) as proxy, httpx.Client() as app:
        with app.stream("POST", f"{proxy.url}/api/chat", json=body) as response:
            lines = [json.loads(line) for line in response.iter_lines() if line]
        record = only(proxy.take_records())
    assert "".join(line["message"]["content"] for line in lines) == direct_text
    assert record.prompt_sha256 == canonical_sha256({"messages": body["messages"]})
    assert record.options_sha256 == canonical_sha256({"options": body["options"]})
    obs = record.observation
    assert obs is not None
    assert obs.text == direct_text
    assert len(obs.content_chunk_ns) == obs.output_tokens == obs.eval_count == 8
    assert obs.sent_ns < obs.first_content_ns <= obs.last_content_ns <= obs.done_ns  # type: ignore[operator]
    sample = build_sample(obs, iteration=0, memory=None, cold_load_ms=1000)
    assert sample.ttft_ms is not None
    assert sample.ttft_ms >= 60.0 * 0.5  # the runtime's TTFT, seen at the proxy
    assert sample.decode_source == "server"
    assert sample.output_tokens == 8


def test_openai_stream_record_takes_counts_from_the_usage_chunk(start_sim: StartSim) -> None:
    server, _ = start_sim(ttft_ms=30.0)
    with MeasuringProxy(server.base_url) as proxy, httpx.Client() as app:
        body = oai(6, stream_options={"include_usage": True}, temperature=0, seed=1)
        with app.stream("POST", f"{proxy.url}/v1/chat/completions", json=body) as response:
            events = [line for line in response.iter_lines() if line]
        record = only(proxy.take_records())
    assert events[-1] == "data: [DONE]"
    assert record.api == "openai_chat"
    assert record.options_sha256 == canonical_sha256(
        {"max_tokens": 6, "stream_options": {"include_usage": True}, "temperature": 0, "seed": 1}
    )
    obs = record.observation
    assert obs is not None
    assert (obs.output_tokens, obs.token_count_source, obs.done_reason) == (6, "server", "length")
    assert obs.first_content_ns is not None
    assert obs.first_content_ns - obs.sent_ns >= 30.0 * 0.5 * 1e6


def read_stream(client: httpx.Client, url: str, body: dict[str, Any]) -> list[str]:
    with client.stream("POST", url, json=body) as response:
        return list(response.iter_lines())


def _ndjson(client: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", path, json=body) as response:
        return [json.loads(line) for line in response.iter_lines() if line]


# ---------------------------------------------------------------- when things go wrong


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_upstream_down_is_a_502_with_a_json_error_and_a_record() -> None:
    with MeasuringProxy(f"http://127.0.0.1:{free_port()}") as proxy, httpx.Client() as app:
        ollama = app.post(f"{proxy.url}/api/chat", json=chat(3))
        openai = app.post(f"{proxy.url}/v1/chat/completions", json=oai(3))
        records = proxy.take_records()
    assert ollama.status_code == openai.status_code == 502
    assert "nothing is listening" in ollama.json()["error"]
    assert "nothing is listening" in openai.json()["error"]["message"]
    assert [(r.api, r.status, r.error_kind, r.model, r.observation) for r in records] == [
        ("ollama_chat", None, "runtime_unavailable", MODEL, None),
        ("openai_chat", None, "runtime_unavailable", MODEL, None),
    ]


def test_error_line_inside_a_200_stream_is_relayed_and_recorded(start_sim: StartSim) -> None:
    server, _ = start_sim(fault="error_midstream")
    with MeasuringProxy(server.base_url) as proxy, httpx.Client() as app:
        with app.stream("POST", f"{proxy.url}/api/chat", json=chat(10)) as response:
            lines = [json.loads(line) for line in response.iter_lines() if line]
        record = only(proxy.take_records())
    assert "error" in lines[-1]
    assert (record.status, record.error_kind, record.observation) == (200, "runtime_error", None)


def test_runtime_breaking_mid_stream_is_mirrored_and_the_proxy_carries_on(start_sim: StartSim) -> None:
    server, _ = start_sim(fault="disconnect_midstream", fault_after=0)
    with MeasuringProxy(server.base_url) as proxy, httpx.Client() as app:
        with pytest.raises(httpx.RemoteProtocolError):  # the client too sees an unfinished body
            read_stream(app, f"{proxy.url}/api/chat", chat(10))
        assert app.get(f"{proxy.url}/api/version").status_code == 200
        records = proxy.take_records()
    assert [(r.api, r.error_kind) for r in records] == [("ollama_chat", "stream_truncated"), ("other", None)]


def test_runtime_stalling_past_the_read_timeout_is_a_timeout(start_sim: StartSim) -> None:
    server, _ = start_sim(fault="stall", stall_s=30.0)
    with MeasuringProxy(server.base_url, read_timeout_s=0.3) as proxy, httpx.Client(timeout=30) as app:
        with pytest.raises(httpx.RemoteProtocolError):
            read_stream(app, f"{proxy.url}/api/chat", chat(10))
        record = only(proxy.take_records())
    assert (record.status, record.error_kind) == (200, "timeout")


def test_client_leaving_mid_stream_does_not_kill_the_proxy(start_sim: StartSim) -> None:
    server, _ = start_sim(tok_s=200.0)
    with MeasuringProxy(server.base_url) as proxy:
        with httpx.Client() as app, app.stream("POST", f"{proxy.url}/api/chat", json=chat(2000)) as response:
            lines = response.iter_lines()
            next(lines)
            next(lines)
        # The client is gone; the proxy notices on its next write and stops the runtime's stream.
        wait_until(lambda: any(r.error_kind == "stream_truncated" for r in proxy.take_records()), what="a record")
        with httpx.Client() as app:
            assert app.post(f"{proxy.url}/api/chat", json=chat(3)).status_code == 200


def test_kept_alive_upstream_connection_survives_a_runtime_restart(start_sim: StartSim) -> None:
    first, _ = start_sim()
    port = int(first.base_url.rsplit(":", 1)[1])
    with MeasuringProxy(first.base_url) as proxy, httpx.Client() as app:
        assert app.post(f"{proxy.url}/api/chat", json=chat(3)).status_code == 200
        first.stop()  # closes the connection the proxy keeps for this client
        from perfgate.sim.profile import SimProfile  # noqa: PLC0415 -- only this test restarts a runtime
        from perfgate.sim.server import SimServer  # noqa: PLC0415

        with SimServer(SimProfile(ttft_ms=2.0, tok_s=1000.0, jitter_cv=0.0, load_ms=0.0, ballast_mb=0), port=port):
            assert app.post(f"{proxy.url}/api/chat", json=chat(3)).status_code == 200
        records = proxy.take_records()
    assert [(r.status, r.error) for r in records] == [(200, None), (200, None)]


def test_chunked_request_body_is_forwarded(start_sim: StartSim) -> None:
    server, _ = start_sim()
    payload = json.dumps(chat(3, stream=False)).encode()
    with MeasuringProxy(server.base_url) as proxy, httpx.Client() as app:
        # A generator body makes httpx send Transfer-Encoding: chunked.
        answer = app.post(f"{proxy.url}/api/chat", content=iter([payload[:10], payload[10:]]))
        record = only(proxy.take_records())
    assert answer.status_code == 200
    assert answer.json()["done"] is True
    assert (record.model, record.request_bytes, record.stream) == (MODEL, len(payload), False)


# ---------------------------------------------------------------- perfgate proxy


def test_perfgate_proxy_command_appends_a_line_per_request_and_stops_on_sigterm(
    start_sim: StartSim, tmp_path: Path
) -> None:
    server, _ = start_sim()
    record = tmp_path / "records.jsonl"
    argv = [sys.executable, "-m", "perfgate", "proxy", "--port", "0", "--upstream", server.base_url]
    child = subprocess.Popen([*argv, "--record", str(record)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert child.stdout is not None
        ready = child.stdout.readline()
        assert ready.startswith("perfgate proxy listening on http://127.0.0.1:"), ready
        assert ready.rstrip().endswith(f"-> {server.base_url}")
        url = ready.split()[4]
        with httpx.Client() as app:
            assert app.post(f"{url}/api/chat", json=chat(4)).status_code == 200
            assert app.get(f"{url}/api/tags").status_code == 200
        # Written as each request completed, before any signal.
        wait_until(lambda: record.exists() and record.read_text(encoding="utf-8").count("\n") == 2, what="2 lines")
        child.send_signal(signal.SIGTERM)
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    lines = read_proxy_records(record)
    assert [(line.api, line.status, line.schema_version) for line in lines] == [
        ("ollama_chat", 200, 1),
        ("other", 200, 1),
    ]
    assert lines[0].observation is not None
    assert lines[0].observation.output_tokens == 4
