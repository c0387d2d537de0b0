"""Sending a measured streamed request and reading it line by line, shared by every HTTP client.

One place decides which httpx failures may be retried, when the clock is read
and how a failure mid-stream is classified, so the Ollama and OpenAI clients
time requests the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack

import httpx

from perfgate.contracts.results import StreamObservation
from perfgate.errors import ModelMissing, ProtocolError, RuntimeFailure, RuntimeTimeout, StreamTruncated
from perfgate.runtimes.base import Clock, raise_for_status, translate_transport_error

MAX_RETRIES_BEFORE_FIRST_BYTE = 2

# Raised by ``http.send`` itself, i.e. before a status line and headers were
# complete: no response was observed and no content was timed. The keep-alive
# race (a connection the server had already closed) shows up as
# RemoteProtocolError "Server disconnected without sending a response",
# ReadError (reset) or WriteError (broken pipe). Timeouts are deliberately
# absent: a slow server must show up as slow, not as a retry.
_RETRYABLE_BEFORE_FIRST_BYTE = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)

# Sent on every request the clients make, so the pool never holds an idle
# keep-alive connection for a measured stream to pick up (the race above) and
# every measured stream pays the same fresh-connection cost.
NO_REUSE_HEADERS = {"Connection": "close"}


@dataclass(frozen=True)
class OpenedStream:
    """A 2xx streaming response and when (and after how many re-sends) its request went out."""

    response: httpx.Response
    sent_ns: int
    retries_before_first_byte: int


class ServerFields(TypedDict, total=False):
    """What the runtime itself reported about a stream (StreamObservation's server fields)."""

    output_tokens: int | None
    prompt_tokens: int | None
    uncached_prompt_tokens: int | None
    prompt_eval_ns: int | None
    eval_count: int | None
    eval_ns: int | None
    load_ns: int | None
    done_reason: str | None
    token_count_source: Literal["server", "chunks"]


@dataclass
class ContentLog:
    """Generated text and the clock at every piece of it, as a stream is read."""

    chunk_ns: list[int] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)

    def add(self, content: str, at_ns: int) -> None:
        # Role-only and empty deltas are not tokens: TTFT starts at real text.
        if content:
            self.chunk_ns.append(at_ns)
            self.pieces.append(content)

    def observation(self, opened: OpenedStream, done_ns: int, **server: Unpack[ServerFields]) -> StreamObservation:
        """The observation of a stream that reached its end marker at ``done_ns``."""
        return StreamObservation(
            sent_ns=opened.sent_ns,
            first_content_ns=self.chunk_ns[0] if self.chunk_ns else None,
            last_content_ns=self.chunk_ns[-1] if self.chunk_ns else None,
            done_ns=done_ns,
            content_chunk_ns=tuple(self.chunk_ns),
            text="".join(self.pieces),
            retries_before_first_byte=opened.retries_before_first_byte,
            **server,
        )


@contextmanager
def open_stream(
    http: httpx.Client,
    *,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    timeout: httpx.Timeout,
    model: str,
    clock: Clock,
    missing_hint: str = "",
) -> Iterator[OpenedStream]:
    """POST ``body`` as JSON and yield the streaming response; always closes it.

    A request that fails before any response byte arrived is re-sent (at most
    ``MAX_RETRIES_BEFORE_FIRST_BYTE`` times) and ``sent_ns`` is the clock at the
    final send, so a retried sample is not skewed by the failed attempt.
    """
    retries = 0
    while True:
        request = http.build_request("POST", url, json=body, headers={**headers, **NO_REUSE_HEADERS}, timeout=timeout)
        stamps = [clock()]

        def trace(event: str, _info: dict[str, object], stamps: list[int] = stamps) -> None:
            # "Request sent" is when its last byte is written, not when httpx began
            # building and connecting (about 1 ms on a small VM); transports
            # without httpcore tracing keep the pre-send reading.
            if event == "http11.send_request_body.complete":
                stamps.append(clock())

        request.extensions["trace"] = trace
        try:
            response = http.send(request, stream=True)
        except _RETRYABLE_BEFORE_FIRST_BYTE as exc:
            if retries < MAX_RETRIES_BEFORE_FIRST_BYTE:
                retries += 1
                continue
            raise translate_transport_error(exc, url) from exc
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc, url) from exc
        break
    try:
        if response.status_code >= 400:
            read_error_body(response, url)
            check_status(response, url, model, missing_hint)
        # NDJSON and SSE are UTF-8 by definition, whatever the Content-Type says
        # or the injected client's default encoding guesses.
        response.encoding = "utf-8"
        yield OpenedStream(response, stamps[-1], retries)
    finally:
        response.close()


