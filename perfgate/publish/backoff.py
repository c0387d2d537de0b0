"""How long the GitHub client waits before trying again, as GitHub documents it.

Pure functions of a response, the attempt number and the time: ``Retry-After``
first (seconds or an HTTP date), then ``x-ratelimit-reset`` when the primary
limit is spent, then a minute and more for a secondary limit, else exponential
back-off. A wait beyond the cap is returned as is, for the client to give up on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx

BACKOFF_BASE_S = 1.0
SECONDARY_LIMIT_MIN_WAIT_S = 60.0
"""GitHub: a secondary rate limit without ``retry-after`` waits a minute, then exponentially longer."""


def backoff(attempt: int, max_wait_s: float) -> float:
    return min(BACKOFF_BASE_S * 2.0 ** (attempt - 1), max_wait_s)


def retry_wait(response: httpx.Response, attempt: int, *, now: Callable[[], float], max_wait_s: float) -> float | None:
    """Seconds to wait before retrying, or None when the failure is not transient."""
    status = response.status_code
    rate_limited = status == 429 or (status == 403 and _is_rate_limited(response))
    if status < 500 and not rate_limited:
        return None
    headers = response.headers
    wait = _retry_after_s(headers.get("retry-after"), now)
    if wait is None and headers.get("x-ratelimit-remaining") == "0":
        reset = _float(headers.get("x-ratelimit-reset"))
        if reset is not None:
            wait = reset - now()
    if wait is not None and wait > max_wait_s:
        # GitHub named a time beyond the cap (an hourly reset): waiting less would only
        # be refused again, and waiting longer burns the job's time. Give up now.
        return wait
    if wait is None and rate_limited:
        wait = SECONDARY_LIMIT_MIN_WAIT_S * 2.0 ** (attempt - 1)
    if wait is None:
        wait = backoff(attempt, max_wait_s)
    return min(max(wait, 0.0), max_wait_s)


def _is_rate_limited(response: httpx.Response) -> bool:
    """A 403 is a rate limit (not a permission problem) when GitHub's headers or message say so."""
    if "retry-after" in response.headers or response.headers.get("x-ratelimit-remaining") == "0":
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "rate limit" in str(body.get("message", "")).lower()


def _retry_after_s(value: str | None, now: Callable[[], float]) -> float | None:
    """``Retry-After`` as seconds: GitHub sends delta-seconds; HTTP also allows a date."""
    if value is None:
        return None
    seconds = _float(value)
    if seconds is not None:
        return seconds
    try:
        return parsedate_to_datetime(value).timestamp() - now()
    except (TypeError, ValueError):
        return None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
