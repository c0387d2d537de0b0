"""The one GitHub REST client perfgate uses: issue comments, issues and labels.

It owns nothing but an injected ``httpx.Client``. Every request carries the
documented headers (``Accept: application/vnd.github+json``,
``X-GitHub-Api-Version: 2022-11-28``, ``Authorization: Bearer``) and explicit
timeouts. Lists are followed through the ``Link: rel="next"`` header.

Transient failures (5xx, 429, network errors, 403 secondary rate limits) are
retried with exponential backoff, honouring ``Retry-After`` and
``x-ratelimit-reset`` as GitHub asks; anything else becomes a one-line
``PublishError``. A create (an issue, a comment) is the exception: a 5xx or a
timeout after it was sent may come after GitHub stored it, so it is never sent
again blindly. The caller's ``find`` looks for it first (by its marker), and
only when it is not there is it sent again. Write requests are paced at least
``write_interval_s`` (one second, as GitHub's best practices ask) apart, on an
injected clock and sleeper.

The token never reaches a message, a log or a repr: error text is built from
the method and path only, and the token is held in a ``_Secret`` whose repr is
redacted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal

import httpx

from perfgate import __version__
from perfgate.errors import ConfigError, PublishError
from perfgate.publish.backoff import backoff, retry_wait

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100

WRITE_INTERVAL_S = 1.0
"""GitHub's best practices: at least a second between POST, PATCH, PUT and DELETE requests."""
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

PERMISSION_HINT = "the workflow token needs pull-requests: write / issues: write"
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

IssueState = Literal["open", "closed"]
StateReason = Literal["completed", "not_planned", "reopened"]
Finder = Callable[[], "dict[str, Any] | None"]
"""Looks for what a create may already have made (by its marker); None when it is not there."""


DEFAULT_BOT_LOGIN = "github-actions[bot]"
"""The account the workflow's ``GITHUB_TOKEN`` writes as (``github.bot_login`` in the config)."""


def authored_by(item: Mapping[str, Any], login: str) -> bool:
    """Whether an issue or comment was written by ``login`` (GitHub logins ignore case)."""
    user = item.get("user")
    author = user.get("login") if isinstance(user, dict) else None
    return isinstance(author, str) and author.casefold() == login.casefold()


class _Uncertain(PublishError):
    """A create GitHub may or may not have stored: a 5xx, or no answer after the request was sent."""


