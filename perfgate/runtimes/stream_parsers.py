"""What each line or event of a generation stream says, read push-style.

The runtime clients pull lines out of httpx; the measuring proxy pushes the
bytes it forwards. Both hand every line (Ollama NDJSON) or SSE event (OpenAI)
with its clock reading to one of the readers below, so a stream is understood
the same way whoever reads it. A reader raises the error a line stands for
(``RuntimeFailure`` for an ``{"error"}`` line, ``ProtocolError`` for a
malformed one), says when the stream's end marker arrived, and then gives the
``StreamObservation``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, TypeGuard, Unpack

from perfgate.contracts.results import StreamObservation
from perfgate.errors import ProtocolError, RuntimeFailure

SSE_DONE = "[DONE]"


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

    def observation(
        self, *, sent_ns: int, done_ns: int, retries_before_first_byte: int = 0, **server: Unpack[ServerFields]
    ) -> StreamObservation:
        """The observation of a stream sent at ``sent_ns`` that reached its end marker at ``done_ns``."""
        return StreamObservation(
            sent_ns=sent_ns,
            first_content_ns=self.chunk_ns[0] if self.chunk_ns else None,
            last_content_ns=self.chunk_ns[-1] if self.chunk_ns else None,
            done_ns=done_ns,
            content_chunk_ns=tuple(self.chunk_ns),
            text="".join(self.pieces),
            retries_before_first_byte=retries_before_first_byte,
            **server,
        )


# ---------------------------------------------------------------- field readers


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
    # A count or a duration in ns is never negative, NaN or infinite (JSON from Python may spell those).
    if not _finite_number(value) or value != int(value) or value < 0:
        raise ProtocolError(f"protocol error: {url} sent {key}={value!r}, expected an integer of 0 or more")
    return int(value)


def _finite_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def optional_ms_as_ns(obj: dict[str, Any], key: str, url: str) -> int | None:
    """A duration in (fractional) milliseconds, as llama.cpp reports them, in nanoseconds."""
    value = obj.get(key)
    if value is None:
        return None
    if not _finite_number(value) or value < 0:
        raise ProtocolError(f"protocol error: {url} sent {key}={value!r}, expected a number of milliseconds")
    return round(value * 1_000_000)


def optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def _text_of(source: dict[str, Any], keys: tuple[str, ...], url: str, what: str = "") -> str:
    """The concatenated string values of ``keys`` in ``source`` (absent or null ones skipped)."""
    text = ""
    for key in keys:
        value = source.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ProtocolError(f"protocol error: {url} sent {what}{key} that is not a string: {value!r}")
        text += value
    return text


# ---------------------------------------------------------------- Ollama NDJSON


class OllamaReader:
    """One Ollama ``/api/chat`` or ``/api/generate`` answer, line by line (a whole unstreamed body is one line)."""

    def __init__(self, url: str, *, chat: bool) -> None:
        self.url = url
        # A thinking model's reasoning is generated text too.
        self._source_key, self._keys = ("message", ("thinking", "content")) if chat else ("", ("thinking", "response"))
        self.log = ContentLog()
        self.done_ns: int | None = None
        self._server: ServerFields = {}

    def line(self, line: str, at_ns: int) -> bool:
        """Take one line that arrived at ``at_ns``; True when it was the ``done: true`` line."""
        if not line or line.isspace():
            return False
        obj = parse_json_object(line, self.url)
        failure = stream_error(obj, self.url) if "error" in obj else None  # the check inline: once per token
        if failure is not None:
            raise failure
        # Newer Ollama versions put the last piece of text on the done line.
        self.log.add(self._content(obj), at_ns)
        if obj.get("done") is not True:
            return False
        self.done_ns = at_ns
        self._server = ollama_server_fields(obj, self.url)
        return True

    def _content(self, obj: dict[str, Any]) -> str:
        if self._source_key:
            message = obj.get(self._source_key)
            obj = message if isinstance(message, dict) else {}
        return _text_of(obj, self._keys, self.url)

    def observation(self, sent_ns: int, retries_before_first_byte: int = 0) -> StreamObservation:
        """The observation once :meth:`line` returned True."""
        if self.done_ns is None:
            raise RuntimeError("OllamaReader.observation() before the done line")
        return self.log.observation(
            sent_ns=sent_ns, done_ns=self.done_ns, retries_before_first_byte=retries_before_first_byte, **self._server
        )


def ollama_server_fields(done: dict[str, Any], url: str) -> ServerFields:
    """The counters of Ollama's done line."""
    # Ollama omits every counter that is zero (Go omitempty): absent stays None.
    eval_count = optional_int(done, "eval_count", url)
    return {
        "output_tokens": eval_count,
        "prompt_tokens": optional_int(done, "prompt_eval_count", url),
        # Unknown: prompt_eval_count includes prompt tokens served from the KV
        # cache while prompt_eval_duration covers only the evaluated ones, and
        # Ollama does not say how many were cached. Guessing ("all of them")
        # would overstate prefill speed on every cache hit.
        "uncached_prompt_tokens": None,
        "prompt_eval_ns": optional_int(done, "prompt_eval_duration", url),
        "eval_count": eval_count,
        "eval_ns": optional_int(done, "eval_duration", url),
        "load_ns": optional_int(done, "load_duration", url),
        "done_reason": optional_str(done, "done_reason"),
    }


