"""One simulated generation: parse the request, pace the tokens, inject the fault.

The pacing is what makes the simulator usable as a measurement reference:
the first token is due ``ttft`` after the model is ready, token ``i`` at an
absolute deadline one jittered gap after token ``i - 1``'s deadline, so write
overhead never accumulates into the rate. The metrics sent back are what the
server actually did (Ollama semantics: ``prompt_eval_duration`` is the wait
after load, ``eval_duration`` spans first to last token emission).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from perfgate.sim import wire
from perfgate.sim.engine import SimEngine

Api = Literal["chat", "generate", "openai"]

DEFAULT_NUM_PREDICT = 128
# Mid-stream faults strike after this many tokens, so a client has already
# seen a "successful" start when the stream goes wrong.
FAULT_TOKENS = 3
WARM_OVERHEAD_NS = 2_000_000
MIDSTREAM_ERROR = "simulated runtime error mid-stream (perfgate sim fault error_midstream)"


class Responder(Protocol):
    """The HTTP side a generation writes to (the request handler)."""

    def send_json(self, status: int, body: object) -> None: ...
    def send_bytes(self, status: int, content_type: str, data: bytes) -> None: ...
    def begin_stream(self, content_type: str) -> None: ...
    def write_chunk(self, data: bytes) -> None: ...
    def end_stream(self) -> None: ...
    def abort(self) -> None: ...


@dataclass(frozen=True)
class GenerationRequest:
    """The parts of a chat/generate/completions request the simulator honours."""

    api: Api
    model: str
    stream: bool
    num_predict: int
    keep_alive_s: float
    prompt_tokens: int
    include_usage: bool
    start_ns: int
    is_preload: bool


def parse_request(api: Api, body: dict[str, Any], start_ns: int) -> GenerationRequest:
    """Validate a request body; ValueError carries the 400 message."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("model is required")
    if api == "generate":
        prompt = _text(body.get("prompt"))
        prompt_tokens = wire.count_tokens(_text(body.get("system")) + prompt)
        is_preload = not prompt
    else:
        messages = body.get("messages") or []
        if not isinstance(messages, list):
            raise ValueError("messages must be a list")
        prompt_tokens = sum(wire.count_tokens(_message_text(m)) for m in messages)
        is_preload = api == "chat" and not messages
    if api == "openai":
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        stream = body.get("stream") is True
        keep_alive_s = wire.DEFAULT_KEEP_ALIVE_S
    else:
        options = body.get("options") or {}
        limit = options.get("num_predict") if isinstance(options, dict) else None
        include_usage = False
        stream = body.get("stream") is not False
        keep_alive_s = wire.parse_keep_alive(body.get("keep_alive"))
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise ValueError(f"num_predict/max_tokens must be an integer, got {limit!r}")
    # Ollama's -1 means "until the model stops"; the simulated model never
    # stops on its own, so an unbounded request gets the default length.
    num_predict = DEFAULT_NUM_PREDICT if limit is None or limit < 0 else limit
    return GenerationRequest(
        api, model, stream, num_predict, keep_alive_s, prompt_tokens, include_usage, start_ns, is_preload
    )


def preload(engine: SimEngine, req: GenerationRequest, out: Responder) -> None:
    """An empty-prompt generate/chat: load (or, with keep_alive 0, unload) and say so."""
    if req.keep_alive_s <= 0:
        engine.unload()
        reason = "unload"
    else:
        if not engine.acquire():
            out.abort()
            return
        engine.release(req.keep_alive_s)
        reason = "load"
    now = time.perf_counter_ns()
    timing = wire.Timing(req.start_ns, now, None, None, now, 0, 0)
    out.send_json(200, wire.ollama_done(req.model, chat=req.api == "chat", text="", done_reason=reason, timing=timing))


def generate(engine: SimEngine, req: GenerationRequest, out: Responder, *, faulty: bool) -> None:
    """Serve one generation, streamed or not, injecting the profile's mid-stream fault if ``faulty``."""
    sink = _make_sink(req, out)
    fault = engine.profile.fault if faulty else None
    sink.begin()
    if not engine.acquire():
        out.abort()
        return
    try:
        ready = time.perf_counter_ns()
        # A warm request's own bookkeeping (header write, locks) comes out of
        # its TTFT budget; a real wait (cold load, queueing) is added on top.
        anchor = req.start_ns if ready - req.start_ns <= WARM_OVERHEAD_NS else ready
        deadline = anchor + engine.ttft_ns(req.prompt_tokens)
        fault_at = min(FAULT_TOKENS, req.num_predict)
        first: int | None = None
        last: int | None = None
        pieces: list[str] = []
        for index in range(req.num_predict + 1):
            if fault is not None and index == fault_at:
                if not _inject(fault, engine, sink, out):
                    return
                if fault == "stall":
                    deadline = max(deadline, time.perf_counter_ns())  # resume pacing instead of bursting
            if index == req.num_predict:
                break
            if index:
                deadline += engine.gap_ns()
            if not engine.sleep_until(deadline):
                out.abort()
                return
            last = time.perf_counter_ns()
            first = last if first is None else first
            pieces.append(wire.token_text(index))
            sink.token(pieces[-1])
        end = time.perf_counter_ns()
        timing = wire.Timing(req.start_ns, ready, first, last, end, req.prompt_tokens, len(pieces))
        sink.finish(timing, "".join(pieces))
    finally:
        engine.release(req.keep_alive_s)


