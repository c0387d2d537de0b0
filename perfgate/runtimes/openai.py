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
from perfgate.runtimes.stream_parsers import OpenAIReader, optional_str, parse_json_object
from perfgate.runtimes.streaming import (
    NO_REUSE_HEADERS,
    check_status,
    iter_sse_data,
    open_stream,
    timed_lines,
)


class OpenAIClient:
    """Talks to one OpenAI-compatible server about one model over an injected ``httpx.Client``."""

    kind: str = "openai"
    sends_num_ctx = False  # the protocol has no field for it: the server's own setting applies, unclaimed

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
        self.clock = clock  # public: the harness reads its CPU waits (runtimes.clock.WaitClock)
        self.is_llamacpp = False  # learnt in preflight: llama.cpp's /props says build_info

    # -- preflight ---------------------------------------------------------

    def preflight(self) -> RuntimeInfo:
        self._check_health()
        served = self.served_models()
        if served and not any(_names_model(self.model, model_id) for model_id in served):
            raise ModelMissing(
                f"model missing: {self.model!r} is not served at {self._root}/v1/models "
                f"(it serves {', '.join(repr(m) for m in served[:5])})"
            )
        version = self._build_info()
        self.is_llamacpp = version is not None
        return RuntimeInfo(
            kind=self.kind,
            base_url=self.base_url,
            version=version,
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

    def served_models(self) -> list[str]:
        """The model ids this server serves (``/v1/models``)."""
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
            clock=self.clock,
        ) as opened:
            reader = OpenAIReader(url)
            for data, at_ns in iter_sse_data(timed_lines(opened.response, url, self.clock), url):
                if reader.event(data, at_ns):
                    return reader.observation(opened.sent_ns, opened.retries_before_first_byte)
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
        if options.cold_prompt and self.is_llamacpp:
            body["cache_prompt"] = False  # llama.cpp's own switch: do not reuse the slot's cached prompt
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
