"""What the measuring proxy learns from the bytes it forwards: a request's facts and its answer's observation.

Pure: bytes and clock readings in, facts out. The proxy pushes each read of
the response body here *after* writing it to the client, with the clock read
when the read returned; lines and SSE events are reassembled across reads
(and UTF-8 characters across lines are never split, since only whole lines
are decoded) and handed to the same readers perfgate's own clients use
(:mod:`perfgate.runtimes.stream_parsers`), so a proxied stream and a measured
one are understood alike. The first problem (an ``{"error"}`` line, a
malformed line, a missing end marker, a broken connection) is kept as the
record's error and parsing stops; forwarding never does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from perfgate.contracts.proxy import ProxyApi
from perfgate.contracts.results import StreamObservation
from perfgate.errors import CouldNotMeasure, FailureKind, ProtocolError, RuntimeFailure, StreamTruncated
from perfgate.runtimes.base import raise_for_status
from perfgate.runtimes.stream_parsers import OllamaReader, OpenAIReader, SseEvents

_APIS: dict[str, ProxyApi] = {
    "/api/chat": "ollama_chat",
    "/api/generate": "ollama_generate",
    "/v1/chat/completions": "openai_chat",
    "/v1/completions": "openai_completions",
    # llama.cpp serves the OpenAI routes without the /v1 prefix too.
    "/chat/completions": "openai_chat",
    "/completions": "openai_completions",
}

# Body fields that make up the prompt; every other field but model and stream is an option.
PROMPT_KEYS = ("messages", "prompt", "system", "suffix", "images", "tools", "template", "context")
_NOT_OPTIONS = frozenset({"model", "stream", *PROMPT_KEYS})

# An error body is read for its message; an unstreamed answer for its content. Neither is unbounded.
ERROR_BODY_LIMIT = 64 * 1024
WHOLE_BODY_LIMIT = 16 * 1024 * 1024
# Reads kept unparsed before they are parsed anyway (bounds the memory of a very long stream).
PENDING_LIMIT = 4 * 1024 * 1024


def classify(method: str, path: str) -> ProxyApi:
    """Which generation API a request is (``other`` for anything but a POST to a generation path)."""
    if method != "POST":
        return "other"
    return _APIS.get(path.rstrip("/") or "/", "other")


@dataclass(frozen=True)
class RequestFacts:
    """What a generation request asked for, as far as the record is concerned."""

    model: str | None = None
    prompt_sha256: str | None = None
    options_sha256: str | None = None
    stream: bool = False


def request_facts(api: ProxyApi, body: bytes) -> RequestFacts:
    """Model, prompt and options hashes and the stream flag of a request body (nothing for ``other``)."""
    if api == "other":
        return RequestFacts()
    try:
        obj: Any = json.loads(body)
    except ValueError:  # not JSON (UnicodeDecodeError is a ValueError): the runtime will say so
        return RequestFacts()
    if not isinstance(obj, dict):
        return RequestFacts()
    model = obj.get("model")
    # Ollama streams unless told not to; OpenAI only when asked.
    stream = obj.get("stream") is not False if api.startswith("ollama") else obj.get("stream") is True
    prompt = {key: obj[key] for key in PROMPT_KEYS if key in obj}
    options = {key: value for key, value in obj.items() if key not in _NOT_OPTIONS}
    return RequestFacts(
        model=model if isinstance(model, str) else None,
        prompt_sha256=canonical_sha256(prompt) if prompt else None,
        options_sha256=canonical_sha256(options),
        stream=stream,
    )


def canonical_sha256(value: object) -> str:
    """SHA-256 of a JSON value written canonically (sorted keys, no spaces), so key order never matters."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseObserver:
    """Watches one generation answer go by; ``result()`` says what perfgate run would have recorded.

    ``url`` (the upstream URL of the request) and ``model`` only word errors.
    """

    def __init__(self, api: ProxyApi, *, url: str, model: str | None, status: int, content_type: str) -> None:
        self.url = url
        self.model = model or "?"
        self.status = status
        self._error: CouldNotMeasure | None = None
        self._stopped = False
        self._buf = b""
        self._last_ns = 0
        self._pending: list[tuple[bytes, int]] = []
        self._pending_bytes = 0
        self._ollama: OllamaReader | None = None
        self._openai: OpenAIReader | None = None
        self._sse: SseEvents | None = None
        self._whole = False
        if api in ("ollama_chat", "ollama_generate"):
            self._ollama = OllamaReader(url, chat=api == "ollama_chat")
        else:
            self._openai = OpenAIReader(url, legacy=api == "openai_completions")
            if "text/event-stream" in content_type.lower():
                self._sse = SseEvents(url)
            else:
                self._whole = True
        self._failed_status = not 200 <= status < 300

    # ------------------------------------------------------------ pushing bytes

    def feed(self, data: bytes, at_ns: int) -> None:
        """One read of the response body, which the proxy got at ``at_ns``.

        Only kept here: the reads are parsed in one go at the end (or every
        ``PENDING_LIMIT`` bytes), where a tight loop over warm code costs a
        fraction of parsing each read between two socket waits.
        """
        self._pending.append((data, at_ns))
        self._pending_bytes += len(data)
        if self._pending_bytes > PENDING_LIMIT:
            self._drain()

    def _drain(self) -> None:
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        for data, at_ns in pending:
            self._consume(data, at_ns)

    def _consume(self, data: bytes, at_ns: int) -> None:
        if self._stopped:
            return
        self._last_ns = at_ns
        buf = self._buf + data if self._buf else data
        if self._failed_status or self._whole:
            limit = ERROR_BODY_LIMIT if self._failed_status else WHOLE_BODY_LIMIT
            self._buf = buf[:limit]
            if self._whole and len(buf) > limit:
                self._fail(RuntimeFailure(f"runtime answer from {self.url} is over {limit} bytes: not observed"))
            return
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            line = buf[start:end]
            start = end + 1
            if not self._line(line, at_ns):
                return
        self._buf = buf[start:]

    def _line(self, raw: bytes, at_ns: int) -> bool:
        """Hand one line to its reader; False once parsing has stopped (end marker or error)."""
        text = raw.removesuffix(b"\r").decode("utf-8", "replace")
        try:
            if self._ollama is not None:
                done = self._ollama.line(text, at_ns)
            else:
                # Line mode is only Ollama's NDJSON or OpenAI's SSE.
                assert self._sse is not None
                assert self._openai is not None
                data = self._sse.line(text, at_ns)
                done = data is not None and self._openai.event(data, at_ns)
        except CouldNotMeasure as exc:
            self._fail(exc)
            return False
        if done:
            self._stopped = True
        return not done

    def _fail(self, error: CouldNotMeasure) -> None:
        if self._error is None:
            self._error = error
        self._stopped = True
        self._buf = b""

    def fail(self, error: CouldNotMeasure) -> None:
        """The transfer broke (upstream cut off, client gone): the first problem is the one recorded."""
        self._drain()
        self._fail(error)

    # ------------------------------------------------------------ the end

    def finish(self) -> None:
        """The body ended (normally, as far as HTTP framing goes)."""
        self._drain()
        if self._stopped:
            return
        rest, self._buf = self._buf, b""
        try:
            if self._failed_status:
                # The same classification (and wording) as perfgate's own clients.
                raise_for_status(httpx.Response(self.status, content=rest), self.url, self.model)
                raise RuntimeFailure(f"runtime error: HTTP {self.status} from {self.url}")
            if self._whole:
                assert self._openai is not None  # whole-body mode is only OpenAI's
                self._openai.body(rest.decode("utf-8", "replace"), self._last_ns)
            elif rest and not self._line(rest, self._last_ns):
                return
            self._end_of_body()
        except CouldNotMeasure as exc:
            self._fail(exc)
        self._stopped = True

    def _end_of_body(self) -> None:
        if self._sse is not None and self._openai is not None:
            leftover = self._sse.leftover()
            if leftover is not None and self._openai.event(*leftover):
                return
            raise StreamTruncated(f"stream truncated: {self.url} ended the stream without data: [DONE]")
        if self._ollama is not None:
            raise StreamTruncated(f"stream truncated: {self.url} ended the stream without a done:true line")

    def result(self, sent_ns: int) -> tuple[StreamObservation | None, str | None, FailureKind | None]:
        """(observation, error, error kind): an observation when the answer was complete and error-free."""
        if self._error is not None:
            return None, self._error.message, self._error.kind  # type: ignore[return-value]  # measurement kinds only
        reader = self._ollama or self._openai
        if reader is None or reader.done_ns is None:
            return None, None, None
        return reader.observation(sent_ns), None, None


