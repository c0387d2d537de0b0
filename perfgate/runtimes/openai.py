"""Client for OpenAI-compatible servers (``/v1/chat/completions``, streamed SSE).

Written against llama.cpp's server (which adds ``timings`` and ``/props``) and
tolerant of servers that send neither ``usage`` nor ``timings``.
"""

from __future__ import annotations

from typing import Any

import httpx

from perfgate.contracts.results import RuntimeInfo, ScenarioOptions, StreamObservation
from perfgate.errors import (
    CouldNotMeasure,
    ModelMissing,
    ProtocolError,
    RuntimeFailure,
    RuntimeUnavailable,
    StreamTruncated,
)
from perfgate.runtimes.base import DEFAULT_CLOCK, Clock, timeouts, translate_transport_error
from perfgate.runtimes.streaming import (
    NO_REUSE_HEADERS,
    ContentLog,
    ServerFields,
    check_status,
    iter_sse_data,
    open_stream,
    optional_int,
    optional_ms_as_ns,
    optional_str,
    parse_json_object,
    stream_error,
    timed_lines,
)

_DONE = "[DONE]"
_COUNTED_FROM_CHUNKS: ServerFields = {"token_count_source": "chunks"}


class OpenAIClient:
    """Talks to one OpenAI-compatible server about one model over an injected ``httpx.Client``."""

    kind: str = "openai"

    def __init__(
        self,
        http: httpx.Client,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        preflight_timeout_s: float = 3.0,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        # OpenAI SDKs take ".../v1" as the base URL; llama.cpp's /health and
        # /props live at the root, so accept either spelling.
        self._root = self.base_url.removesuffix("/v1")
        self.model = model
        self._headers = {**NO_REUSE_HEADERS, **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
        self._preflight_timeout = timeouts(preflight_timeout_s, preflight_timeout_s)
        self._generate_timeout = timeouts(connect_timeout_s, read_timeout_s)
        self._clock = clock

    # -- preflight ---------------------------------------------------------

    def preflight(self) -> RuntimeInfo:
        self._check_health()
        served = self._served_models()
        if served and not any(_names_model(self.model, model_id) for model_id in served):
            raise ModelMissing(
                f"model missing: {self.model!r} is not served at {self._root}/v1/models "
                f"(it serves {', '.join(repr(m) for m in served[:5])})"
            )
        return RuntimeInfo(
            kind=self.kind,
            base_url=self.base_url,
            version=self._build_info(),
            model=self.model,
            simulated=False,
            runtime_reported=self.runtime_reported(),
        )

    def _check_health(self) -> None:
        url = f"{self._root}/health"
        response = self._get(url)
        if response.status_code == 503:
            # llama.cpp answers 503 until the model is loaded: the runtime is up
            # but cannot serve yet, so nothing could be measured.
            raise RuntimeUnavailable(f"runtime unavailable: {url} says the model is still loading (HTTP 503)")
        if response.status_code >= 500:
            check_status(response, url, self.model)
        # Any other answer (404, 401, ...) means a server without llama.cpp's
        # /health: /v1/models below is the liveness check then.

    def _served_models(self) -> list[str]:
        url = f"{self._root}/v1/models"
        response = self._get(url)
        if response.status_code == 404:
            raise RuntimeFailure(
                f"runtime error: {url} answered HTTP 404; is {self.base_url} an OpenAI-compatible server?"
            )
        check_status(response, url, self.model)
        data = parse_json_object(response.text, url).get("data")
        if not isinstance(data, list):
            raise ProtocolError(f"protocol error: {url} sent no 'data' list")
        return [entry["id"] for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str)]

    def _build_info(self) -> str | None:
        """llama.cpp's ``b<build>-<commit>`` from ``/props``; other servers have no version to ask for."""
        url = f"{self._root}/props"
        try:
            response = self._get(url)
            body = parse_json_object(response.text, url) if response.status_code == 200 else {}
        except CouldNotMeasure:
            return None
        return optional_str(body, "build_info")

    def _get(self, url: str) -> httpx.Response:
        try:
            return self._http.get(url, headers=self._headers, timeout=self._preflight_timeout)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc, url) from exc

    # -- generation --------------------------------------------------------

    def preload(self, options: ScenarioOptions) -> None:
        # A one-token request makes a lazily loading server load the model
        # before the first timed request; its answer is not measured.
        url = f"{self._root}/v1/chat/completions"
        body = {**self._request_body("Hello", options), "stream": False, "max_tokens": 1}
        try:
            response = self._http.post(url, json=body, headers=self._headers, timeout=self._generate_timeout)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc, url) from exc
        check_status(response, url, self.model)

    def stream(self, prompt: str, options: ScenarioOptions) -> StreamObservation:
        url = f"{self._root}/v1/chat/completions"
        body = {**self._request_body(prompt, options), "stream": True, "stream_options": {"include_usage": True}}
        with open_stream(
            self._http,
            url=url,
            body=body,
            headers=self._headers,
            timeout=self._generate_timeout,
            model=self.model,
            clock=self._clock,
        ) as opened:
            log = ContentLog()
            done_reason: str | None = None
            usage: dict[str, Any] = {}
            timings: dict[str, Any] = {}
            for data, at_ns in iter_sse_data(timed_lines(opened.response, url, self._clock), url):
                if data == _DONE:
                    fields = _server_fields(usage, timings, len(log.chunk_ns), url)
                    fields["done_reason"] = done_reason
                    return log.observation(opened, at_ns, **fields)
                chunk = parse_json_object(data, url)
                failure = stream_error(chunk, url)
                if failure is not None:
                    raise failure
                for choice in _choices(chunk, url):
                    log.add(_delta_content(choice, url), at_ns)
                    done_reason = optional_str(choice, "finish_reason") or done_reason
                # usage and timings ride on the finish chunk or on a separate
                # choices:[] chunk, depending on the server and its options.
                usage = _object_field(chunk, "usage", url) or usage
                timings = _object_field(chunk, "timings", url) or timings
        raise StreamTruncated(f"stream truncated: {url} ended the stream without data: [DONE]")

    def _request_body(self, prompt: str, options: ScenarioOptions) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": options.temperature,
            "seed": options.seed,
        }
        # Ollama's "-1 = unbounded" has no OpenAI spelling: leave the cap to the server.
        if options.num_predict >= 0:
            body["max_tokens"] = options.num_predict
        return body

    def runtime_reported(self) -> dict[str, int | float | str | None]:
        """OpenAI-compatible servers report no size estimates about themselves."""
        return {}

    def close(self) -> None:
        self._http.close()


