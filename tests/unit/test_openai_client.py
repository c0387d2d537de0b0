"""OpenAIClient against scripted SSE streams, with a clock the stream itself advances."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import httpx
import pytest
from support.runtime_http import FakeClock, Script, mock_http
from support.runtime_http import streamed as stream_of

from perfgate.contracts.results import ScenarioOptions
from perfgate.errors import (
    ModelMissing,
    ProtocolError,
    RuntimeFailure,
    RuntimeTimeout,
    RuntimeUnavailable,
    StreamTruncated,
)
from perfgate.runtimes.base import RuntimeClient
from perfgate.runtimes.openai import OpenAIClient

BASE = "http://llama.test:8080"
OPTIONS = ScenarioOptions(num_predict=32, num_ctx=2048, temperature=0.0, seed=7, keep_alive="10m")


def event(obj: Mapping[str, object]) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


def chunk(content: str | None = None, *, role: str | None = None, finish: str | None = None) -> dict[str, object]:
    delta: dict[str, object] = {}
    if role is not None:
        delta["role"] = role
        delta["content"] = content
    elif content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "tiny",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


DONE = b"data: [DONE]\n\n"
USAGE = {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}
TIMINGS = {
    "cache_n": 4,
    "prompt_n": 8,
    "prompt_ms": 1.5,
    "prompt_per_second": 5333.3,
    "predicted_n": 2,
    "predicted_ms": 0.25,
    "predicted_per_token_ms": 0.125,
    "predicted_per_second": 8000.0,
}


def make_client(handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock, **kwargs: object) -> OpenAIClient:
    http = mock_http(handler)
    kwargs.setdefault("base_url", BASE)
    return OpenAIClient(http, model="tiny", clock=clock, **kwargs)  # type: ignore[arg-type]


def streamed(clock: FakeClock, *items: tuple[int, bytes] | Exception) -> httpx.Response:
    return stream_of(clock, "text/event-stream", *items)


# -- stream: timings and server fields ---------------------------------------


def test_llama_cpp_stream_with_separate_usage_chunk() -> None:
    clock = FakeClock(100)
    script = Script(
        streamed(
            clock,
            (110, event(chunk(None, role="assistant"))),  # role only, content null: not a token
            (150, event(chunk("Hel"))),
            (170, event(chunk("lo"))),
            (180, event(chunk(finish="length"))),
            (190, event({"id": "chatcmpl-1", "choices": [], "usage": USAGE, "timings": TIMINGS})),
            (200, DONE),
        )
    )
    obs = make_client(script, clock).stream("Why?", OPTIONS)

    assert obs.sent_ns == 100
    assert obs.first_content_ns == 150
    assert obs.last_content_ns == 170
    assert obs.content_chunk_ns == (150, 170)
    assert obs.done_ns == 200
    assert obs.text == "Hello"
    assert obs.done_reason == "length"
    assert obs.output_tokens == 2
    assert obs.prompt_tokens == 12
    assert obs.uncached_prompt_tokens == 8
    assert obs.prompt_eval_ns == 1_500_000
    assert obs.eval_count == 2
    assert obs.eval_ns == 250_000
    assert obs.load_ns is None
    assert obs.token_count_source == "server"
    assert obs.retries_before_first_byte == 0


def test_request_shape() -> None:
    clock = FakeClock()
    script = Script(streamed(clock, (1, event(chunk(finish="stop"))), (2, DONE)))
    make_client(script, clock, api_key="sk-test", read_timeout_s=60.0, connect_timeout_s=2.0).stream("Why?", OPTIONS)

    (request,) = script.requests
    assert str(request.url) == f"{BASE}/v1/chat/completions"
    assert request.headers["connection"] == "close"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {
        "model": "tiny",
        "messages": [{"role": "user", "content": "Why?"}],
        "temperature": 0.0,
        "seed": 7,
        "max_tokens": 32,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert request.extensions["timeout"] == {"connect": 2.0, "read": 60.0, "write": 2.0, "pool": 2.0}


def test_base_url_ending_in_v1_is_accepted_and_unbounded_output_sends_no_max_tokens() -> None:
    clock = FakeClock()
    script = Script(streamed(clock, (1, DONE)))
    options = OPTIONS.model_copy(update={"num_predict": -1})
    make_client(script, clock, base_url=f"{BASE}/v1/").stream("Why?", options)

    assert str(script.requests[0].url) == f"{BASE}/v1/chat/completions"
    assert "max_tokens" not in json.loads(script.requests[0].content)
    assert "authorization" not in script.requests[0].headers


def test_usage_on_the_finish_chunk() -> None:
    clock = FakeClock(0)
    finish = {**chunk(finish="stop"), "usage": {"prompt_tokens": 5, "completion_tokens": 3}}
    script = Script(streamed(clock, (10, event(chunk("a"))), (20, event(chunk("bc"))), (30, event(finish)), (40, DONE)))
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert obs.output_tokens == 3
    assert obs.prompt_tokens == 5
    assert obs.done_reason == "stop"
    assert obs.uncached_prompt_tokens is None  # no timings: unknown, not 0
    assert obs.eval_ns is None
    assert obs.token_count_source == "server"
    assert obs.done_ns == 40


def test_no_usage_counts_content_events_and_says_so() -> None:
    clock = FakeClock(0)
    script = Script(
        streamed(
            clock,
            (10, event(chunk("", role="assistant"))),
            (20, event(chunk("one two"))),
            (30, event(chunk(" three"))),
            (40, event(chunk(finish="stop"))),
            (50, DONE),
        )
    )
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert obs.output_tokens == 2
    assert obs.token_count_source == "chunks"
    assert obs.prompt_tokens is None
    assert obs.eval_count is None


def test_timings_without_usage_count_as_server_tokens() -> None:
    clock = FakeClock(0)
    finish = {**chunk(finish="length"), "timings": TIMINGS}
    script = Script(streamed(clock, (10, event(chunk("a"))), (20, event(finish)), (30, DONE)))
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert obs.output_tokens == 2  # predicted_n, not the single content event
    assert obs.token_count_source == "server"
    assert obs.prompt_tokens == 12  # prompt_n + cache_n
    assert obs.uncached_prompt_tokens == 8


def test_comments_other_fields_and_multiline_data() -> None:
    clock = FakeClock(0)
    payload = json.dumps(chunk("x"), indent=1).encode()  # a server that pretty-prints across lines
    multiline = b"".join(b"data: " + part + b"\n" for part in payload.split(b"\n")) + b"\n"
    script = Script(
        streamed(
            clock,
            (5, b": ping\n\n"),
            (10, b"event: message\nid: 1\n" + multiline),
            (15, b":keep-alive\n"),
            (20, b"data:" + json.dumps(chunk("y")).encode() + b"\n\n"),  # no space after the colon
            (30, DONE),
        )
    )
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert obs.text == "xy"
    assert obs.content_chunk_ns == (10, 20)


def test_events_split_mid_line_and_mid_utf8_character_are_reassembled() -> None:
    clock = FakeClock(0)
    first = event(chunk("naïve"))  # ï is two bytes in UTF-8
    cut = first.index("ï".encode()) + 1
    second = event(chunk("→"))
    script = Script(
        streamed(
            clock,
            (10, first[:4]),  # inside "data:"
            (20, first[4:cut]),
            (30, first[cut:-1]),  # the data line is complete, the blank line is not yet here
            (40, first[-1:] + second[:9]),
            (50, second[9:] + DONE[:3]),
            (60, DONE[3:]),
        )
    )
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert obs.text == "naïve→"
    # An event is timed when its terminating blank line arrived.
    assert obs.content_chunk_ns == (40, 50)
    assert obs.done_ns == 60


def test_done_without_final_blank_line_still_ends_the_stream() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (10, event(chunk("a"))), (20, b"data: [DONE]")))
    obs = make_client(script, clock).stream("p", OPTIONS)
    assert obs.done_ns == 20


# -- stream: failures -------------------------------------------------------


def test_error_event_is_runtime_failure() -> None:
    clock = FakeClock(0)
    error = {"error": {"message": "context size exceeded", "type": "exceed_context_size_error", "code": 400}}
    script = Script(streamed(clock, (1, event(chunk("a"))), (2, event(error)), (3, DONE)))
    with pytest.raises(RuntimeFailure, match="context size exceeded"):
        make_client(script, clock).stream("p", OPTIONS)


def test_missing_done_is_truncation_even_after_finish_and_usage() -> None:
    clock = FakeClock(0)
    finish = {**chunk(finish="stop"), "usage": USAGE}
    script = Script(streamed(clock, (1, event(chunk("a"))), (2, event(finish))))
    with pytest.raises(StreamTruncated, match=r"\[DONE\]"):
        make_client(script, clock).stream("p", OPTIONS)


def test_event_cut_off_at_end_of_body_is_truncation() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, event(chunk("a"))), (2, b'data: {"choices": [')))
    with pytest.raises(StreamTruncated):
        make_client(script, clock).stream("p", OPTIONS)


def test_bad_json_is_protocol_error() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, b"data: {not json}\n\n"), (2, DONE)))
    with pytest.raises(ProtocolError, match="not JSON"):
        make_client(script, clock).stream("p", OPTIONS)


def test_a_json_body_instead_of_sse_is_protocol_error() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, json.dumps({"choices": [{"message": {"content": "hi"}}]}).encode())))
    with pytest.raises(ProtocolError, match="server-sent events"):
        make_client(script, clock).stream("p", OPTIONS)


def test_non_string_content_is_protocol_error() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, event({"choices": [{"delta": {"content": 5}}]})), (2, DONE)))
    with pytest.raises(ProtocolError, match="not a string"):
        make_client(script, clock).stream("p", OPTIONS)


def test_404_is_model_missing() -> None:
    clock = FakeClock(0)
    script = Script(httpx.Response(404, json={"error": {"message": "model 'tiny' not found", "code": 404}}))
    with pytest.raises(ModelMissing, match="model 'tiny' not found"):
        make_client(script, clock).stream("p", OPTIONS)


def test_500_is_runtime_failure_with_body_message() -> None:
    clock = FakeClock(0)
    script = Script(httpx.Response(500, json={"error": {"message": "slot unavailable", "type": "server_error"}}))
    with pytest.raises(RuntimeFailure, match=r"HTTP 500.*slot unavailable"):
        make_client(script, clock).stream("p", OPTIONS)


def test_read_timeout_mid_stream_is_runtime_timeout() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, event(chunk("a"))), httpx.ReadTimeout("stalled")))
    with pytest.raises(RuntimeTimeout):
        make_client(script, clock).stream("p", OPTIONS)


def test_connect_error_on_every_attempt_is_unavailable_naming_the_url() -> None:
    clock = FakeClock(0)
    script = Script(*(httpx.ConnectError("[Errno 111] Connection refused") for _ in range(3)))
    with pytest.raises(RuntimeUnavailable, match=r"http://llama\.test:8080/v1/chat/completions"):
        make_client(script, clock).stream("p", OPTIONS)
    assert len(script.requests) == 3


def test_first_byte_failure_is_retried_recorded_and_timed_from_the_resend() -> None:
    clock = FakeClock(100)

    def disconnect() -> httpx.Response:
        clock.now = 140
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    script = Script(disconnect, lambda: streamed(clock, (150, event(chunk("a"))), (160, DONE)))
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert len(script.requests) == 2
    assert obs.retries_before_first_byte == 1
    assert obs.sent_ns == 140
    assert obs.first_content_ns == 150


def test_failure_after_bytes_is_truncation_and_not_retried() -> None:
    clock = FakeClock(0)
    script = Script(
        streamed(clock, (1, event(chunk("a"))), httpx.RemoteProtocolError("incomplete chunked read")),
        lambda: streamed(clock, (9, DONE)),
    )
    with pytest.raises(StreamTruncated):
        make_client(script, clock).stream("p", OPTIONS)
    assert len(script.requests) == 1


# -- preflight, preload ----------------------------------------------------------

MODELS = {"object": "list", "data": [{"id": "tiny", "object": "model", "owned_by": "llamacpp"}]}


def routes(table: dict[str, httpx.Response | Exception]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = table.get(request.url.path, httpx.Response(404, json={"error": {"message": "File Not Found"}}))
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


def test_preflight_on_llama_cpp() -> None:
    handler = routes(
        {
            "/health": httpx.Response(200, json={"status": "ok"}),
            "/v1/models": httpx.Response(200, json=MODELS),
            "/props": httpx.Response(200, json={"build_info": "b6000-abc1234", "total_slots": 1}),
        }
    )
    info = make_client(handler, FakeClock()).preflight()

    assert info.kind == "openai"
    assert info.base_url == BASE
    assert info.version == "b6000-abc1234"
    assert info.model == "tiny"
    assert info.model_digest is None
    assert info.runtime_reported == {}


def test_preflight_on_a_server_without_health_or_props() -> None:
    handler = routes({"/v1/models": httpx.Response(200, json={"data": [{"id": "other"}, {"id": "tiny"}]})})
    info = make_client(handler, FakeClock()).preflight()
    assert info.version is None


def test_preflight_while_llama_cpp_is_loading_is_unavailable() -> None:
    loading = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
    handler = routes({"/health": httpx.Response(503, json=loading)})
    with pytest.raises(RuntimeUnavailable, match="still loading"):
        make_client(handler, FakeClock()).preflight()


def test_preflight_connection_refused_is_unavailable_naming_the_url() -> None:
    handler = routes({"/health": httpx.ConnectError("[Errno 111] Connection refused")})
    with pytest.raises(RuntimeUnavailable, match=r"http://llama\.test:8080/health"):
        make_client(handler, FakeClock()).preflight()


def test_preflight_timeout_is_runtime_timeout() -> None:
    handler = routes({"/health": httpx.ConnectTimeout("timed out")})
    with pytest.raises(RuntimeTimeout):
        make_client(handler, FakeClock()).preflight()


def test_preflight_model_not_listed_is_model_missing() -> None:
    handler = routes({"/v1/models": httpx.Response(200, json={"data": [{"id": "qwen"}]})})
    with pytest.raises(ModelMissing, match=r"'tiny' is not served.*'qwen'"):
        make_client(handler, FakeClock()).preflight()


def test_preflight_empty_model_list_does_not_refuse() -> None:
    handler = routes({"/v1/models": httpx.Response(200, json={"data": []})})
    assert make_client(handler, FakeClock()).preflight().model == "tiny"


def test_preflight_matches_a_llama_cpp_model_path_by_file_name() -> None:
    handler = routes({"/v1/models": httpx.Response(200, json={"data": [{"id": "/models/tiny.gguf"}]})})
    assert make_client(handler, FakeClock()).preflight().model == "tiny"


def test_preflight_500_is_runtime_failure() -> None:
    handler = routes({"/v1/models": httpx.Response(500, text="internal")})
    with pytest.raises(RuntimeFailure, match="HTTP 500"):
        make_client(handler, FakeClock()).preflight()


def test_preload_is_one_unstreamed_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"content": "H"}}]})

    make_client(handler, FakeClock()).preload(OPTIONS)

    (request,) = seen
    body = json.loads(request.content)
    assert request.url.path == "/v1/chat/completions"
    assert body["stream"] is False
    assert body["max_tokens"] == 1
    assert body["model"] == "tiny"


def test_preload_404_is_model_missing() -> None:
    handler = routes({})
    with pytest.raises(ModelMissing):
        make_client(handler, FakeClock()).preload(OPTIONS)


def test_satisfies_the_runtime_client_protocol() -> None:
    client: RuntimeClient = make_client(routes({}), FakeClock())
    assert client.kind == "openai"
    client.close()


def test_reasoning_content_counts_as_first_token():
    events = [
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"Let me think"}}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"Answer"}}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    clock = iter(range(0, 10**9, 1_000_000))

    def handler(request):
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=b"".join(events))

    client = OpenAIClient(
        httpx.Client(transport=httpx.MockTransport(handler)),
        base_url="http://x",
        model="m",
        clock=lambda: next(clock),
    )
    obs = client.stream("hi", OPTIONS)
    assert obs.text == "Let me thinkAnswer"
    assert len(obs.content_chunk_ns) == 2
    assert obs.first_content_ns == obs.content_chunk_ns[0]


def test_a_cold_prompt_asks_llama_cpp_not_to_reuse_its_cache_and_leaves_other_servers_alone() -> None:
    cold = OPTIONS.model_copy(update={"cold_prompt": True})
    for props, expected in ((httpx.Response(200, json={"build_info": "b6000"}), False), (None, None)):
        clock = FakeClock()
        table: dict[str, httpx.Response | Exception] = {
            "/health": httpx.Response(200, json={"status": "ok"}),
            "/v1/models": httpx.Response(200, json=MODELS),
            "/v1/chat/completions": streamed(clock, (1, event(chunk(finish="stop"))), (2, DONE)),
        }
        if props is not None:
            table["/props"] = props
        sent: list[httpx.Request] = []
        route = routes(table)

        def handler(request: httpx.Request, route=route, sent=sent) -> httpx.Response:
            sent.append(request)
            return route(request)

        client = make_client(handler, clock)
        client.preflight()
        client.stream("Why?", cold)
        body = json.loads(sent[-1].content)
        assert body.get("cache_prompt") == expected  # llama.cpp: False; an unknown server: not sent at all
        assert "num_ctx" not in body  # the protocol has no context field
        assert "options" not in body


def test_an_openai_compatible_client_does_not_claim_a_context_window() -> None:
    assert OpenAIClient.sends_num_ctx is False
