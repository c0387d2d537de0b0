"""Which runtime process was measured, since when it had been serving, and with which settings.

A runtime that served other requests before a run can carry what they left
(a grown KV cache, allocator high-water marks): the same server, model and
code measured on its first and its third run differed by 40 % in peak RSS.
perfgate records the runtime's PID and start time with every run so the gate
can say so (``decide.fingerprint.runtime_warnings``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import psutil


def process_started_at(pid: int) -> str | None:
    """When process ``pid`` started (ISO 8601 UTC, to the second), or None if it cannot be read."""
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None
    return datetime.fromtimestamp(started, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Ollama's server settings that change speed or memory (envconfig/config.go). OLLAMA_KEEP_ALIVE is
# left out: perfgate sends keep_alive with every request, which overrides it.
OLLAMA_SETTINGS = (
    "OLLAMA_FLASH_ATTENTION",
    "OLLAMA_KV_CACHE_TYPE",
    "OLLAMA_NUM_PARALLEL",
    "OLLAMA_CONTEXT_LENGTH",
    "OLLAMA_MAX_LOADED_MODELS",
    "OLLAMA_GPU_OVERHEAD",
    "OLLAMA_SCHED_SPREAD",
    "OLLAMA_LLM_LIBRARY",
    "OLLAMA_NEW_ENGINE",
    "OLLAMA_MULTIUSER_CACHE",
)
UNSET = "unset"
UNKNOWN = "unknown"

EnvironReader = Callable[[int], Mapping[str, str]]


def _environ(pid: int) -> Mapping[str, str]:
    return psutil.Process(pid).environ()


def read_runtime_settings(kind: str, pid: int | None, *, environ: EnvironReader = _environ) -> dict[str, str] | None:
    """The runtime server's performance settings from its environment; None for a runtime that has none.

    Each of ``OLLAMA_SETTINGS`` maps to its value, ``unset`` (Ollama's default
    applies), or ``unknown`` for all of them when the environment cannot be
    read: another user's process (macOS and Linux allow it only to the same
    user), or no process found.
    """
    if kind != "ollama":
        return None
    if pid is None:
        return dict.fromkeys(OLLAMA_SETTINGS, UNKNOWN)
    try:
        env = environ(pid)
    except (psutil.Error, OSError):
        return dict.fromkeys(OLLAMA_SETTINGS, UNKNOWN)
    return {name: env.get(name, UNSET) for name in OLLAMA_SETTINGS}
