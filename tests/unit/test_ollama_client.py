"""OllamaClient against scripted NDJSON streams, with a clock the stream itself advances."""

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
from perfgate.runtimes.ollama import OllamaClient

BASE = "http://ollama.test:11434"
OPTIONS = ScenarioOptions(num_predict=64, num_ctx=4096, temperature=0.0, seed=7, keep_alive="10m")


def line(obj: Mapping[str, object]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"  # raw UTF-8, as Go writes it


def chat(content: str, **extra: object) -> bytes:
    return line({"model": "llama3.2", "message": {"role": "assistant", "content": content}, "done": False, **extra})


DONE_METRICS = {
    "done": True,
    "done_reason": "stop",
    "total_duration": 900_000_000,
    "load_duration": 5_000_000,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 130_000_000,
    "eval_count": 3,
    "eval_duration": 60_000_000,
}


def make_client(handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock, **kwargs: object) -> OllamaClient:
    http = mock_http(handler)
    return OllamaClient(http, base_url=BASE + "/", model="llama3.2", clock=clock, **kwargs)  # type: ignore[arg-type]


def streamed(clock: FakeClock, *items: tuple[int, bytes] | Exception) -> httpx.Response:
    return stream_of(clock, "application/x-ndjson", *items)


# -- stream: timings and server fields ---------------------------------------


def test_chat_stream_times_every_content_line_and_takes_text_from_the_done_line() -> None:
    clock = FakeClock(100)
    script = Script(
        streamed(
            clock,
            (150, chat("Hel")),
            (170, chat("")),  # an empty piece is not a token
            (180, chat("lo")),
            (200, line({"message": {"role": "assistant", "content": "!"}, **DONE_METRICS})),
        )
    )
    client = make_client(script, clock)
    obs = client.stream("Why?", OPTIONS)

    assert obs.sent_ns == 100
    assert obs.first_content_ns == 150
    assert obs.last_content_ns == 200
    assert obs.content_chunk_ns == (150, 180, 200)
    assert obs.done_ns == 200
    assert obs.text == "Hello!"
    assert obs.output_tokens == 3
    assert obs.eval_count == 3
    assert obs.eval_ns == 60_000_000
    assert obs.prompt_tokens == 26
    assert obs.prompt_eval_ns == 130_000_000
    assert obs.load_ns == 5_000_000
    assert obs.uncached_prompt_tokens is None  # Ollama does not say how many prompt tokens were cached
    assert obs.done_reason == "stop"
    assert obs.token_count_source == "server"
    assert obs.retries_before_first_byte == 0


def test_chat_request_shape() -> None:
    clock = FakeClock()
    script = Script(streamed(clock, (1, line({"message": {"content": ""}, **DONE_METRICS}))))
    make_client(script, clock, read_timeout_s=77.0, connect_timeout_s=4.0).stream("Why?", OPTIONS)

    (request,) = script.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/api/chat"
    assert request.headers["connection"] == "close"
    assert json.loads(request.content) == {
        "model": "llama3.2",
        "stream": True,
        "keep_alive": "10m",
        "messages": [{"role": "user", "content": "Why?"}],
        "options": {"num_predict": 64, "num_ctx": 4096, "temperature": 0.0, "seed": 7},
    }
    assert request.extensions["timeout"] == {"connect": 4.0, "read": 77.0, "write": 4.0, "pool": 4.0}


def test_generate_api_reads_response_field() -> None:
    clock = FakeClock(0)
    script = Script(
        streamed(
            clock,
            (10, line({"response": "The", "done": False})),
            (20, line({"response": " sky", "done": False})),
            (30, line({"response": "", **DONE_METRICS})),
        )
    )
    obs = make_client(script, clock, api="generate").stream("Why?", OPTIONS)

    body = json.loads(script.requests[0].content)
    assert str(script.requests[0].url) == f"{BASE}/api/generate"
    assert body["prompt"] == "Why?"
    assert "messages" not in body
    assert obs.text == "The sky"
    assert obs.content_chunk_ns == (10, 20)
    assert obs.done_ns == 30


def test_omitted_metrics_are_none_not_zero() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (5, chat("x")), (9, line({"message": {"content": ""}, "done": True}))))
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert obs.output_tokens is None
    assert obs.prompt_tokens is None
    assert obs.prompt_eval_ns is None
    assert obs.eval_count is None
    assert obs.eval_ns is None
    assert obs.load_ns is None
    assert obs.done_reason is None


