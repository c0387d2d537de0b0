"""What the measuring proxy saw of one request, and the records file ``perfgate proxy --record`` appends to.

The records file is JSON Lines: one complete record per line, each line a
self-contained object with its own ``schema_version``, appended (and flushed)
as each request completes, so a proxy killed at any moment leaves every
finished request on disk. A line is complete only with its newline: a last
line without one was cut off by the kill and is skipped when read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from perfgate.contracts.results import Frozen, StreamObservation
from perfgate.errors import BadFileError, FailureKind
from perfgate.files import parse_model

PROXY_RECORDS_SCHEMA_VERSION = 1

ProxyApi = Literal["ollama_chat", "ollama_generate", "openai_chat", "openai_completions", "other"]
LLM_APIS: frozenset[str] = frozenset({"ollama_chat", "ollama_generate", "openai_chat", "openai_completions"})


class ProxyRecord(Frozen):
    """One request that went through the measuring proxy, timed at the proxy.

    Clock values are the proxy process's ``time.perf_counter_ns()``: comparable
    with each other, not across processes.
    """

    started_ns: int = Field(description="Clock when the proxy received the request line.")
    ended_ns: int = Field(description="Clock when the proxy finished (or gave up on) the response.")
    method: str = Field(description="HTTP method as the client sent it.")
    path: str = Field(description="Request path without the query string, as the client sent it.")
    api: ProxyApi = Field(description="Which generation API the path is; 'other' for everything else.")
    model: str | None = Field(default=None, description="The request body's model, for generation requests.")
    prompt_sha256: str | None = Field(
        default=None,
        description="SHA-256 of the prompt as sent: canonical JSON of messages/prompt/system/suffix/images/tools/"
        "template/context (whichever the body has).",
    )
    options_sha256: str | None = Field(
        default=None,
        description="SHA-256 of canonical JSON of every other body field except model and stream "
        "(Ollama options, keep_alive, format, think...; OpenAI max_tokens, temperature, seed, stream_options...).",
    )
    stream: bool = Field(default=False, description="Whether the request asked for a streamed answer.")
    status: int | None = Field(
        default=None,
        description="HTTP status the runtime answered; None when it never answered (the proxy sent 502/504).",
    )
    error: str | None = Field(default=None, description="Why no observation was made, as perfgate run would word it.")
    error_kind: FailureKind | None = Field(default=None, description="The kind of ``error``.")
    observation: StreamObservation | None = Field(
        default=None,
        description="The generation as perfgate's own clients observe one (sent_ns = when the proxy had sent the "
        "request's last byte upstream); None for other paths and failed generations.",
    )
    request_bytes: int = Field(default=0, description="Request body bytes forwarded.")
    response_bytes: int = Field(default=0, description="Response body bytes forwarded to the client.")

    @property
    def is_llm_request(self) -> bool:
        """A generation request (chat, generate, completions), whatever its outcome."""
        return self.api in LLM_APIS


class ProxyRecordLine(ProxyRecord):
    """One line of a ``perfgate proxy --record`` file."""

    schema_version: int = PROXY_RECORDS_SCHEMA_VERSION
    completed_at: str = Field(description="UTC wall-clock time the record was written (ISO 8601).")


def record_line(record: ProxyRecord, *, completed_at: str) -> str:
    """The records-file line of ``record``, newline included."""
    # The record was validated when it was made: construct, do not validate a
    # few thousand chunk times again on the proxy's request thread.
    line = ProxyRecordLine.model_construct(
        **dict(record), schema_version=PROXY_RECORDS_SCHEMA_VERSION, completed_at=completed_at
    )
    return line.model_dump_json() + "\n"


def read_proxy_records(path: Path) -> list[ProxyRecordLine]:
    """Every complete line of a records file; errors name the file, the line and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadFileError(f"{path}: proxy records file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadFileError(f"{path}: cannot read proxy records file: {exc}") from exc
    lines = text.split("\n")
    # The text after the last newline is a line the proxy was killed while writing (or nothing).
    complete = lines[:-1]
    return [
        parse_model(
            line,
            f"{path}:{number}",
            ProxyRecordLine,
            what="proxy record",
            current_version=PROXY_RECORDS_SCHEMA_VERSION,
        )
        for number, line in enumerate(complete, start=1)
        if line.strip()
    ]
