"""What the measuring proxy learns from the bytes it forwards, on scripted byte chunks (no socket).

Each test pushes a runtime's answer as the reads a proxy would get, with the
clock reading of each read, and checks the record facts and the
StreamObservation that come out: the same ones perfgate's own clients make.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfgate.contracts.proxy import ProxyRecord, read_proxy_records, record_line
from perfgate.contracts.results import StreamObservation
from perfgate.errors import BadFileError, NewerSchemaError, ProtocolError
from perfgate.measure.proxy_observe import (
    ChunkedBody,
    ChunkedRelay,
    ResponseObserver,
    canonical_sha256,
    classify,
    request_facts,
)
from perfgate.measure.samples import build_sample

URL = "http://runtime.test/api/chat"
SENT_NS = 1_000


def observe(
    api: str,
    reads: list[tuple[int, bytes]],
    *,
    status: int = 200,
    content_type: str = "application/x-ndjson",
    model: str | None = "m",
) -> tuple[StreamObservation | None, str | None, str | None]:
    observer = ResponseObserver(api, url=URL, model=model, status=status, content_type=content_type)  # type: ignore[arg-type]
    for at_ns, data in reads:
        observer.feed(data, at_ns)
    observer.finish()
    return observer.result(SENT_NS)


def ndjson(*objects: dict[str, object]) -> bytes:
    return b"".join(json.dumps(obj, ensure_ascii=False).encode() + b"\n" for obj in objects)


def chat_line(content: str, **extra: object) -> dict[str, object]:
    return {"model": "m", "message": {"role": "assistant", "content": content}, "done": False, **extra}


DONE = {
    "model": "m",
    "message": {"role": "assistant", "content": "!"},
    "done": True,
    "done_reason": "stop",
    "prompt_eval_count": 7,
    "prompt_eval_duration": 3_000_000,
    "eval_count": 3,
    "eval_duration": 20_000_000,
    "load_duration": 1_000_000,
}


# ---------------------------------------------------------------- which request, asking for what


@pytest.mark.parametrize(
    ("method", "path", "api"),
    [
        ("POST", "/api/chat", "ollama_chat"),
        ("POST", "/api/generate", "ollama_generate"),
        ("POST", "/v1/chat/completions", "openai_chat"),
        ("POST", "/v1/completions", "openai_completions"),
        ("POST", "/chat/completions", "openai_chat"),
        ("POST", "/api/chat/", "ollama_chat"),
        ("GET", "/api/chat", "other"),
        ("POST", "/api/show", "other"),
        ("GET", "/api/tags", "other"),
        ("GET", "/", "other"),
    ],
)
def test_classify(method: str, path: str, api: str) -> None:
    assert classify(method, path) == api


def test_request_facts_hash_the_prompt_and_the_options_apart() -> None:
    body = {
        "model": "llama3.2",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "options": {"num_ctx": 4096, "temperature": 0},
        "keep_alive": "10m",
    }
    facts = request_facts("ollama_chat", json.dumps(body).encode())
    assert facts.model == "llama3.2"
    assert facts.stream is True  # Ollama streams unless told not to
    assert facts.prompt_sha256 == canonical_sha256({"messages": body["messages"]})
    assert facts.options_sha256 == canonical_sha256({"options": body["options"], "keep_alive": "10m"})
    # Key order is not a change; a longer system prompt and a new num_ctx are.
    reordered = {"keep_alive": "10m", "options": {"temperature": 0, "num_ctx": 4096}, **body}
    assert request_facts("ollama_chat", json.dumps(reordered).encode()) == facts
    longer = {**body, "messages": [{"role": "system", "content": "Be brief. " * 10}, body["messages"][1]]}
    assert request_facts("ollama_chat", json.dumps(longer).encode()).prompt_sha256 != facts.prompt_sha256
    other_ctx = {**body, "options": {"num_ctx": 8192, "temperature": 0}}
    changed = request_facts("ollama_chat", json.dumps(other_ctx).encode())
    assert (changed.prompt_sha256, changed.options_sha256 != facts.options_sha256) == (facts.prompt_sha256, True)
    # Neither the model nor the stream flag is an option.
    same_options = {**body, "model": "other", "stream": False}
    assert request_facts("ollama_chat", json.dumps(same_options).encode()).options_sha256 == facts.options_sha256


def test_request_facts_of_openai_generate_and_non_requests() -> None:
    openai = request_facts("openai_chat", b'{"model": "q", "messages": [], "max_tokens": 5}')
    assert (openai.model, openai.stream) == ("q", False)  # OpenAI streams only when asked
    assert openai.options_sha256 == canonical_sha256({"max_tokens": 5})
    generate = request_facts("ollama_generate", b'{"model": "q", "prompt": "Hi", "system": "S", "stream": false}')
    assert generate.prompt_sha256 == canonical_sha256({"prompt": "Hi", "system": "S"})
    assert generate.stream is False
    preload = request_facts("ollama_generate", b'{"model": "q", "keep_alive": "5m"}')
    assert preload.prompt_sha256 is None
    for api, body in (("other", b'{"model": "q"}'), ("ollama_chat", b"not json"), ("ollama_chat", b"[1]")):
        facts = request_facts(api, body)  # type: ignore[arg-type]
        assert (facts.model, facts.prompt_sha256, facts.options_sha256) == (None, None, None)


# ---------------------------------------------------------------- chunked framing


CHUNKED = b"5\r\nhello\r\n3;ext=1\r\n, w\r\nA\r\norld\n\xe2\x82\xac!!\r\n0\r\nX-Trailer: y\r\n\r\n"


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, len(CHUNKED)])
def test_chunked_body_split_at_any_byte(step: int) -> None:
    body = ChunkedBody(URL)
    pieces: list[bytes] = []
    for start in range(0, len(CHUNKED), step):
        assert not body.done
        pieces += body.feed(CHUNKED[start : start + step])
    assert b"".join(pieces) == b"hello, world\n\xe2\x82\xac!!"
    assert (body.done, body.excess) == (True, 0)


def test_chunked_body_one_token_per_read_and_bytes_past_the_end() -> None:
    body = ChunkedBody(URL)
    assert body.feed(b"4\r\ntok1\r\n") == [b"tok1"]
    assert body.feed(b"4\r\ntok2\r\n0\r\n\r\nHTTP/1.1") == [b"tok2"]
    assert (body.done, body.excess) == (True, 8)


@pytest.mark.parametrize("raw", [b"zz\r\nhello\r\n", b"-1\r\n", b"2\r\nhiXX\r\n"])
def test_chunked_body_bad_framing_is_a_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError, match="bad chunked body"):
        ChunkedBody(URL).feed(raw)


def test_chunked_relay_parses_only_at_a_possible_end_and_times_each_piece_by_its_read() -> None:
    got: list[tuple[bytes, int]] = []
    relay = ChunkedRelay(URL, lambda piece, at_ns: got.append((piece, at_ns)))
    assert relay.push(b"5\r\n{..}\n\r\n", 1) is False
    assert relay.push(b"5\r\n{..}\n\r\n", 2) is False
    assert got == []  # token chunks never end in CRLF CRLF: nothing parsed yet
    assert relay.push(b"0\r\n\r", 3) is False
    assert relay.push(b"\n", 4) is True  # the ending split across reads still counts
    assert got == [(b"{..}\n", 1), (b"{..}\n", 2)]
    assert relay.body.excess == 0


def test_chunked_relay_catches_up_to_bound_its_memory_and_at_the_end_of_the_connection() -> None:
    got: list[bytes] = []
    relay = ChunkedRelay(URL, lambda piece, _at: got.append(piece))
    for index in range(ChunkedRelay.CATCH_UP_READS):
        relay.push(b"1\r\nx\r\n", index)
    assert len(got) == ChunkedRelay.CATCH_UP_READS
    relay.push(b"1\r\ny\r\n", 0)
    assert relay.catch_up() is False  # the body is not over: a connection ending here truncated it
    assert got[-1] == b"y"
    bad = ChunkedRelay(URL, None)
    with pytest.raises(ProtocolError):
        bad.push(b"zz\r\nxx\r\n\r\n", 0)


# ---------------------------------------------------------------- Ollama NDJSON


def test_ollama_stream_lines_split_across_reads_are_timed_when_complete() -> None:
    raw = ndjson(chat_line(""), chat_line("Hé"), chat_line("llo"), DONE)
    cut_in_e_acute = raw.index("é".encode()) + 1  # mid UTF-8 character
    second_line = raw.index(b"\n") + 1
    reads = [
        (2_000, raw[:second_line]),  # the role-only line: no content, no token
        (5_000, raw[second_line:cut_in_e_acute]),
        (6_000, raw[cut_in_e_acute : raw.index(b"llo")]),
        (9_000, raw[raw.index(b"llo") : -5]),
        (12_000, raw[-5:]),
    ]
    obs, error, kind = observe("ollama_chat", reads)
    assert (error, kind) == (None, None)
    assert obs is not None
    assert obs.content_chunk_ns == (6_000, 9_000, 12_000)  # each line when its last byte came
    assert (obs.sent_ns, obs.first_content_ns, obs.last_content_ns, obs.done_ns) == (SENT_NS, 6_000, 12_000, 12_000)
    assert obs.text == "Héllo!"  # the done line's text counts
    assert (obs.output_tokens, obs.eval_count, obs.eval_ns, obs.prompt_tokens) == (3, 3, 20_000_000, 7)
    assert (obs.load_ns, obs.prompt_eval_ns, obs.done_reason, obs.token_count_source) == (
        1_000_000,
        3_000_000,
        "stop",
        "server",
    )
    sample = build_sample(obs, iteration=0, memory=None, cold_load_ms=500)
    assert sample.ttft_ms == pytest.approx(0.005)
    assert sample.decode_tok_s == pytest.approx(100.0)  # the runtime's own count and clock: 2 gaps in 20 ms
    assert sample.server_reported_tok_s == pytest.approx(150.0)  # as Ollama words it: 3 tokens in 20 ms


def test_ollama_generate_unstreamed_body_is_one_line_complete_when_its_last_byte_came() -> None:
    done = {"model": "m", "response": "Hello there", "done": True, "eval_count": 2, "eval_duration": 10}
    raw = json.dumps(done).encode()  # no trailing newline, as Ollama sends it
    obs, error, _ = observe("ollama_generate", [(4_000, raw[:10]), (7_000, raw[10:])], content_type="application/json")
    assert error is None
    assert obs is not None
    assert (obs.first_content_ns, obs.done_ns, obs.text, obs.output_tokens) == (7_000, 7_000, "Hello there", 2)


def test_ollama_error_line_inside_a_200_stream() -> None:
    reads = [(2_000, ndjson(chat_line("a"))), (3_000, b'{"error":"llama runner process has terminated"}\n')]
    obs, error, kind = observe("ollama_chat", reads)
    assert obs is None
    assert kind == "runtime_error"
    assert error is not None
    assert "llama runner process has terminated" in error


def test_ollama_stream_without_done_is_truncated() -> None:
    obs, error, kind = observe("ollama_chat", [(2_000, ndjson(chat_line("a"), chat_line("b")))])
    assert (obs, kind) == (None, "stream_truncated")
    assert error is not None
    assert "done:true" in error


def test_bad_line_is_a_protocol_error_and_stops_parsing() -> None:
    obs, error, kind = observe("ollama_chat", [(2_000, b"not json\n"), (3_000, ndjson(DONE))])
    assert (obs, kind) == (None, "protocol_error")
    assert error is not None
    assert "not JSON" in error


def test_a_broken_transfer_after_an_error_line_keeps_the_first_problem() -> None:
    from perfgate.errors import StreamTruncated  # noqa: PLC0415 -- only this test builds one

    observer = ResponseObserver("ollama_chat", url=URL, model="m", status=200, content_type="application/x-ndjson")
    observer.feed(b'{"error":"out of memory"}\n', 2_000)
    observer.fail(StreamTruncated("stream truncated: gone"))
    obs, error, kind = observer.result(SENT_NS)
    assert (obs, kind) == (None, "runtime_error")
    assert error is not None
    assert "out of memory" in error


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (404, b'{"error":"model \'nope\' not found"}', "model_missing", "not found"),
        (500, b'{"error":"out of memory"}', "runtime_error", "HTTP 500"),
        (503, b"busy", "runtime_error", "busy"),
    ],
)
def test_error_status_is_worded_as_perfgate_run_would(status: int, body: bytes, kind: str, text: str) -> None:
    obs, error, got_kind = observe("ollama_chat", [(2_000, body)], status=status, content_type="application/json")
    assert (obs, got_kind) == (None, kind)
    assert error is not None
    assert text in error


# ---------------------------------------------------------------- OpenAI SSE and JSON


def sse(*payloads: object, sep: bytes = b"\n") -> bytes:
    out = b""
    for payload in payloads:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        out += b"data: " + data.encode() + sep + sep
    return out


def delta(content: str | None, **extra: object) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"role": "assistant", "content": content}, **extra}]}


def test_openai_stream_with_usage_chunk_and_llama_cpp_timings() -> None:
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
    usage = {
        "choices": [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2},
        "timings": {"prompt_n": 9, "prompt_ms": 4.5, "predicted_n": 2, "predicted_ms": 10.0},
    }
    raw = b": ping\n\n" + sse(delta(None), delta("Hi"), delta(" you"), finish, usage, "[DONE]", sep=b"\r\n")
    third = raw.index(b"data", raw.index(b"Hi"))
    reads = [(3_000, raw[:third]), (8_000, raw[third : third + 7]), (9_000, raw[third + 7 :])]
    obs, error, _ = observe("openai_chat", reads, content_type="text/event-stream")
    assert error is None
    assert obs is not None
    assert obs.content_chunk_ns == (3_000, 9_000)
    assert (obs.text, obs.output_tokens, obs.prompt_tokens, obs.uncached_prompt_tokens) == ("Hi you", 2, 9, 9)
    assert (obs.eval_count, obs.eval_ns, obs.prompt_eval_ns, obs.done_reason) == (2, 10_000_000, 4_500_000, "length")
    assert obs.done_ns == 9_000


def test_openai_stream_without_counts_counts_events_and_says_so() -> None:
    raw = sse(delta("a"), delta("b")) + b"data: [DONE]"  # no final blank line: still the end
    obs, error, _ = observe("openai_chat", [(5_000, raw)], content_type="text/event-stream; charset=utf-8")
    assert error is None
    assert obs is not None
    assert (obs.output_tokens, obs.token_count_source) == (2, "chunks")


def test_openai_stream_without_done_is_truncated() -> None:
    obs, error, kind = observe("openai_chat", [(5_000, sse(delta("a")))], content_type="text/event-stream")
    assert (obs, kind) == (None, "stream_truncated")
    assert error is not None
    assert "[DONE]" in error


def test_openai_error_event_inside_a_200_stream() -> None:
    raw = sse(delta("a"), {"error": {"message": "context size exceeded"}})
    obs, error, kind = observe("openai_chat", [(5_000, raw)], content_type="text/event-stream")
    assert (obs, kind) == (None, "runtime_error")
    assert error is not None
    assert "context size exceeded" in error


def test_openai_unstreamed_answer_and_legacy_completions() -> None:
    answer = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 1},
    }
    obs, error, _ = observe("openai_chat", [(6_000, json.dumps(answer).encode())], content_type="application/json")
    assert error is None
    assert obs is not None
    assert (obs.text, obs.first_content_ns, obs.done_ns, obs.output_tokens, obs.done_reason) == (
        "Hello",
        6_000,
        6_000,
        1,
        "stop",
    )
    legacy = sse({"choices": [{"index": 0, "text": "Once"}]}, {"choices": [{"index": 0, "text": " upon"}]}, "[DONE]")
    obs, error, _ = observe("openai_completions", [(7_000, legacy)], content_type="text/event-stream")
    assert error is None
    assert obs is not None
    assert obs.text == "Once upon"


# ---------------------------------------------------------------- the records file


def record(**fields: object) -> ProxyRecord:
    base: dict[str, object] = {"started_ns": 1, "ended_ns": 2, "method": "POST", "path": "/api/chat"}
    return ProxyRecord.model_validate({"api": "ollama_chat", **base, **fields})


def test_record_lines_round_trip_and_a_cut_off_last_line_is_skipped(tmp_path: Path) -> None:
    obs, _, _ = observe("ollama_chat", [(2_000, ndjson(chat_line("a"), DONE))])
    first = record(model="m", status=200, observation=obs, stream=True)
    second = record(api="other", method="GET", path="/api/tags", status=200)
    third = record(error="runtime unavailable: nothing", error_kind="runtime_unavailable")
    path = tmp_path / "records.jsonl"
    text = "".join(record_line(r, completed_at="2026-01-01T00:00:00Z") for r in (first, second, third))
    path.write_text(text + record_line(first, completed_at="x")[:40], encoding="utf-8")
    lines = read_proxy_records(path)
    assert [line.schema_version for line in lines] == [1, 1, 1]
    assert [
        ProxyRecord.model_validate(line.model_dump(exclude={"schema_version", "completed_at"})) for line in lines
    ] == [
        first,
        second,
        third,
    ]
    assert [line.is_llm_request for line in lines] == [True, False, True]


def test_records_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    good = record_line(record(), completed_at="t")
    path.write_text(good + '{"schema_version": 1, "started_ns": "x"}\n', encoding="utf-8")
    with pytest.raises(BadFileError, match=r"records\.jsonl:2"):
        read_proxy_records(path)
    path.write_text(good.replace('"schema_version":1', '"schema_version":2'), encoding="utf-8")
    with pytest.raises(NewerSchemaError, match="upgrade perfgate"):
        read_proxy_records(path)