# Failures before a request left this machine: sending it again cannot make a second one.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


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
        clock: Callable[[], float] = time.monotonic,
        write_interval_s: float = WRITE_INTERVAL_S,
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
        self._clock = clock
        self.write_interval_s = write_interval_s
        self._last_write: float | None = None
        self._timeout = httpx.Timeout(connect=connect_timeout_s, read=read_timeout_s, write=read_timeout_s, pool=10.0)

    @classmethod
    def from_env(
        cls,
        http: httpx.Client,
        environ: Mapping[str, str],
        *,
        repository: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> GitHubClient | None:
        """Build from ``GITHUB_TOKEN``/``GITHUB_API_URL``/``GITHUB_REPOSITORY``; None without a token."""
        token = environ.get("GITHUB_TOKEN", "").strip()
        if not token:
            return None
        repository = repository or environ.get("GITHUB_REPOSITORY", "").strip()
        if not repository:
            raise ConfigError("GITHUB_REPOSITORY is not set; name the repository as 'owner/name'")
        api_url = environ.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
        return cls(http, token=token, repository=repository, api_url=api_url, sleep=sleep, clock=clock)

    def __repr__(self) -> str:
        return f"GitHubClient(repository={self.repository!r}, api_url={self.api_url!r})"

    # ------------------------------------------------------------ comments

    def list_issue_comments(self, number: int) -> list[dict[str, Any]]:
        """Every comment on an issue or pull request, oldest first, across all pages."""
        return self._paginate(f"{self._repo_path}/issues/{number}/comments", {})

    def create_issue_comment(self, number: int, body: str, *, find: Finder | None = None) -> dict[str, Any]:
        """Post a comment; after an uncertain answer, ``find`` (if given) is asked before it is sent again."""
        return self._create(f"{self._repo_path}/issues/{number}/comments", {"body": body}, find)

    def update_issue_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return self._object("PATCH", f"{self._repo_path}/issues/comments/{comment_id}", json={"body": body})

    # ------------------------------------------------------------ issues

    def list_issues(self, *, labels: str, state: Literal["open", "closed", "all"] = "all") -> list[dict[str, Any]]:
        """Issues carrying every label in ``labels`` (comma-separated), pull requests left out."""
        items = self._paginate(f"{self._repo_path}/issues", {"labels": labels, "state": state})
        # The issues endpoint returns pull requests too; only they carry a "pull_request" key.
        return [item for item in items if "pull_request" not in item]

    def create_issue(
        self, title: str, body: str, labels: Sequence[str], *, find: Finder | None = None
    ) -> dict[str, Any]:
        """Open an issue; after an uncertain answer, ``find`` (if given) is asked before it is sent again."""
        payload = {"title": title, "body": body, "labels": list(labels)}
        return self._create(f"{self._repo_path}/issues", payload, find)

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

    def _create(self, path: str, payload: Mapping[str, Any], find: Finder | None) -> dict[str, Any]:
        """POST something new, and not a second time when the first may have been stored.

        A 5xx or a lost answer may come after GitHub stored it (a 502 from a proxy in
        front of a write that went through), so the create is not retried blindly:
        after the usual back-off, ``find`` looks for it and what is there is adopted;
        only when nothing is there is it sent again. Without ``find`` it is not sent
        again. (A list that lags behind the write can still let a second one through;
        the triage sink closes such a duplicate on its next run.)
        """
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._object("POST", path, json=payload, once=True)
            except _Uncertain as exc:
                if find is None:
                    raise PublishError(f"{exc}; not sent again, as GitHub may have stored it") from exc
                self._sleep(self._backoff(attempt))
                found = find()
                if found is not None:
                    return found
                if attempt == self.max_attempts:
                    raise PublishError(f"{exc}; gave up after {attempt} attempts") from exc
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _object(self, method: str, path: str, *, json: Mapping[str, Any], once: bool = False) -> dict[str, Any]:
        response = self._request(method, self._url(path), json=json, once=once)
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
        once: bool = False,
    ) -> httpx.Response:
        """Send with retries; return a 2xx (or an ``allow``-ed) response, else raise PublishError.

        ``once``: a 5xx, or a failure after the request was sent, raises ``_Uncertain``
        instead of sending it again (a create, which the caller settles).
        """
        where = httpx.URL(url).path
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            try:
                response = self._send(method, url, params=params, json=json)
            except httpx.TransportError as exc:
                if once and not isinstance(exc, _NOT_SENT):
                    raise _Uncertain(f"GitHub {method} {where} got no answer ({type(exc).__name__})") from exc
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
            if once and response.status_code >= 500:
                raise _Uncertain(self._failure(method, response, "failed"))
            if wait > self.max_wait_s:
                # A reset an hour away: waiting in CI would only burn the job's time, then fail.
                raise PublishError(
                    self._failure(method, response, f"rate limited for {wait:.0f} s more (limit {self.max_wait_s:g} s)")
                )
            if last:
                raise PublishError(self._failure(method, response, f"still failing after {attempt} attempts"))
            self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _send(
        self, method: str, url: str, *, params: Mapping[str, str | int] | None, json: Mapping[str, Any] | None
    ) -> httpx.Response:
        """One request; a write waits until ``write_interval_s`` has passed since the last one ended."""
        write = method in WRITE_METHODS
        if write and self._last_write is not None:
            wait = self._last_write + self.write_interval_s - self._clock()
            if wait > 0:
                self._sleep(wait)
        try:
            return self._http.request(
                method, url, params=params, json=json, headers=self._headers(), timeout=self._timeout
            )
        finally:
            if write:
                self._last_write = self._clock()

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        return retry_wait(response, attempt, now=self._now, max_wait_s=self.max_wait_s)

    def _backoff(self, attempt: int) -> float:
        return backoff(attempt, self.max_wait_s)

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


def _already_exists(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(isinstance(e, dict) and e.get("code") == "already_exists" for e in errors)
