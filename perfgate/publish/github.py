"""The one GitHub REST client perfgate uses: issue comments, issues and labels.

It owns nothing but an injected ``httpx.Client``. Every request carries the
documented headers (``Accept: application/vnd.github+json``,
``X-GitHub-Api-Version: 2022-11-28``, ``Authorization: Bearer``) and explicit
timeouts. Lists are followed through the ``Link: rel="next"`` header.

Transient failures (5xx, 429, network errors, 403 secondary rate limits) are
retried with exponential backoff, honouring ``Retry-After`` and
``x-ratelimit-reset`` as GitHub asks; anything else becomes a one-line
``PublishError``. The token never reaches a message, a log or a repr: error
text is built from the method and path only, and the token is held in a
``_Secret`` whose repr is redacted.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from perfgate import __version__
from perfgate.errors import ConfigError, PublishError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
BACKOFF_BASE_S = 1.0
SECONDARY_LIMIT_MIN_WAIT_S = 60.0
"""GitHub: a secondary rate limit without ``retry-after`` waits a minute, then exponentially longer."""

PERMISSION_HINT = "the workflow token needs pull-requests: write / issues: write"
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

IssueState = Literal["open", "closed"]
StateReason = Literal["completed", "not_planned", "reopened"]


class _Secret:
    """A string that never shows itself in repr, str or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


