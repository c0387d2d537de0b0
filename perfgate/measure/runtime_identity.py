"""Which runtime process was measured, and since when it had been serving.

A runtime that served other requests before a run can carry what they left
(a grown KV cache, allocator high-water marks): the same server, model and
code measured on its first and its third run differed by 40 % in peak RSS.
perfgate records the runtime's PID and start time with every run so the gate
can say so (``decide.fingerprint.runtime_warnings``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import psutil


def process_started_at(pid: int) -> str | None:
    """When process ``pid`` started (ISO 8601 UTC, to the second), or None if it cannot be read."""
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None
    return datetime.fromtimestamp(started, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
