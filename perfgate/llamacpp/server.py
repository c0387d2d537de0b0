"""llama.cpp's own C++ HTTP server (embedded in the ``xllamacpp`` wheel) as a child-process entry point.

``python -m perfgate.llamacpp.server --model PATH --alias NAME`` serves one
GGUF on loopback, prints exactly one line to stdout once ``GET /health``
answers ``{"status": "ok"}`` -- ``perfgate llamacpp listening on URL`` -- and
then runs until SIGTERM/SIGINT or, with ``--stop-on-stdin-eof``, until its
stdin closes (its launcher holds the only write end, so that is also how it
notices the launcher dying). ``xllamacpp.Server`` runs in background threads
of this process and stops when the object is released.

For cold starts its stdin is also a command channel, one line each, answered
on the ready line's stream: ``unload`` stops the server (its model leaves
memory; answer ``unloaded``), ``load`` starts it again on the same port
(answer ``loaded NS``, the nanoseconds from the start to ``/health`` ok, or
``failed REASON``). The process, whose memory perfgate samples, stays the same.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, TextIO
from urllib.parse import urlsplit

READY_PREFIX = "perfgate llamacpp listening on "
HEALTH_TIMEOUT_S = 30.0
UNLOAD, LOAD = "unload", "load"  # the commands a launcher sends on stdin, one a line
UNLOADED, LOADED, FAILED = "unloaded", "loaded", "failed"  # their answers' first words


class ServerStartError(Exception):
    """The embedded server did not come up (bad model, port in use, ...)."""


def build_params(
    xllamacpp: Any,  # noqa: ANN401 -- the optional extension module
    *,
    model: str,
    alias: str,
    ctx: int,
    threads: int | None,
    host: str,
    port: int,
    cache_prompt: bool = False,
) -> Any:  # noqa: ANN401 -- an xllamacpp.CommonParams
    params = xllamacpp.CommonParams()
    params.model.path = model
    params.n_ctx = ctx
    # One slot: concurrent requests queue (and show up as TTFT), as they would
    # for a single local app, and the KV cache is sized for one sequence.
    params.n_parallel = 1
    if threads is not None:
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
    params.model_alias = {alias}  # a set: a plain string would become the set of its letters
    params.hostnames = [host]
    params.port = port  # 0: the server binds a free port and reports it in listening_address
    params.endpoint_metrics = True
    if not cache_prompt:
        # A benchmark repeats one prompt: with llama.cpp's prompt cache every
        # measured request after the first reuses the whole KV prefix, so TTFT
        # would not include prefill and prefill_tok_s would time one token.
        params.cache_prompt = False
        params.cache_ram_mib = 0
    return params


def wait_healthy(base_url: str, timeout_s: float) -> None:
    """Poll ``GET /health`` until it answers ``{"status": "ok"}``.

    With the stdlib's client: httpx would add ~10 MB to the runtime's
    measured memory for one request.
    """
    parts = urlsplit(base_url)
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=2.0)
        try:
            connection.request("GET", "/health")
            response = connection.getresponse()
            body = response.read()
            if response.status == 200 and json.loads(body).get("status") == "ok":
                return
            last = f"HTTP {response.status}: {body[:120]!r}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            last = str(exc) or type(exc).__name__
        finally:
            connection.close()
        time.sleep(0.02)
    raise ServerStartError(f"{base_url}/health did not answer status ok within {timeout_s:g} s ({last})")


def serve(
    *,
    model: str,
    alias: str,
    ctx: int,
    threads: int | None,
    host: str,
    port: int,
    cache_prompt: bool,
    on_ready: Callable[[str], None],
    stop_requested: threading.Event,
    commands: queue.Queue[str] | None = None,
    answer: Callable[[str], None] = lambda _line: None,
) -> None:
    """Serve until ``stop_requested`` is set; ``on_ready(base_url)`` once healthy; ``commands`` unload and load."""
    import xllamacpp  # noqa: PLC0415 -- the optional extra; main() reports it missing

    def start(bind_port: int) -> tuple[Any, str]:
        params = build_params(
            xllamacpp,
            model=model,
            alias=alias,
            ctx=ctx,
            threads=threads,
            host=host,
            port=bind_port,
            cache_prompt=cache_prompt,
        )
        try:
            server = xllamacpp.Server(params)
        except RuntimeError as exc:  # xllamacpp's only failure: "Failed to init server"; its log names the cause
            raise ServerStartError(f"llama.cpp server failed to start: {exc}") from exc
        url = str(server.listening_address).rstrip("/")
        try:
            wait_healthy(url, HEALTH_TIMEOUT_S)
        except ServerStartError:
            del server
            gc.collect()
            raise
        return server, url

    server, base_url = start(port)
    bound_port = urlsplit(base_url).port or port  # a restart binds the same port: the launcher's URL stays true
    try:
        on_ready(base_url)
        # Poll rather than block in Event.wait: a signal handler setting an
        # Event the main thread is waiting on can deadlock on its lock.
        while not stop_requested.is_set():
            try:
                command = commands.get(timeout=0.05) if commands is not None else None
            except queue.Empty:
                continue
            if command is None:
                time.sleep(0.05)
            elif command == UNLOAD:
                # ~Server stops the HTTP server, joins its threads and frees the model.
                server = None
                gc.collect()
                answer(UNLOADED)
            elif command == LOAD and server is None:
                began = time.perf_counter_ns()
                try:
                    server, _ = start(bound_port)
                except ServerStartError as exc:
                    answer(f"{FAILED} {' '.join(str(exc).split())}")
                else:
                    answer(f"{LOADED} {time.perf_counter_ns() - began}")
            else:
                answer(f"{FAILED} unexpected command {command[:40]!r} (the server is {'up' if server else 'down'})")
    finally:
        del server
        gc.collect()


def _watch_stdin(stop_requested: threading.Event, commands: queue.Queue[str]) -> None:
    def run() -> None:
        # The raw fd, not sys.stdin: a daemon thread blocked inside a buffered
        # reader holds its lock, and interpreter shutdown then aborts.
        pending = b""
        try:
            while chunk := os.read(0, 4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    commands.put(line.decode("utf-8", "replace").strip())
        except OSError:
            pass
        stop_requested.set()

    threading.Thread(target=run, name="stdin-eof", daemon=True).start()


def _ready_stream() -> TextIO:
    """A private copy of stdout for the ready line; fd 1 itself then points at stderr.

    llama.cpp's logger may write to stdout, and the launcher reads stdout's
    first line as the handshake, so native output must never land there.
    """
    sys.stdout.flush()
    ready = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return ready


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perfgate.llamacpp.server", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="GGUF file to serve")
    parser.add_argument("--alias", required=True, help="model name served in /v1/models")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument("--ctx", type=int, default=4096, help="context window (n_ctx)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: llama.cpp's choice)")
    parser.add_argument(
        "--cache-prompt", action="store_true", help="keep llama.cpp's prompt cache (off: every request prefills)"
    )
    parser.add_argument("--stop-on-stdin-eof", action="store_true", help="exit when stdin reaches end-of-file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import xllamacpp  # noqa: F401, PLC0415 -- checked here so a missing extra is one clear line
    except ImportError as exc:
        print(f"perfgate llamacpp: cannot import xllamacpp ({exc}); pip install 'perfgate[llamacpp]'", file=sys.stderr)
        return 2
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 -- signal handler signature
        stop_requested.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)
    commands: queue.Queue[str] = queue.Queue()
    if args.stop_on_stdin_eof:
        _watch_stdin(stop_requested, commands)
    ready = _ready_stream()

    def announce(base_url: str) -> None:
        ready.write(f"{READY_PREFIX}{base_url}\n")
        ready.flush()

    def answer(line: str) -> None:
        ready.write(f"{line}\n")
        ready.flush()

    try:
        serve(
            model=args.model,
            alias=args.alias,
            ctx=args.ctx,
            threads=args.threads,
            host=args.host,
            port=args.port,
            cache_prompt=args.cache_prompt,
            on_ready=announce,
            stop_requested=stop_requested,
            commands=commands if args.stop_on_stdin_eof else None,
            answer=answer,
        )
    except ServerStartError as exc:
        print(f"perfgate llamacpp: {exc}", file=sys.stderr)
        return 1
    finally:
        ready.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