def _inject(fault: str, engine: SimEngine, sink: _Sink, out: Responder) -> bool:
    """Apply a mid-stream fault; False when the response is over."""
    if fault == "error_midstream":
        sink.error(MIDSTREAM_ERROR)
        return False
    if fault == "disconnect_midstream":
        out.abort()
        return False
    if fault == "stall":
        if engine.pause(engine.profile.stall_s):
            return True
        out.abort()
        return False
    if fault == "malformed_line":
        return sink.malformed()
    return True  # model_missing and http_500 are answered before generation starts


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _message_text(message: object) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts
        return "".join(_text(part.get("text")) for part in content if isinstance(part, dict))
    return _text(content)


def _line(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8") + b"\n"


def _event(obj: object) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode("utf-8") + b"\n\n"


class _Sink(Protocol):
    def begin(self) -> None: ...
    def token(self, text: str) -> None: ...
    def error(self, message: str) -> None: ...
    def malformed(self) -> bool: ...
    def finish(self, timing: wire.Timing, text: str) -> None: ...


def _make_sink(req: GenerationRequest, out: Responder) -> _Sink:
    if not req.stream:
        return _BufferSink(req, out)
    if req.api == "openai":
        return _SseSink(req, out)
    return _NdjsonSink(req, out)


class _NdjsonSink:
    """Ollama's stream: one JSON object per line, ``{"error"}`` lines on failure."""

    def __init__(self, req: GenerationRequest, out: Responder) -> None:
        self._req, self._out, self._chat = req, out, req.api == "chat"

    def begin(self) -> None:
        self._out.begin_stream("application/x-ndjson")

    def token(self, text: str) -> None:
        self._out.write_chunk(_line(wire.ollama_chunk(self._req.model, chat=self._chat, text=text)))

    def error(self, message: str) -> None:
        self._out.write_chunk(_line({"error": message}))
        self._out.end_stream()

    def malformed(self) -> bool:
        self._out.write_chunk(b"not json: simulated malformed line (perfgate sim fault malformed_line)\n")
        return True

    def finish(self, timing: wire.Timing, text: str) -> None:  # noqa: ARG002 -- streamed text already went out
        done = wire.ollama_done(self._req.model, chat=self._chat, text="", done_reason="length", timing=timing)
        self._out.write_chunk(_line(done))
        self._out.end_stream()


class _SseSink:
    """OpenAI's stream: ``data:`` events, a role-only first chunk, ``data: [DONE]`` at the end."""

    def __init__(self, req: GenerationRequest, out: Responder) -> None:
        self._req, self._out = req, out
        self._id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None) -> bytes:
        usage = self._req.include_usage
        return _event(wire.openai_chunk(self._id, self._req.model, delta, finish_reason, with_usage=usage))

    def begin(self) -> None:
        self._out.begin_stream("text/event-stream")
        # A comment and a role-only chunk arrive before any content: a client
        # that takes the first event as its first token measures TTFT wrong.
        self._out.write_chunk(b": ping\n\n" + self._chunk({"role": "assistant", "content": None}, None))

    def token(self, text: str) -> None:
        self._out.write_chunk(self._chunk({"content": text}, None))

    def error(self, message: str) -> None:
        self._out.write_chunk(_event(wire.openai_error(message, kind="server_error", code=None)))
        self._out.end_stream()

    def malformed(self) -> bool:
        self._out.write_chunk(b'data: {"choices": [{"delta": {"content": "unterminated\n\n')
        return True

    def finish(self, timing: wire.Timing, text: str) -> None:  # noqa: ARG002 -- streamed text already went out
        tail = self._chunk({}, "length")
        if self._req.include_usage:
            tail += _event(wire.openai_usage_chunk(self._id, self._req.model, timing))
        self._out.write_chunk(tail + b"data: [DONE]\n\n")
        self._out.end_stream()


class _BufferSink:
    """``stream: false``: the whole answer as one JSON body once generation ends."""

    def __init__(self, req: GenerationRequest, out: Responder) -> None:
        self._req, self._out = req, out

    def begin(self) -> None:
        pass  # nothing is sent until the answer is complete

    def token(self, text: str) -> None:
        pass  # finish() receives the whole text

    def error(self, message: str) -> None:
        if self._req.api == "openai":
            self._out.send_json(500, wire.openai_error(message, kind="server_error", code=None))
        else:
            self._out.send_json(500, {"error": message})

    def malformed(self) -> bool:
        self._out.send_bytes(200, "application/json; charset=utf-8", b'{"model": "truncated')
        return False

    def finish(self, timing: wire.Timing, text: str) -> None:
        if self._req.api == "openai":
            body = wire.openai_completion(f"chatcmpl-{uuid.uuid4().hex[:24]}", self._req.model, text, timing)
        else:
            chat = self._req.api == "chat"
            body = wire.ollama_done(self._req.model, chat=chat, text=text, done_reason="length", timing=timing)
        self._out.send_json(200, body)