def test_no_content_at_all_leaves_content_times_none() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (9, line({"message": {"content": ""}, **DONE_METRICS}))))
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert obs.first_content_ns is None
    assert obs.last_content_ns is None
    assert obs.content_chunk_ns == ()
    assert obs.done_ns == 9


def test_lines_split_mid_line_and_mid_utf8_character_are_reassembled() -> None:
    clock = FakeClock(0)
    first = chat("héllo")  # é is two bytes in UTF-8
    cut = first.index("é".encode()) + 1  # between the two bytes of é
    done = line({"message": {"content": "→"}, **DONE_METRICS})
    script = Script(
        streamed(
            clock,
            (10, first[:5]),
            (20, first[5:cut]),
            (30, first[cut:] + done[:7]),  # the second line starts in the same read
            (40, done[7:12]),
            (50, done[12:]),
        )
    )
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert obs.text == "héllo→"
    # A line is timed when its last byte arrived.
    assert obs.content_chunk_ns == (30, 50)
    assert obs.done_ns == 50


def test_blank_lines_between_objects_are_ignored() -> None:
    clock = FakeClock(0)
    script = Script(
        streamed(clock, (1, chat("a") + b"\n\r\n"), (2, line({"message": {"content": ""}, **DONE_METRICS})))
    )
    assert make_client(script, clock).stream("p", OPTIONS).text == "a"


# -- stream: failures -------------------------------------------------------


def test_error_line_inside_a_200_stream_is_a_runtime_failure() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, chat("a")), (2, line({"error": "llama runner process has terminated"}))))
    with pytest.raises(RuntimeFailure, match="llama runner process has terminated"):
        make_client(script, clock).stream("p", OPTIONS)


def test_stream_ending_without_done_is_truncated() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, chat("a")), (2, chat("b"))))
    with pytest.raises(StreamTruncated, match="done:true"):
        make_client(script, clock).stream("p", OPTIONS)


def test_line_that_is_not_json_is_a_protocol_error() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, chat("a")), (2, b"<html>oops</html>\n"), (3, line(DONE_METRICS))))
    with pytest.raises(ProtocolError, match="not JSON"):
        make_client(script, clock).stream("p", OPTIONS)


def test_json_that_is_not_an_object_is_a_protocol_error() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, b"[1, 2]\n")))
    with pytest.raises(ProtocolError, match="not an object"):
        make_client(script, clock).stream("p", OPTIONS)


def test_wrongly_typed_counter_is_a_protocol_error() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, line({"message": {"content": ""}, "done": True, "eval_count": "3"}))))
    with pytest.raises(ProtocolError, match="eval_count"):
        make_client(script, clock).stream("p", OPTIONS)


def test_404_is_model_missing_with_pull_hint() -> None:
    clock = FakeClock(0)
    script = Script(httpx.Response(404, json={"error": "model 'llama3.2' not found"}))
    with pytest.raises(ModelMissing, match=r"not found.*ollama pull llama3\.2"):
        make_client(script, clock).stream("p", OPTIONS)


def test_500_is_runtime_failure_with_body_message() -> None:
    clock = FakeClock(0)
    script = Script(httpx.Response(500, json={"error": "out of memory"}))
    with pytest.raises(RuntimeFailure, match=r"HTTP 500.*out of memory"):
        make_client(script, clock).stream("p", OPTIONS)


def test_read_timeout_mid_stream_is_runtime_timeout() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, chat("a")), httpx.ReadTimeout("stalled")))
    with pytest.raises(RuntimeTimeout):
        make_client(script, clock).stream("p", OPTIONS)


def test_read_timeout_before_headers_is_runtime_timeout_and_not_retried() -> None:
    clock = FakeClock(0)
    script = Script(httpx.ReadTimeout("no answer"))
    with pytest.raises(RuntimeTimeout):
        make_client(script, clock).stream("p", OPTIONS)
    assert len(script.requests) == 1


