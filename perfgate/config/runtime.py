"""The runtime's settings (``[tool.perfgate.runtime]``): which runtime, how to reach it, how long to wait.

Split from ``perfgate.config.model`` to keep each module short.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from perfgate.config.base import _checked_path, _Model, base_url_problem

_WEEK_S = 7 * 24 * 3600  # a deadline is a number of seconds a timer can hold, not "never"


class RuntimeConfig(_Model):
    """Which runtime to talk to and how."""

    kind: Literal["ollama", "openai", "sim", "llamacpp"] = Field(
        default="ollama",
        description=(
            "Wire protocol / runtime kind. 'llamacpp' starts llama.cpp's own server (the optional xllamacpp "
            "extra) on a generated or given GGUF for the run."
        ),
    )
    base_url: str = Field(
        default="http://127.0.0.1:11434", description="Runtime base URL: http(s)://HOST:PORT, optionally a path."
    )
    model: str = Field(default="qwen2.5:7b-instruct-q4_K_M", description="Model name as the runtime knows it.")
    ollama_api: Literal["chat", "generate"] = Field(default="chat", description="Ollama endpoint used.")
    keep_alive: str = Field(default="10m", description="Ollama keep_alive sent with every request.")
    process_name: str | None = Field(
        default=None, description="Fallback: find the runtime process by this name (e.g. 'ollama')."
    )
    # 2**22 is the largest PID Linux allows; macOS stops below 100000.
    pid: int | None = Field(default=None, ge=1, le=2**22, description="Runtime PID to sample (overrides discovery).")
    preflight_timeout_s: float = Field(default=3.0, gt=0, description="Timeout of the liveness check.")
    unload_timeout_s: float = Field(
        default=30.0, gt=0, le=_WEEK_S, description="Cold-start scenarios: how long the model may take to unload."
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Connect timeout of measured requests.")
    read_timeout_s: float = Field(default=120.0, gt=0, description="Max gap between stream reads before 'timeout'.")
    request_timeout_s: float = Field(
        default=600.0,
        gt=0,
        le=_WEEK_S,
        allow_inf_nan=False,
        description=(
            "Whole-request deadline (send to last token; flag --request-timeout): a request still streaming after "
            "it fails as 'timeout', keeping the samples before it. read_timeout_s alone lets a trickling runtime "
            "hold one request for ever."
        ),
    )
    run_timeout_s: float | None = Field(
        default=None,
        gt=0,
        le=_WEEK_S,
        allow_inf_nan=False,
        description=(
            "Whole-run deadline in seconds (flag --run-timeout; unset = none): when it passes, the run stops with "
            "a 'timeout' failure and writes what it measured."
        ),
    )
    model_size: Literal["tiny", "small", "medium"] = Field(
        default="tiny",
        description=(
            "llamacpp: which generated random-weight model to serve (tiny ~1 MB for functional checks; small "
            "~28 MB and medium ~206 MB run measurably slower). Ignored when runtime.gguf is set."
        ),
    )
    gguf: str | None = Field(default=None, description="llamacpp: serve this GGUF file instead of a generated model.")
    memory_helper: str | None = Field(
        default=None,
        description=(
            "Absolute path of perfgate-rusage (tools/perfgate-rusage, installed root-owned, e.g. "
            "/usr/local/libexec/perfgate-rusage). When the runtime runs as another user, whose memory macOS "
            "refuses to the runner, perfgate starts it through memory_helper_via to read the runtime's memory. "
            "Allow it in /etc/sudoers.d/perfgate with 'RUNNER_USER ALL=(root) NOPASSWD: "
            "/usr/local/libexec/perfgate-rusage' (docs/ci-setup.md, step 2b). Unset: such a runtime has no memory "
            "figures."
        ),
    )
    memory_helper_via: tuple[str, ...] = Field(
        default=("/usr/bin/sudo", "-n"),
        description=(
            "The command line put before runtime.memory_helper: sudo that never prompts (a missing sudoers rule "
            "fails at once, naming the rule to add). [] runs the helper directly (perfgate as root, or tests)."
        ),
    )

    @field_validator("gguf", "model_cache_dir")
    @classmethod
    def _valid_path(cls, value: str | None) -> str | None:
        return _checked_path(value)

    @field_validator("memory_helper")
    @classmethod
    def _absolute_helper(cls, value: str | None) -> str | None:
        # sudoers allows one exact path; a relative one would name whatever the working directory holds.
        if value is not None and not value.startswith("/"):
            raise ValueError(f"{value[:80]!r} is not an absolute path (the path the sudoers rule allows)")
        return _checked_path(value)

    @field_validator("base_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        problem = base_url_problem(value)
        if problem is not None:
            raise ValueError(f"{value[:80]!r} is not a base URL: {problem}")
        return value

    model_cache_dir: str | None = Field(
        default=None,
        description=(
            "llamacpp: where generated models are written once and reused "
            "(default: $XDG_CACHE_HOME/perfgate/models, else ~/.cache/perfgate/models)."
        ),
    )