def _names_model(model: str, model_id: str) -> bool:
    # llama.cpp lists the model file's path unless started with --alias; let
    # the configured name match that path's file name, with or without .gguf.
    basename = model_id.rsplit("/", 1)[-1]
    return model in (model_id, basename, basename.removesuffix(".gguf"))


def _choices(chunk: dict[str, Any], url: str) -> list[dict[str, Any]]:
    choices = chunk.get("choices")
    if choices is None:
        return []
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise ProtocolError(f"protocol error: {url} sent 'choices' that is not a list of objects")
    return choices


def _delta_content(choice: dict[str, Any], url: str) -> str:
    delta = choice.get("delta")
    if delta is None:
        return ""
    if not isinstance(delta, dict):
        raise ProtocolError(f"protocol error: {url} sent a 'delta' that is not an object")
    # The first chunk may carry only the role, with content null: not a token.
    # Reasoning models stream their reasoning first (llama.cpp/vLLM
    # `reasoning_content`, others `reasoning`); it is generated text, so it counts.
    text = ""
    for key in ("reasoning_content", "reasoning", "content"):
        value = delta.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ProtocolError(f"protocol error: {url} sent delta {key} that is not a string: {value!r}")
        text += value
    return text


def _object_field(chunk: dict[str, Any], key: str, url: str) -> dict[str, Any]:
    value = chunk.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"protocol error: {url} sent '{key}' that is not an object")
    return value


def _server_fields(usage: dict[str, Any], timings: dict[str, Any], content_events: int, url: str) -> ServerFields:
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
        fields.update(_COUNTED_FROM_CHUNKS)
        output_tokens = content_events
    fields["output_tokens"] = output_tokens
    return fields