def test_first_byte_failure_is_retried_recorded_and_timed_from_the_resend() -> None:
    clock = FakeClock(100)

    def disconnect() -> httpx.Response:
        clock.now = 130  # the failed attempt took time that must not count
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    script = Script(
        disconnect,
        lambda: streamed(clock, (160, chat("a")), (170, line({"message": {"content": ""}, **DONE_METRICS}))),
    )
    obs = make_client(script, clock).stream("p", OPTIONS)

    assert len(script.requests) == 2
    assert obs.retries_before_first_byte == 1
    assert obs.sent_ns == 130
    assert obs.first_content_ns == 160


def test_first_byte_failures_stop_after_two_retries() -> None:
    clock = FakeClock(0)
    script = Script(*(httpx.RemoteProtocolError("Server disconnected") for _ in range(3)))
    with pytest.raises(RuntimeFailure, match="connection failed"):
        make_client(script, clock).stream("p", OPTIONS)
    assert len(script.requests) == 3


def test_failure_after_bytes_is_truncation_and_not_retried() -> None:
    clock = FakeClock(0)
    script = Script(
        streamed(clock, (1, chat("a")), httpx.RemoteProtocolError("peer closed connection")),
        lambda: streamed(clock, (9, line(DONE_METRICS))),
    )
    with pytest.raises(StreamTruncated, match="mid-stream"):
        make_client(script, clock).stream("p", OPTIONS)
    assert len(script.requests) == 1


def test_read_error_mid_stream_is_truncation() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, chat("a")), httpx.ReadError("connection reset")))
    with pytest.raises(StreamTruncated):
        make_client(script, clock).stream("p", OPTIONS)


# -- preflight, preload, runtime_reported -------------------------------------

TAGS = {
    "models": [
        {"name": "qwen2.5:7b", "digest": "aaa", "details": {"quantization_level": "Q4_K_M"}},
        {"name": "llama3.2:latest", "digest": "fe938a13", "details": {"quantization_level": "Q4_0"}},
    ]
}
PS = {"models": [{"name": "llama3.2:latest", "size": 3_000_000_000, "size_vram": 2_500_000_000}]}


def routes(table: dict[str, httpx.Response | Exception]) -> Callable[[httpx.Request], httpx.Response]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        answer = table[request.url.path]
        if isinstance(answer, Exception):
            raise answer
        return answer

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def test_preflight_describes_runtime_and_model() -> None:
    handler = routes(
        {
            "/api/version": httpx.Response(200, json={"version": "0.5.1"}),
            "/api/tags": httpx.Response(200, json=TAGS),
            "/api/ps": httpx.Response(200, json=PS),
        }
    )
    info = make_client(handler, FakeClock()).preflight()

    assert info.kind == "ollama"
    assert info.base_url == BASE
    assert info.version == "0.5.1"
    assert info.model == "llama3.2"
    assert info.model_digest == "fe938a13"  # matched through the implicit ":latest" tag
    assert info.quantization == "Q4_0"
    assert info.simulated is False
    assert info.runtime_reported == {"ps_size_bytes": 3_000_000_000, "ps_size_vram_bytes": 2_500_000_000}


def test_preflight_asks_api_show_when_tags_lack_details() -> None:
    handler = routes(
        {
            "/api/version": httpx.Response(200, json={"version": "0.3.0"}),
            "/api/tags": httpx.Response(200, json={"models": [{"name": "llama3.2", "digest": "d1"}]}),
            "/api/show": httpx.Response(200, json={"details": {"quantization_level": "Q8_0"}}),
            "/api/ps": httpx.Response(200, json={"models": []}),
        }
    )
    info = make_client(handler, FakeClock()).preflight()

    assert info.quantization == "Q8_0"
    assert info.runtime_reported == {}
    assert "/api/show" in handler.seen  # type: ignore[attr-defined]


def test_preflight_show_404_is_model_missing() -> None:
    handler = routes(
        {
            "/api/version": httpx.Response(200, json={"version": "0.3.0"}),
            "/api/tags": httpx.Response(200, json={"models": [{"name": "llama3.2", "digest": "d1"}]}),
            "/api/show": httpx.Response(404, json={"error": "model not found"}),
        }
    )
    with pytest.raises(ModelMissing, match=r"ollama pull llama3\.2"):
        make_client(handler, FakeClock()).preflight()