def read_error_body(response: httpx.Response, url: str) -> None:
    """Read a (non-2xx) streamed body so its error message can be reported."""
    try:
        response.read()
    except httpx.HTTPError as exc:
        raise translate_transport_error(exc, url) from exc


def check_status(response: httpx.Response, url: str, model: str, missing_hint: str = "") -> None:
    """``base.raise_for_status`` plus a runtime-specific hint on how to get a missing model."""
    try:
        raise_for_status(response, url, model)
    except ModelMissing as exc:
        if not missing_hint:
            raise
        raise ModelMissing(f"{exc.message}; {missing_hint}") from exc


def timed_lines(response: httpx.Response, url: str, clock: Clock) -> Iterator[tuple[str, int]]:
    """Yield each line of the body with the clock read as soon as httpx delivered it.

    httpx's line decoder reassembles lines (and UTF-8 characters) split across
    reads, so a line's time is when its last byte arrived.
    """
    try:
        for line in response.iter_lines():
            yield line, clock()
    except httpx.TimeoutException as exc:
        raise RuntimeTimeout(f"runtime timed out mid-stream at {url} ({type(exc).__name__})") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise StreamTruncated(f"stream truncated: connection to {url} broke mid-stream ({exc})") from exc
    except httpx.HTTPError as exc:
        raise translate_transport_error(exc, url) from exc


def parse_json_object(text: str, url: str) -> dict[str, Any]:
    """Decode one NDJSON line / SSE data payload, which must be a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"protocol error: {url} sent a line that is not JSON: {text[:120]!r}") from exc
    if not isinstance(value, dict):
        raise ProtocolError(f"protocol error: {url} sent JSON that is not an object: {text[:120]!r}")
    return value


def stream_error(obj: dict[str, Any], url: str) -> RuntimeFailure | None:
    """The failure an ``{"error": ...}`` object inside a 200 stream stands for, if it is one."""
    if "error" not in obj:
        return None
    err = obj["error"]
    if isinstance(err, dict):
        err = err.get("message", err)
    return RuntimeFailure(f"runtime error mid-stream from {url}: {str(err)[:200]}")


def optional_int(obj: dict[str, Any], key: str, url: str) -> int | None:
    """An integer counter the runtime may omit; absent stays None, never 0."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ProtocolError(f"protocol error: {url} sent {key}={value!r}, expected an integer")
    return int(value)


def optional_ms_as_ns(obj: dict[str, Any], key: str, url: str) -> int | None:
    """A duration in (fractional) milliseconds, as llama.cpp reports them, in nanoseconds."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"protocol error: {url} sent {key}={value!r}, expected a number of milliseconds")
    return round(value * 1_000_000)


def optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def iter_sse_data(lines: Iterator[tuple[str, int]], url: str) -> Iterator[tuple[str, int]]:
    """Turn timed lines into timed SSE ``data`` payloads (one per event).

    Per the SSE spec: an event ends at a blank line, its ``data:`` lines are
    joined with newlines, one space after the colon is dropped and ``:`` lines
    are comments (keep-alive pings). An event's time is when its terminating
    blank line arrived. An event still open when the body ends is discarded,
    except a lone ``[DONE]`` (a server that omits the final blank line still
    finished its stream).
    """
    data: list[str] = []
    last_ns = 0
    for line, at_ns in lines:
        if not line:
            if data:
                yield "\n".join(data), at_ns
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field not in ("event", "id", "retry"):
            # A JSON body or plain text where SSE was expected: say so rather
            # than ignore it and later report a misleading truncation.
            raise ProtocolError(f"protocol error: {url} sent a line that is not server-sent events: {line[:120]!r}")
        last_ns = at_ns
    if data == ["[DONE]"]:
        yield "[DONE]", last_ns
