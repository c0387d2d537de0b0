"""Sending a measured streamed request and reading it line by line, shared by every HTTP client.

One place decides which httpx failures may be retried, when the clock is read
and how a failure mid-stream is classified, so the Ollama and OpenAI clients
time requests the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from perfgate.errors import ModelMissing, RuntimeTimeout, StreamTruncated
from perfgate.runtimes.base import Clock, raise_for_status, translate_transport_error
from perfgate.runtimes.deadline import current_watch
from perfgate.runtimes.stream_parsers import SseEvents

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
    final send, so a retried sample is not skewed by the failed attempt. The
    whole-request deadline in force (``deadline.watching``) counts from the first
    send, retries included.
    """
    retries = 0
    watch = current_watch()
    while True:
        request = http.build_request("POST", url, json=body, headers={**headers, **NO_REUSE_HEADERS}, timeout=timeout)
        stamps = [clock()]
        watch.sent(stamps[0])

        def trace(event: str, _info: dict[str, object], stamps: list[int] = stamps) -> None:
            # "Request sent" is read just before its first byte is written: after httpx
            # built it and connected (about 1 ms on a small VM), and before the write,
            # so a thread starved of CPU while writing can only make TTFT longer, never
            # shorter (a reading after the write could come any time later). Transports
            # without httpcore tracing keep the pre-send reading.
            if event == "http11.send_request_headers.started":
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
    reads, so a line's time is when its last byte arrived. A line read past the
    request's deadline ends it as a timeout (``deadline``; the check is one
    comparison with a reading taken anyway, and the count feeds the progress line).
    """
    watch = current_watch()
    deadline_ns = watch.deadline_ns
    try:
        for line in response.iter_lines():
            at_ns = clock()
            if at_ns > deadline_ns:
                raise watch.exceeded()
            watch.lines += 1
            yield line, at_ns
    except httpx.TimeoutException as exc:
        raise RuntimeTimeout(f"runtime timed out mid-stream at {url} ({type(exc).__name__})") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise StreamTruncated(f"stream truncated: connection to {url} broke mid-stream ({exc})") from exc
    except httpx.HTTPError as exc:
        raise translate_transport_error(exc, url) from exc


def iter_sse_data(lines: Iterator[tuple[str, int]], url: str) -> Iterator[tuple[str, int]]:
    """Turn timed lines into timed SSE ``data`` payloads, one per event (rules: ``SseEvents``)."""
    events = SseEvents(url)
    for line, at_ns in lines:
        data = events.line(line, at_ns)
        if data is not None:
            yield data, at_ns
    leftover = events.leftover()
    if leftover is not None:
        yield leftover