# ---------------------------------------------------------------- OpenAI-compatible SSE


class SseEvents:
    """Server-sent events assembled from lines pushed one at a time.

    Per the SSE spec: an event ends at a blank line, its ``data:`` lines are
    joined with newlines, one space after the colon is dropped and ``:`` lines
    are comments (keep-alive pings). An event's time is when its terminating
    blank line arrived. An event still open when the body ends is discarded,
    except a lone ``[DONE]`` (a server that omits the final blank line still
    finished its stream): :meth:`leftover`.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._data: list[str] = []
        self._last_ns = 0

    def line(self, line: str, at_ns: int) -> str | None:
        """Take one line; the data of the event it completed, if it was the blank line ending one."""
        if not line:
            if not self._data:
                return None
            data = "\n".join(self._data)
            self._data = []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value.removeprefix(" "))
        elif name not in ("event", "id", "retry"):
            # A JSON body or plain text where SSE was expected: say so rather
            # than ignore it and later report a misleading truncation.
            raise ProtocolError(
                f"protocol error: {self.url} sent a line that is not server-sent events: {line[:120]!r}"
            )
        self._last_ns = at_ns
        return None

    def leftover(self) -> tuple[str, int] | None:
        """At the end of the body: a lone unterminated ``[DONE]`` with its time, else None."""
        return (SSE_DONE, self._last_ns) if self._data == [SSE_DONE] else None


class OpenAIReader:
    """One OpenAI-compatible completion: SSE ``data`` events one by one, or a whole unstreamed JSON body.

    ``legacy`` reads ``/v1/completions`` (``choices[].text``) instead of chat
    completions (``choices[].delta`` / ``choices[].message``).
    """

    def __init__(self, url: str, *, legacy: bool = False) -> None:
        self.url = url
        self.legacy = legacy
        self.log = ContentLog()
        self.done_ns: int | None = None
        self._done_reason: str | None = None
        self._usage: dict[str, Any] = {}
        self._timings: dict[str, Any] = {}

    def event(self, data: str, at_ns: int) -> bool:
        """Take one event's data that arrived at ``at_ns``; True at ``[DONE]``."""
        if data == SSE_DONE:
            self.done_ns = at_ns
            return True
        self._chunk(parse_json_object(data, self.url), at_ns, "delta")
        return False

    def body(self, data: str, at_ns: int) -> None:
        """Take a whole unstreamed answer (``stream: false``) that was complete at ``at_ns``."""
        self._chunk(parse_json_object(data, self.url), at_ns, "message")
        self.done_ns = at_ns

    def _chunk(self, chunk: dict[str, Any], at_ns: int, part: str) -> None:
        failure = stream_error(chunk, self.url)
        if failure is not None:
            raise failure
        for choice in _choices(chunk, self.url):
            self.log.add(self._choice_text(choice, part), at_ns)
            self._done_reason = optional_str(choice, "finish_reason") or self._done_reason
        # usage and timings ride on the finish chunk or on a separate
        # choices:[] chunk, depending on the server and its options.
        self._usage = _object_field(chunk, "usage", self.url) or self._usage
        self._timings = _object_field(chunk, "timings", self.url) or self._timings

    def _choice_text(self, choice: dict[str, Any], part: str) -> str:
        if self.legacy:
            return _text_of(choice, ("text",), self.url)
        delta = choice.get(part)
        if delta is None:
            return ""
        if not isinstance(delta, dict):
            raise ProtocolError(f"protocol error: {self.url} sent a '{part}' that is not an object")
        # The first chunk may carry only the role, with content null: not a token.
        # Reasoning models stream their reasoning first (llama.cpp/vLLM
        # `reasoning_content`, others `reasoning`); it is generated text, so it counts.
        return _text_of(delta, ("reasoning_content", "reasoning", "content"), self.url, f"{part} ")

    def observation(self, sent_ns: int, retries_before_first_byte: int = 0) -> StreamObservation:
        """The observation once the stream reached ``[DONE]`` (or :meth:`body` was read)."""
        if self.done_ns is None:
            raise RuntimeError("OpenAIReader.observation() before [DONE]")
        fields = openai_server_fields(self._usage, self._timings, len(self.log.chunk_ns), self.url)
        fields["done_reason"] = self._done_reason
        return self.log.observation(
            sent_ns=sent_ns, done_ns=self.done_ns, retries_before_first_byte=retries_before_first_byte, **fields
        )


