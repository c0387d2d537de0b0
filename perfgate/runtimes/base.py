"""The contract every runtime client fulfils, and helpers they share.

A client owns one injected ``httpx.Client`` and translates every httpx
exception into the perfgate error tree at the edge (``raise ... from exc``).
It reports raw observations (clock readings, server counters); turning them
into metrics is the harness's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import httpx

from perfgate.contracts.results import RuntimeInfo, ScenarioOptions, StreamObservation
from perfgate.errors import ModelMissing, RuntimeFailure, RuntimeTimeout, RuntimeUnavailable

Clock = Callable[[], int]
"""A monotonic nanosecond clock; ``time.perf_counter_ns`` unless a test injects one."""

DEFAULT_CLOCK: Clock = time.perf_counter_ns


class RuntimeClient(Protocol):
    """One wire protocol's client."""

    kind: str
    base_url: str
    model: str
    sends_num_ctx: bool  # whether requests can carry the context window (OpenAI's protocol has no field for it)

    def preflight(self) -> RuntimeInfo:
        """Check the runtime answers and has the model; describe it.

        Raises RuntimeUnavailable (nothing listening), ModelMissing (404),
        RuntimeFailure (5xx) or RuntimeTimeout.
        """
        ...

    def preload(self, options: ScenarioOptions) -> None:
        """Ask the runtime to load the model with these options (not measured)."""
        ...

    def stream(self, prompt: str, options: ScenarioOptions) -> StreamObservation:
        """Send one streamed generation request and observe it to the end."""
        ...

    def runtime_reported(self) -> dict[str, int | float | str | None]:
        """Sizes the runtime estimates about itself (e.g. Ollama /api/ps); may be empty."""
        ...

    def close(self) -> None:
        """Release the HTTP client."""
        ...


@runtime_checkable
class ColdStartable(Protocol):
    """A client that can take its model out of memory, for a cold-start scenario (``kind = "cold"``)."""

    def unload_model(self, timeout_s: float) -> None:
        """Return once the model is no longer loaded; RuntimeTimeout when it still is after ``timeout_s``."""
        ...

    def load_model(self) -> int | None:
        """Load it again where that is a step of its own (llama.cpp: start the server); the load's nanoseconds.

        None where the runtime loads the model on the next request (Ollama), whose answer then says how long.
        """
        ...


def timeouts(connect_s: float, read_s: float) -> httpx.Timeout:
    """Generation needs a long read timeout but a short connect timeout."""
    return httpx.Timeout(connect=connect_s, read=read_s, write=connect_s, pool=connect_s)


def translate_transport_error(exc: httpx.HTTPError, url: str) -> Exception:
    """Map an httpx transport exception to the perfgate error tree."""
    if isinstance(exc, httpx.ConnectError):
        return RuntimeUnavailable(f"runtime unavailable: nothing is listening at {url} ({_short(exc)})")
    if isinstance(exc, httpx.TimeoutException):
        return RuntimeTimeout(f"runtime timed out at {url} ({type(exc).__name__})")
    return RuntimeFailure(f"runtime connection failed at {url}: {_short(exc)}")


def raise_for_status(response: httpx.Response, url: str, model: str) -> None:
    """Classify a non-2xx response; the body must already be read."""
    if response.status_code < 400:
        return
    detail = error_detail(response)
    if response.status_code == 404:
        raise ModelMissing(f"model missing: {model!r} not found at {url} (HTTP 404{detail})")
    raise RuntimeFailure(f"runtime error: HTTP {response.status_code} from {url}{detail}")


def error_detail(response: httpx.Response) -> str:
    """``: message`` from an Ollama ``{"error": "..."}`` or OpenAI ``{"error": {"message"}}`` body."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return f": {text[:200]}" if text else ""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            err = err.get("message")
        if isinstance(err, str) and err:
            return f": {err[:200]}"
    return ""


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
