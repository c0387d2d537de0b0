"""JSON bodies of the simulated runtime, shaped like Ollama's and OpenAI's.

Pure functions: values in, dicts out. Field names and units follow Ollama's
``api/types.go`` (durations in nanoseconds, zero metrics omitted as Go's
``omitempty`` does) and OpenAI's streaming chunks with llama.cpp's
``timings`` extension.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from perfgate.sim.profile import SimProfile

SIM_VERSION = "0.0.0-perfgate-sim"
QUANTIZATION = "Q4_K_M"
# Every simulated token is one of these words; the leading space makes the
# concatenated text read like a real model's output.
VOCABULARY = (" the", " model", " runs", " locally", " and", " streams", " tokens", " quickly", " today")
DEFAULT_KEEP_ALIVE_S = 300.0
FOREVER = math.inf

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Timing:
    """What the server actually did for one request, in perf_counter nanoseconds."""

    start_ns: int
    ready_ns: int
    first_ns: int | None
    last_ns: int | None
    end_ns: int
    prompt_tokens: int
    output_tokens: int

    @property
    def load_ns(self) -> int:
        return self.ready_ns - self.start_ns

    @property
    def prompt_eval_ns(self) -> int:
        return (self.first_ns or self.end_ns) - self.ready_ns

    @property
    def eval_ns(self) -> int:
        if self.first_ns is None or self.last_ns is None:
            return 0
        return self.last_ns - self.first_ns


def token_text(index: int) -> str:
    return VOCABULARY[index % len(VOCABULARY)]


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: about four characters per token, like BPE on English."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def digest(model: str) -> str:
    """A fixed sha256 per model name, so the fingerprint is stable across runs."""
    return hashlib.sha256(model.encode("utf-8")).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_keep_alive(value: object) -> float:
    """Ollama's keep_alive in seconds: number of seconds, Go duration string; negative = forever.

    Raises ValueError for anything else (the handler answers 400, as Ollama does).
    """
    if value is None:
        return DEFAULT_KEEP_ALIVE_S
    if isinstance(value, bool):
        raise ValueError(f"invalid keep_alive {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_duration(value.strip())
    else:
        raise ValueError(f"invalid keep_alive {value!r}")
    if math.isnan(seconds):
        raise ValueError(f"invalid keep_alive {value!r}")
    return FOREVER if seconds < 0 else seconds


def _parse_duration(text: str) -> float:
    try:
        return float(text)  # a bare number in a string is seconds, like "0" and "-1"
    except ValueError:
        pass
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * sum(float(n) * _UNIT_S[u] for n, u in parts)


def _details() -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "qwen2",
        "families": ["qwen2"],
        "parameter_size": "7.6B",
        "quantization_level": QUANTIZATION,
    }


def tag_entry(profile: SimProfile) -> dict[str, Any]:
    return {
        "name": profile.model,
        "model": profile.model,
        "modified_at": "2025-01-01T00:00:00Z",
        "size": profile.ballast_mb * 2**20,
        "digest": digest(profile.model),
        "details": _details(),
    }


def ps_entry(profile: SimProfile, expires_in_s: float) -> dict[str, Any]:
    # Ollama reports a "forever" model as expiring centuries from now.
    seconds = min(expires_in_s, 100 * 365 * 86400.0)
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    return {
        **tag_entry(profile),
        "expires_at": expires.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "size_vram": 0,
    }


def show_body(profile: SimProfile) -> dict[str, Any]:
    return {
        "license": "simulated",
        "modelfile": f"FROM {profile.model}\n",
        "parameters": "num_ctx 4096",
        "template": "{{ .Prompt }}",
        "details": _details(),
        "model_info": {
            "general.architecture": "qwen2",
            "general.parameter_count": 7615616512,
            "qwen2.context_length": 32768,
        },
        "capabilities": ["completion"],
        "modified_at": "2025-01-01T00:00:00Z",
    }


def ollama_chunk(model: str, *, chat: bool, text: str) -> dict[str, Any]:
    """An intermediate ``done: false`` line."""
    line: dict[str, Any] = {"model": model, "created_at": now_iso()}
    if chat:
        line["message"] = {"role": "assistant", "content": text}
    else:
        line["response"] = text
    line["done"] = False
    return line


def ollama_done(model: str, *, chat: bool, text: str, done_reason: str, timing: Timing) -> dict[str, Any]:
    """The final ``done: true`` line (or the whole non-streamed body) with Ollama's metrics."""
    line = ollama_chunk(model, chat=chat, text=text)
    line["done"] = True
    line["done_reason"] = done_reason
    metrics = {
        "total_duration": timing.end_ns - timing.start_ns,
        "load_duration": timing.load_ns,
        "prompt_eval_count": timing.prompt_tokens,
        "prompt_eval_duration": timing.prompt_eval_ns if timing.output_tokens else 0,
        "eval_count": timing.output_tokens,
        "eval_duration": timing.eval_ns,
    }
    line.update({key: value for key, value in metrics.items() if value > 0})
    return line


def openai_chunk(
    request_id: str, model: str, delta: dict[str, Any], finish_reason: str | None, *, with_usage: bool
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": request_id,
        "object": "chat.completion.chunk",
        "created": int(datetime.now(UTC).timestamp()),
        "model": model,
        "system_fingerprint": "fp_perfgate_sim",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if with_usage:
        chunk["usage"] = None  # OpenAI sends null usage on every chunk but the last when asked for it
    return chunk


def openai_usage(timing: Timing) -> dict[str, int]:
    return {
        "prompt_tokens": timing.prompt_tokens,
        "completion_tokens": timing.output_tokens,
        "total_tokens": timing.prompt_tokens + timing.output_tokens,
    }


def llamacpp_timings(timing: Timing) -> dict[str, float | int]:
    predicted_ms = timing.eval_ns / 1e6
    prompt_ms = timing.prompt_eval_ns / 1e6
    return {
        "prompt_n": timing.prompt_tokens,
        "prompt_ms": prompt_ms,
        "prompt_per_second": timing.prompt_tokens / prompt_ms * 1000 if prompt_ms > 0 else 0.0,
        "predicted_n": timing.output_tokens,
        "predicted_ms": predicted_ms,
        "predicted_per_second": timing.output_tokens / predicted_ms * 1000 if predicted_ms > 0 else 0.0,
    }


def openai_usage_chunk(request_id: str, model: str, timing: Timing) -> dict[str, Any]:
    chunk = openai_chunk(request_id, model, {}, None, with_usage=False)
    chunk["choices"] = []
    chunk["usage"] = openai_usage(timing)
    chunk["timings"] = llamacpp_timings(timing)
    return chunk


def openai_completion(request_id: str, model: str, text: str, timing: Timing) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` body."""
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(datetime.now(UTC).timestamp()),
        "model": model,
        "system_fingerprint": "fp_perfgate_sim",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}],
        "usage": openai_usage(timing),
        "timings": llamacpp_timings(timing),
    }


def openai_error(message: str, *, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


def openai_models(profile: SimProfile, *, visible: bool) -> dict[str, Any]:
    data = [{"id": profile.model, "object": "model", "created": 1735689600, "owned_by": "library"}]
    return {"object": "list", "data": data if visible else []}