def test_preflight_model_not_pulled_says_how_to_pull_it() -> None:
    handler = routes(
        {
            "/api/version": httpx.Response(200, json={"version": "0.5.1"}),
            "/api/tags": httpx.Response(200, json={"models": [TAGS["models"][0]]}),
        }
    )
    with pytest.raises(ModelMissing, match=r"`ollama pull llama3\.2`"):
        make_client(handler, FakeClock()).preflight()


def test_preflight_connection_refused_is_unavailable_naming_the_url() -> None:
    handler = routes({"/api/version": httpx.ConnectError("[Errno 111] Connection refused")})
    with pytest.raises(RuntimeUnavailable, match=r"http://ollama\.test:11434/api/version"):
        make_client(handler, FakeClock()).preflight()


def test_preflight_uses_the_short_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500, text="boom")

    with pytest.raises(RuntimeFailure, match=r"HTTP 500.*boom"):
        make_client(handler, FakeClock(), preflight_timeout_s=1.5).preflight()
    assert seen[0].extensions["timeout"]["connect"] == 1.5
    assert seen[0].extensions["timeout"]["read"] == 1.5


def test_preflight_version_404_is_not_reported_as_model_missing() -> None:
    handler = routes({"/api/version": httpx.Response(404, text="404 page not found")})
    with pytest.raises(RuntimeFailure, match="Ollama server"):
        make_client(handler, FakeClock()).preflight()


def test_preload_sends_only_the_load_time_options_and_no_prompt() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"model": "llama3.2", "response": "", "done": True, "done_reason": "load"})

    make_client(handler, FakeClock()).preload(OPTIONS)

    (request,) = seen
    assert request.url.path == "/api/generate"
    assert json.loads(request.content) == {
        "model": "llama3.2",
        "keep_alive": "10m",
        "options": {"num_ctx": 4096},
        "stream": False,
    }
    assert request.extensions["timeout"]["read"] == 120.0


def test_preload_404_is_model_missing() -> None:
    handler = routes({"/api/generate": httpx.Response(404, json={"error": "model 'llama3.2' not found"})})
    with pytest.raises(ModelMissing):
        make_client(handler, FakeClock()).preload(OPTIONS)


def test_keep_alive_of_the_scenario_wins_over_the_client_default() -> None:
    clock = FakeClock(0)
    script = Script(streamed(clock, (1, line({"message": {"content": ""}, **DONE_METRICS}))))
    options = OPTIONS.model_copy(update={"keep_alive": "-1"})
    make_client(script, clock, keep_alive="5m").stream("p", options)
    assert json.loads(script.requests[0].content)["keep_alive"] == "-1"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"models": [{"name": "other:latest", "size": 1}]}),
        httpx.Response(500, json={"error": "boom"}),
        httpx.Response(200, text="not json"),
        httpx.ConnectError("refused"),
    ],
)
def test_runtime_reported_is_empty_when_not_loaded_or_on_error(answer: httpx.Response | Exception) -> None:
    handler = routes({"/api/ps": answer})
    assert make_client(handler, FakeClock()).runtime_reported() == {}


def test_runtime_reported_missing_vram_is_none() -> None:
    handler = routes({"/api/ps": httpx.Response(200, json={"models": [{"model": "llama3.2", "size": 42}]})})
    assert make_client(handler, FakeClock()).runtime_reported() == {"ps_size_bytes": 42, "ps_size_vram_bytes": None}


def test_satisfies_the_runtime_client_protocol() -> None:
    client: RuntimeClient = make_client(routes({}), FakeClock())
    assert client.kind == "ollama"
    client.close()


def test_thinking_counts_as_generated_text() -> None:
    clock = FakeClock(100)
    script = Script(
        streamed(
            clock,
            (130, line({"message": {"role": "assistant", "content": "", "thinking": "Hmm"}, "done": False})),
            (160, chat("Yes")),
            (170, line({"message": {"role": "assistant", "content": ""}, **DONE_METRICS})),
        )
    )
    obs = make_client(script, clock).stream("Why?", OPTIONS)
    assert obs.first_content_ns == 130
    assert obs.text == "HmmYes"
