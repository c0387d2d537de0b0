"""The base of every config table (frozen, unknown keys refused), the one-line refusal of unknown names, and
the checks of values that become a URL or a path."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from perfgate.files import path_problem


class _Model(BaseModel):
    # TOML and JSON env values can spell nan and inf; no setting means either.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _refuse_unknown(what: str, given: Iterable[str], known: Collection[str]) -> None:
    """One line naming the first unknown name and every valid one (a typo must not pass silently)."""
    for name in given:
        if name not in known:
            raise ValueError(f"unknown {what} {name!r} (known: {', '.join(known)})")


def base_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a runtime's base URL (``http(s)://host[:port][/path]``), or None."""
    expected = "expected http://HOST:PORT or https://HOST:PORT"
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when out of range or not a number
    except ValueError:
        port, parts = None, None
    if not url.isprintable() or any(c.isspace() for c in url):
        problem = "a URL holds no spaces or control characters"
    elif parts is None or port == 0:
        problem = "the port must be a number from 1 to 65535"
    elif parts.scheme not in {"http", "https"} or not parts.hostname:
        problem = expected
    elif parts.query or parts.fragment:
        problem = "a base URL has no ?query or #fragment (perfgate adds the API path)"
    return problem


def _checked_path(value: str | None) -> str | None:
    problem = None if value is None else path_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value
