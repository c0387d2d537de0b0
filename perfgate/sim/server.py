"""The simulated LLM runtime: a loopback HTTP server speaking Ollama's and OpenAI's APIs.

Built on the stdlib so it starts anywhere perfgate does. Streams use
hand-written chunked transfer encoding (one HTTP chunk per token) over
sockets with Nagle disabled, so a client's per-chunk clock readings see the
server's pacing rather than TCP coalescing. Like ``ollama serve``, the
server keeps a child "runner" process holding the model's memory
(:mod:`perfgate.sim.runner`), so process-tree memory sampling is exercised
for real.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

from perfgate.childproc import end_child
from perfgate.errors import UsageError
from perfgate.sim import generate, runner, wire
from perfgate.sim.engine import SimEngine
from perfgate.sim.profile import SimProfile

# Set by SimProcess to its own PID: a launcher killed with SIGKILL cannot stop
# us, so we notice being re-parented and exit instead of lingering. Not
# PERFGATE_*: that prefix is read as configuration.
EXIT_WITH_PARENT_ENV = "_PERFGATE_SIM_PARENT_PID"

_GENERATION_PATHS: dict[str, generate.Api] = {
    "/api/chat": "chat",
    "/api/generate": "generate",
    "/v1/chat/completions": "openai",
}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stalled stream must not keep the process alive
    engine: SimEngine
    connections: set[socket.socket]
    connections_lock: threading.Lock

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:  # noqa: ANN401 -- stdlib signature
        # A client hanging up mid-response is routine for a runtime; anything else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "perfgate-sim"
    sys_version = ""
    server: _HTTPServer
    start_ns: int = 0

    def setup(self) -> None:
        # Without TCP_NODELAY a one-token chunk can wait ~40 ms for the
        # previous one's ACK (Nagle + delayed ACK), ruining TTFT and ITL.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.request)
        super().setup()

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.request)
        with contextlib.suppress(OSError):  # the client or an abort already closed the socket
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: ANN401 -- stdlib signature
        pass  # the simulator prints nothing but its ready line

    # ------------------------------------------------------------ routing

    def do_HEAD(self) -> None:
        self.send_bytes(200 if self.path == "/" else 404, "text/plain; charset=utf-8", b"", head=True)

    def do_GET(self) -> None:
        engine = self.server.engine
        profile = engine.profile
        visible = engine.model_visible()
        if self.path == "/":
            self.send_bytes(200, "text/plain; charset=utf-8", b"Ollama is running")
        elif self.path == "/api/version":
            self.send_json(200, {"version": wire.SIM_VERSION})
        elif self.path == "/api/tags":
            self.send_json(200, {"models": [wire.tag_entry(profile)] if visible else []})
        elif self.path == "/api/ps":
            expires = engine.expires_in_s()
            models = [] if expires is None else [wire.ps_entry(profile, expires)]
            self.send_json(200, {"models": models})
        elif self.path == "/v1/models":
            self.send_json(200, wire.openai_models(profile, visible=visible))
        else:
            self.send_bytes(404, "text/plain; charset=utf-8", b"404 page not found")

    def parse_request(self) -> bool:
        # The request's t0 (for TTFT pacing and total_duration) is taken as
        # soon as its request line is in, before header parsing.
        self.start_ns = time.perf_counter_ns()
        if not super().parse_request():
            return False
        self.path = urlsplit(self.path).path  # routes ignore query strings, as Ollama's do
        return True

    def do_POST(self) -> None:
        start_ns = self.start_ns
        try:
            body = self._read_json()
        except ValueError as exc:
            self._error(400, str(exc), openai=self.path.startswith("/v1/"))
            return
        if self.path == "/api/show":
            self._show(body)
        elif self.path in _GENERATION_PATHS:
            self._generation(_GENERATION_PATHS[self.path], body, start_ns)
        else:
            self.send_bytes(404, "text/plain; charset=utf-8", b"404 page not found")

    def _show(self, body: dict[str, Any]) -> None:
        engine = self.server.engine
        name = body.get("model", body.get("name"))
        if engine.profile.fault == "http_500" and engine.fault_active():
            self._error(500, "simulated runtime failure (perfgate sim fault http_500)", openai=False)
        elif not engine.has_model(name):
            self._error(404, f"model '{name}' not found", openai=False)
        else:
            self.send_json(200, wire.show_body(engine.profile))

    def _generation(self, api: generate.Api, body: dict[str, Any], start_ns: int) -> None:
        engine = self.server.engine
        openai = api == "openai"
        try:
            req = generate.parse_request(api, body, start_ns)
        except ValueError as exc:
            self._error(400, str(exc), openai=openai)
            return
        # Preloads are not generation requests: they neither count towards
        # fault_after nor get stream faults, but a missing model or a broken
        # runtime fails them too.
        faulty = engine.fault_active() if req.is_preload else engine.claim_generation()
        fault = engine.profile.fault if faulty else None
        try:
            if not engine.has_model(req.model, missing=fault == "model_missing"):
                self._error(404, f"model '{req.model}' not found", openai=openai, code="model_not_found")
            elif fault == "http_500":
                self._error(500, "simulated runtime failure (perfgate sim fault http_500)", openai=openai)
            elif req.is_preload:
                generate.preload(engine, req, self)
            else:
                generate.generate(engine, req, self, faulty=faulty)
        except OSError:
            # The client went away mid-response (or we aborted): nothing to tell anyone.
            self.close_connection = True

    # ------------------------------------------------------------ Responder

    def send_json(self, status: int, body: object) -> None:
        self.send_bytes(status, "application/json; charset=utf-8", json.dumps(body).encode("utf-8"))

    def send_bytes(self, status: int, content_type: str, data: bytes, *, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def begin_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        # One write per chunk: size line, payload and CRLF leave in one segment.
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Close the socket without finishing the response (a crashed runtime)."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # already closed by the peer
            self.request.shutdown(socket.SHUT_RDWR)

    # ------------------------------------------------------------ helpers

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON request body: {exc.msg}") from exc
        if not isinstance(body, dict):
            raise ValueError("request body must be a JSON object")
        return cast(dict[str, Any], body)

    def _error(self, status: int, message: str, *, openai: bool, code: str | None = None) -> None:
        if openai:
            kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "server_error")
            self.send_json(status, wire.openai_error(message, kind=kind, code=code))
        else:
            self.send_json(status, {"error": message})


class SimServer:
    """The simulated runtime, runnable in-process (tests) or via :func:`serve`.

    ``start()`` spawns the runner child, binds, and serves from a background
    thread; ``stop()`` undoes all of it. Also a context manager.
    """

    def __init__(self, profile: SimProfile, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.profile = profile
        self._host = host
        self._port = port
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._runner: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("SimServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def runner_pid(self) -> int | None:
        return None if self._runner is None else self._runner.pid

    def start(self) -> str:
        """Spawn the runner, listen, and return the base URL."""
        self._runner = runner.spawn(self.profile.ballast_mb)
        try:
            httpd = _HTTPServer((self._host, self._port), _Handler)
        except OSError as exc:
            end_child(self._runner)
            raise UsageError(
                f"perfgate sim: cannot listen on {self._host}:{self._port}: {exc.strerror or exc}"
            ) from exc
        httpd.engine = SimEngine(self.profile, self._stop)
        httpd.connections = set()
        httpd.connections_lock = threading.Lock()
        self._httpd = httpd
        # A short poll interval keeps stop() quick: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="perfgate-sim", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving, drop open connections (ending stalls), and end the runner."""
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            with self._httpd.connections_lock:
                open_sockets = list(self._httpd.connections)
            for sock in open_sockets:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5.0)
        if self._runner is not None:
            end_child(self._runner)
        self._httpd = self._thread = self._runner = None

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(profile: SimProfile, *, host: str = "127.0.0.1", port: int = 0, on_ready: Callable[[str], None]) -> None:
    """Serve until SIGTERM or SIGINT; ``on_ready(base_url)`` once listening.

    Must run in the main thread (signal handlers); tests use :class:`SimServer`.
    """
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 -- signal handler signature
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with SimServer(profile, host=host, port=port) as server:
            on_ready(server.base_url)
            # Poll rather than block in Event.wait: a signal handler setting an
            # Event the main thread is waiting on can deadlock on its lock.
            while not stop_requested.is_set() and not _parent_gone():
                time.sleep(0.05)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _parent_gone() -> bool:
    expected = os.environ.get(EXIT_WITH_PARENT_ENV)
    return expected is not None and expected != str(os.getppid())