def _choices(chunk: dict[str, Any], url: str) -> list[dict[str, Any]]:
    choices = chunk.get("choices")
    if choices is None:
        return []
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise ProtocolError(f"protocol error: {url} sent 'choices' that is not a list of objects")
    return choices


def _object_field(chunk: dict[str, Any], key: str, url: str) -> dict[str, Any]:
    value = chunk.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"protocol error: {url} sent '{key}' that is not an object")
    return value


def openai_server_fields(usage: dict[str, Any], timings: dict[str, Any], content_events: int, url: str) -> ServerFields:
    """Token counts and server times from ``usage`` and llama.cpp's ``timings``."""
    completion_tokens = optional_int(usage, "completion_tokens", url)
    predicted_n = optional_int(timings, "predicted_n", url)
    prompt_n = optional_int(timings, "prompt_n", url)
    cache_n = optional_int(timings, "cache_n", url)
    prompt_tokens = optional_int(usage, "prompt_tokens", url)
    if prompt_tokens is None and prompt_n is not None and cache_n is not None:
        # llama.cpp's prompt_n excludes the cache_n tokens reused from the KV cache.
        prompt_tokens = prompt_n + cache_n
    fields: ServerFields = {
        "prompt_tokens": prompt_tokens,
        # llama.cpp's timings time exactly these tokens, so the pair gives a
        # prefill rate that a prompt-cache hit cannot inflate.
        "uncached_prompt_tokens": prompt_n,
        "prompt_eval_ns": optional_ms_as_ns(timings, "prompt_ms", url),
        "eval_count": predicted_n,
        "eval_ns": optional_ms_as_ns(timings, "predicted_ms", url),
    }
    output_tokens = completion_tokens if completion_tokens is not None else predicted_n
    if output_tokens is None:
        # No server count at all: content events are not tokens (a server may
        # send several per event), so the observation says where it came from.
        fields["token_count_source"] = "chunks"
        output_tokens = content_events
    fields["output_tokens"] = output_tokens
    return fields