class GitHubClient:
    """Talks to one repository's issues, comments and labels over an injected ``httpx.Client``."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        token: str,
        repository: str,
        api_url: str = DEFAULT_API_URL,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
        max_wait_s: float = 120.0,
        now: Callable[[], float] = time.time,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        if not _REPOSITORY.match(repository):
            raise ConfigError(f"GitHub repository must look like 'owner/name', got {repository!r}")
        if not token:
            raise ConfigError("GitHub token is empty")
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
        self._http = http
        self._token = _Secret(token)
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.max_attempts = max_attempts
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self._now = now
        self._timeout = httpx.Timeout(connect=connect_timeout_s, read=read_timeout_s, write=read_timeout_s, pool=10.0)

    @classmethod
    def from_env(
        cls, http: httpx.Client, environ: Mapping[str, str], *, repository: str | None = None
    ) -> GitHubClient | None:
        """Build from ``GITHUB_TOKEN``/``GITHUB_API_URL``/``GITHUB_REPOSITORY``; None without a token."""
        token = environ.get("GITHUB_TOKEN", "").strip()
        if not token:
            return None
        repository = repository or environ.get("GITHUB_REPOSITORY", "").strip()
        if not repository:
            raise ConfigError("GITHUB_REPOSITORY is not set; name the repository as 'owner/name'")
        api_url = environ.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
        return cls(http, token=token, repository=repository, api_url=api_url)

    def __repr__(self) -> str:
        return f"GitHubClient(repository={self.repository!r}, api_url={self.api_url!r})"

    # ------------------------------------------------------------ comments

    def list_issue_comments(self, number: int) -> list[dict[str, Any]]:
        """Every comment on an issue or pull request, oldest first, across all pages."""
        return self._paginate(f"{self._repo_path}/issues/{number}/comments", {})

    def create_issue_comment(self, number: int, body: str) -> dict[str, Any]:
        return self._object("POST", f"{self._repo_path}/issues/{number}/comments", json={"body": body})

    def update_issue_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return self._object("PATCH", f"{self._repo_path}/issues/comments/{comment_id}", json={"body": body})

    # ------------------------------------------------------------ issues

    def list_issues(self, *, labels: str, state: Literal["open", "closed", "all"] = "all") -> list[dict[str, Any]]:
        """Issues carrying every label in ``labels`` (comma-separated), pull requests left out."""
        items = self._paginate(f"{self._repo_path}/issues", {"labels": labels, "state": state})
        # The issues endpoint returns pull requests too; only they carry a "pull_request" key.
        return [item for item in items if "pull_request" not in item]

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> dict[str, Any]:
        payload = {"title": title, "body": body, "labels": list(labels)}
        return self._object("POST", f"{self._repo_path}/issues", json=payload)

    def update_issue(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: IssueState | None = None,
        state_reason: StateReason | None = None,
    ) -> dict[str, Any]:
        fields = {"title": title, "body": body, "state": state, "state_reason": state_reason}
        payload = {key: value for key, value in fields.items() if value is not None}
        if not payload:
            raise ValueError("update_issue needs at least one field to change")
        return self._object("PATCH", f"{self._repo_path}/issues/{number}", json=payload)

    # ------------------------------------------------------------ labels

    def ensure_label(self, name: str, color: str, description: str) -> None:
        """Create the label unless it exists; creating first is race-free, unlike look-then-create."""
        payload = {"name": name, "color": color.lstrip("#"), "description": description}
        response = self._request("POST", self._url(f"{self._repo_path}/labels"), json=payload, allow={422})
        if response.status_code == 422 and not _already_exists(response):
            raise PublishError(self._failure("POST", response, "could not create label"))

    # ------------------------------------------------------------ plumbing

    @property
    def _repo_path(self) -> str:
        return f"/repos/{self.repository}"

    def _url(self, path: str) -> str:
        return f"{self.api_url}{path}"

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"perfgate/{__version__}",
            "Authorization": f"Bearer {self._token.reveal()}",
        }

    def _object(self, method: str, path: str, *, json: Mapping[str, Any]) -> dict[str, Any]:
        response = self._request(method, self._url(path), json=json)
        body = self._json(method, response)
        if not isinstance(body, dict):
            raise PublishError(f"GitHub {method} {_where(response)} returned {type(body).__name__}, not an object")
        return body

    def _paginate(self, path: str, params: Mapping[str, str | int]) -> list[dict[str, Any]]:
        url: str | None = self._url(path)
        query: dict[str, str | int] | None = {**params, "per_page": PER_PAGE}
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        while url is not None and url not in seen:
            seen.add(url)
            response = self._request("GET", url, params=query)
            page = self._json("GET", response)
            if not isinstance(page, list) or not all(isinstance(item, dict) for item in page):
                raise PublishError(f"GitHub GET {_where(response)} did not return a list of objects")
            items.extend(page)
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries its own query
            if url is not None and not self._is_ours(url):
                # Following it would hand the token to another host.
                raise PublishError(f"GitHub pagination pointed outside {self.api_url}; refusing to follow it")
        return items

    def _is_ours(self, url: str) -> bool:
        root, candidate = httpx.URL(self.api_url), httpx.URL(url)
        same_origin = (root.scheme, root.host, root.port) == (candidate.scheme, candidate.host, candidate.port)
        return same_origin and candidate.path.startswith(root.path.rstrip("/") + "/")

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Mapping[str, Any] | None = None,
        allow: Collection[int] = (),
    ) -> httpx.Response:
        """Send with retries; return a 2xx (or an ``allow``-ed) response, else raise PublishError."""
        where = httpx.URL(url).path
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            try:
                response = self._http.request(
                    method, url, params=params, json=json, headers=self._headers(), timeout=self._timeout
                )
            except httpx.TransportError as exc:
                if last:
                    raise PublishError(
                        f"GitHub {method} {where} failed after {attempt} attempts: {type(exc).__name__}"
                    ) from exc
                self._sleep(self._backoff(attempt))
                continue
            if response.is_success or response.status_code in allow:
                return response
            wait = self._retry_wait(response, attempt)
            if wait is None:
                raise PublishError(self._classify(method, response))
            if wait > self.max_wait_s:
                # A reset an hour away: waiting in CI would only burn the job's time, then fail.
                raise PublishError(
                    self._failure(method, response, f"rate limited for {wait:.0f} s more (limit {self.max_wait_s:g} s)")
                )
            if last:
                raise PublishError(self._failure(method, response, f"still failing after {attempt} attempts"))
            self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when the failure is not transient."""
        status = response.status_code
        rate_limited = status == 429 or (status == 403 and _is_rate_limited(response))
        if status < 500 and not rate_limited:
            return None
        headers = response.headers
        wait = _retry_after_s(headers.get("retry-after"), self._now)
        if wait is None and headers.get("x-ratelimit-remaining") == "0":
            reset = _float(headers.get("x-ratelimit-reset"))
            if reset is not None:
                wait = reset - self._now()
        if wait is not None and wait > self.max_wait_s:
            # GitHub named a time beyond the cap (an hourly reset): waiting less would only
            # be refused again, and waiting longer burns the job's time. Give up now.
            return wait
        if wait is None and rate_limited:
            wait = SECONDARY_LIMIT_MIN_WAIT_S * 2.0 ** (attempt - 1)
        if wait is None:
            wait = self._backoff(attempt)
        return min(max(wait, 0.0), self.max_wait_s)

    def _backoff(self, attempt: int) -> float:
        return min(BACKOFF_BASE_S * 2.0 ** (attempt - 1), self.max_wait_s)

    def _classify(self, method: str, response: httpx.Response) -> str:
        status, where, detail = response.status_code, _where(response), self._detail(response)
        if status == 401:
            return f"GitHub rejected the token (HTTP 401: {detail or 'Bad credentials'}) on {method} {where}"
        if status == 403:
            return f"GitHub refused {method} {where} (HTTP 403: {detail or 'Forbidden'}); {PERMISSION_HINT}"
        if status == 404:
            return (
                f"GitHub has no {where} (HTTP 404 on {method}); check the repository name and that the token can see it"
            )
        return self._failure(method, response, "failed")

    def _failure(self, method: str, response: httpx.Response, what: str) -> str:
        detail = self._detail(response)
        return (
            f"GitHub {method} {_where(response)} {what} (HTTP {response.status_code}{': ' + detail if detail else ''})"
        )

    def _detail(self, response: httpx.Response) -> str:
        """GitHub's one-line ``message`` (plus validation codes), redacted and cut short."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        parts = [str(body.get("message") or "")]
        errors = body.get("errors")
        if isinstance(errors, list):
            parts += [str(err.get("code")) for err in errors if isinstance(err, dict) and err.get("code")]
        text = " ".join(" ".join(part for part in parts if part).split())
        return text.replace(self._token.reveal(), "<redacted>")[:200]  # redact first: a cut could split the token

    def _json(self, method: str, response: httpx.Response) -> object:
        try:
            return response.json()
        except ValueError as exc:
            raise PublishError(f"GitHub {method} {_where(response)} returned a body that is not JSON") from exc


def _where(response: httpx.Response) -> str:
    return response.request.url.path


def _is_rate_limited(response: httpx.Response) -> bool:
    """A 403 is a rate limit (not a permission problem) when GitHub's headers or message say so."""
    if "retry-after" in response.headers or response.headers.get("x-ratelimit-remaining") == "0":
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "rate limit" in str(body.get("message", "")).lower()


def _already_exists(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(isinstance(e, dict) and e.get("code") == "already_exists" for e in errors)


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
