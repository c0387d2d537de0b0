"""Client for Ollama's native API (``/api/chat`` or ``/api/generate``, streamed NDJSON)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import httpx

from perfgate.contracts.results import RuntimeInfo, ScenarioOptions, StreamObservation
from perfgate.errors import (
    CouldNotMeasure,
    ModelMissing,
    ProtocolError,
    RuntimeFailure,
    RuntimeTimeout,
    StreamTruncated,
)
from perfgate.runtimes.base import DEFAULT_CLOCK, Clock, error_detail, timeouts, translate_transport_error
from perfgate.runtimes.stream_parsers import OllamaReader, optional_str, parse_json_object, stream_error
from perfgate.runtimes.streaming import NO_REUSE_HEADERS, check_status, open_stream, timed_lines

UNLOAD_POLL_S = 0.05


class OllamaClient:
    """Talks to one Ollama server about one model over an injected ``httpx.Client``."""

    kind: str = "ollama"
    sends_num_ctx = True  # options.num_ctx on every request

    def __init__(
        self,
        http: httpx.Client,
        *,
        base_url: str,
        model: str,
        api: Literal["chat", "generate"] = "chat",
        keep_alive: str = "10m",
        preflight_timeout_s: float = 3.0,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api = api
        self.keep_alive = keep_alive
        self._preflight_timeout = timeouts(preflight_timeout_s, preflight_timeout_s)
        self._generate_timeout = timeouts(connect_timeout_s, read_timeout_s)
        self.clock = clock  # public: the harness reads its CPU waits (runtimes.clock.WaitClock)
        self._pull_hint = f"run `ollama pull {model}`"

    # -- preflight ---------------------------------------------------------

    def preflight(self) -> RuntimeInfo:
        version_body = self._get_json("/api/version")
        version = optional_str(version_body, "version")
        entry = self._find_model(self._get_json("/api/tags"), "/api/tags")
        if entry is None:
            raise ModelMissing(
                f"model missing: {self.model!r} is not in the models of Ollama at {self.base_url}; {self._pull_hint}"
            )
        digest = optional_str(entry, "digest")
        quantization = _quantization(entry)
        if quantization is None:
            # /api/tags of some versions lacks details; /api/show always has them.
            quantization = _quantization(self._post_json("/api/show", {"model": self.model}))
        return RuntimeInfo(
            kind=self.kind,
            base_url=self.base_url,
            version=version,
            model=self.model,
            model_digest=digest,
            quantization=quantization,
            simulated=False,
            runtime_reported=self.runtime_reported(),
        )

    def version(self) -> str | None:
        """Ollama's version (``/api/version``): a quick sign an Ollama answers at the base URL."""
        return optional_str(self._get_json("/api/version"), "version")

    def served_models(self) -> list[str]:
        """The names of the models this Ollama has pulled (``/api/tags``)."""
        models = self._get_json("/api/tags").get("models")
        if not isinstance(models, list):
            return []
        return [entry["name"] for entry in models if isinstance(entry, dict) and isinstance(entry.get("name"), str)]

    def _find_model(self, body: dict[str, Any], path: str) -> dict[str, Any] | None:
        models = body.get("models")
        if models is None:
            return None
        if not isinstance(models, list):
            raise ProtocolError(f"protocol error: {self.base_url}{path} sent 'models' that is not a list")
        # Ollama names default to the tag ``latest``: "llama3.2" is "llama3.2:latest".
        wanted = {self.model, f"{self.model}:latest"}
        for entry in models:
            if isinstance(entry, dict) and (entry.get("name") in wanted or entry.get("model") in wanted):
                return entry
        return None

    # -- generation --------------------------------------------------------

    def preload(self, options: ScenarioOptions) -> None:
        # Only the load-time option is sent, with the same value the measured
        # requests send: a different num_ctx would make Ollama reload the model.
        body = {
            "model": self.model,
            "keep_alive": self._keep_alive(options),
            "options": {"num_ctx": options.num_ctx},
            "stream": False,
        }
        answer = self._post_json("/api/generate", body, self._generate_timeout)
        failure = stream_error(answer, self.base_url)
        if failure is not None:
            raise failure

    def stream(self, prompt: str, options: ScenarioOptions) -> StreamObservation:
        url = f"{self.base_url}/api/{self.api}"
        body: dict[str, Any] = {"model": self.model, "stream": True, "keep_alive": self._keep_alive(options)}
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        body["options"] = {
            "num_predict": options.num_predict,
            "num_ctx": options.num_ctx,
            "temperature": options.temperature,
            "seed": options.seed,
        }
        with open_stream(
            self._http,
            url=url,
            body=body,
            headers={},
            timeout=self._generate_timeout,
            model=self.model,
            clock=self.clock,
            missing_hint=self._pull_hint,
        ) as opened:
            reader = OllamaReader(url, chat=self.api == "chat")
            for line, at_ns in timed_lines(opened.response, url, self.clock):
                if reader.line(line, at_ns):
                    return reader.observation(opened.sent_ns, opened.retries_before_first_byte)
        raise StreamTruncated(f"stream truncated: {url} ended the stream without a done:true line")

    # -- cold starts -------------------------------------------------------

    def unload_model(
        self,
        timeout_s: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        """Ask Ollama to unload the model (``keep_alive: 0``), then wait until ``/api/ps`` no longer lists it.

        The answer to the unload request comes before the scheduler has let the runner go
        (Ollama's ``server/sched.go`` expires it asynchronously), hence the polling.
        """
        answer = self._post_json(
            "/api/generate", {"model": self.model, "keep_alive": 0, "stream": False}, self._generate_timeout
        )
        failure = stream_error(answer, self.base_url)
        if failure is not None:
            raise failure
        deadline = now() + timeout_s
        while self._find_model(self._get_json("/api/ps"), "/api/ps") is not None:
            if now() >= deadline:
                raise RuntimeTimeout(
                    f"unload timed out: {self.model!r} is still listed by {self.base_url}/api/ps {timeout_s:g} s "
                    "after keep_alive 0 asked Ollama to unload it (another client keeping it busy or loaded? "
                    "raise runtime.unload_timeout_s for a model that takes longer)"
                )
            sleep(UNLOAD_POLL_S)

    def load_model(self) -> int | None:
        return None  # Ollama loads on the next request, whose load_duration says how long it took

    def _keep_alive(self, options: ScenarioOptions) -> str:
        # The scenario's value is part of its fingerprint, so it wins.
        return options.keep_alive or self.keep_alive

    # -- runtime-reported sizes -------------------------------------------

    def runtime_reported(self) -> dict[str, int | float | str | None]:
        """Ollama's own size estimates for the loaded model (``/api/ps``; not measured).

        ``size`` is known to double-count mmap'd weights, hence the ``ps_`` prefix:
        these are what Ollama says, next to perfgate's measured RSS.
        """
        try:
            entry = self._find_model(self._get_json("/api/ps"), "/api/ps")
        except CouldNotMeasure:
            return {}
        if entry is None:
            return {}
        reported: dict[str, int | float | str | None] = {}
        for key, name in (("size", "ps_size_bytes"), ("size_vram", "ps_size_vram_bytes")):
            value = entry.get(key)
            reported[name] = value if isinstance(value, int) and not isinstance(value, bool) else None
        return reported

    # -- plain JSON requests ----------------------------------------------

    def _get_json(self, path: str) -> dict[str, Any]:
        return self._request_json("GET", path, None, self._preflight_timeout)

    def _post_json(self, path: str, body: dict[str, Any], timeout: httpx.Timeout | None = None) -> dict[str, Any]:
        return self._request_json("POST", path, body, timeout or self._preflight_timeout)

    def _request_json(
        self, method: str, path: str, body: dict[str, Any] | None, timeout: httpx.Timeout
    ) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            response = self._http.request(method, url, json=body, timeout=timeout, headers=NO_REUSE_HEADERS)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc, url) from exc
        if response.status_code == 404 and path == "/api/version":
            raise RuntimeFailure(
                f"runtime error: {url} answered HTTP 404{error_detail(response)}; is this an Ollama server?"
            )
        check_status(response, url, self.model, self._pull_hint)
        return parse_json_object(response.text, url)

    def close(self) -> None:
        self._http.close()


def _quantization(entry: dict[str, Any]) -> str | None:
    details = entry.get("details")
    return optional_str(details, "quantization_level") if isinstance(details, dict) else None