class ChunkedBody:
    """The payload and the end of an HTTP/1.1 chunked body, found in its raw bytes as they arrive.

    The proxy forwards the raw bytes as they are (the client sees the
    runtime's own chunks) and only needs the payload for the observer and the
    end of the body to know the response is over. A size line, a payload or a
    trailer may be split across reads at any byte; a bare LF is accepted for
    CRLF, as ``http.client`` does. Bad framing raises ``ProtocolError``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.done = False
        self.excess = 0  # bytes after the end of the body in the last read (a misbehaving server)
        self._buf = b""
        self._left = 0  # payload bytes still to come in the current chunk
        self._crlf = False  # the current chunk's payload is in; its CRLF is next
        self._trailer = False  # the last chunk was seen; trailer lines up to a blank one are next

    def feed(self, data: bytes) -> list[bytes]:
        """The payload pieces in ``data`` (usually one: a token's line)."""
        if self._buf:
            data, self._buf = self._buf + data, b""
        pieces: list[bytes] = []
        pos, size = 0, len(data)
        while pos < size and not self.done:
            if self._left:
                end = min(pos + self._left, size)
                pieces.append(data[pos:end])
                self._left -= end - pos
                self._crlf = not self._left
                pos = end
                continue
            eol = data.find(b"\n", pos)
            if eol < 0:
                break
            line = data[pos:eol].removesuffix(b"\r")
            pos = eol + 1
            if self._crlf:
                if line:
                    raise self._bad("no CRLF after a chunk")
                self._crlf = False
            elif self._trailer:
                self.done = not line
            else:
                self._size_line(line)
        if self.done:
            self.excess = size - pos
        else:
            self._buf = data[pos:]
        return pieces

    def _size_line(self, line: bytes) -> None:
        try:
            chunk_size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise self._bad(f"chunk size line {line[:40]!r}") from None
        if chunk_size < 0:
            raise self._bad(f"chunk size line {line[:40]!r}")
        if chunk_size == 0:
            self._trailer = True
        else:
            self._left = chunk_size

    def _bad(self, what: str) -> ProtocolError:
        return ProtocolError(f"protocol error: {self.url} sent a bad chunked body ({what})")


class ChunkedRelay:
    """A chunked body relayed as it is: each read kept, its framing parsed only when it could end the body.

    Every chunked body ends with CRLF CRLF (the last chunk's size line, then
    the empty line closing the trailers, RFC 9112 7.1), and a runtime's token
    chunk never does (its payload ends with a newline, then the chunk's CRLF).
    So the per-read work is a list append and a four-byte compare; the framing
    of everything kept is parsed when that ending shows up (or every
    ``CATCH_UP_READS`` reads, to bound the memory), and the payload goes to
    ``sink`` with each read's clock reading.
    """

    CATCH_UP_READS = 1024

    def __init__(self, url: str, sink: Callable[[bytes, int], None] | None) -> None:
        self.body = ChunkedBody(url)
        self._sink = sink
        self.pending: list[tuple[bytes, int]] = []  # (read, clock) not parsed yet; the proxy appends in place
        self._tail = b""

    def push(self, data: bytes, at_ns: int) -> bool:
        """Keep one read; True once the body is complete."""
        pending = self.pending
        pending.append((data, at_ns))
        tail = data[-4:] if len(data) >= 4 else (self._tail + data)[-4:]
        self._tail = tail
        if tail == b"\r\n\r\n" or len(pending) >= self.CATCH_UP_READS:
            return self.catch_up()
        return False

    def catch_up(self) -> bool:
        """Parse the framing of every read kept so far (ProtocolError when it is bad); True once complete."""
        pending = self.pending[:]
        self.pending.clear()  # the same list: the proxy holds its append
        for data, at_ns in pending:
            pieces = self.body.feed(data)
            if self._sink is not None:
                for piece in pieces:
                    self._sink(piece, at_ns)
            if self.body.done:
                return True
        return False
