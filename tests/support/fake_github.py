"""A stateful fake of the GitHub REST endpoints perfgate uses, over real HTTP on loopback or in process.

    with FakeGitHub(token="t0ken-secret", repository="acme/app", per_page_max=2) as gh:
        gh.add_pull_request(7)
        gh.inject("POST", r"/issues/7/comments$", 502)      # one 502, then the real answer
        ...  # point GitHubClient at gh.api_url; inspect gh.comments[7], gh.requests

Integration tests serve it over loopback HTTP (a ``perfgate`` subprocess can
reach it). Unit tests, which open no socket, build it with ``in_process=True``
and hand GitHubClient ``httpx.Client(transport=gh.transport())``: the same
routes, state and recording, without a server.

Pull requests are issues with a ``pull_request`` key, as on GitHub. Every
request needs ``Authorization: Bearer <token>`` (else 401 "Bad credentials");
unknown routes answer 404. Lists are paginated with ``per_page``/``page`` and
a ``Link`` header. As on GitHub, a title over 256 characters or a body over
65,536 is refused with 422. Comments and issues made through the API are by
``login`` (``github-actions[bot]``); ``add_comment``/``add_issue`` name anyone.

``inject(..., stored=True)`` answers with the fault only after doing the real
thing (GitHub stored the issue, then a proxy answered 502). With ``clock``,
each recorded request carries the time it arrived (``Recorded.at``).
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

JSON = dict[str, Any]
TITLE_MAX = 256  # GitHub's limits, in characters
BODY_MAX = 65_536
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
IN_PROCESS_URL = "http://fake-github.invalid"  # never resolved: only transport() answers it


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float | None = None  # the fake's clock when the request arrived (None without one)


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    stored: bool = False  # do the real thing first, then answer with the fault


class Reply(Exception):
    """Raised by a route to answer with an error status."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, {"message": message, **extra}


class FakeGitHub:
    def __init__(
        self,
        *,
        token: str = "t0ken-secret",
        repository: str = "acme/app",
        per_page_max: int = 100,
        in_process: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.token, self.repository, self.per_page_max = token, repository, per_page_max
        self.in_process = in_process
        self.clock = clock
        self.login = "github-actions[bot]"
        self.issues: dict[int, JSON] = {}
        self.comments: dict[int, list[JSON]] = {}  # issue number -> comments, oldest first
        self.labels: dict[str, JSON] = {}  # lower-cased name -> label
        self.requests: list[Recorded] = []
        self.responses: list[tuple[int, dict[str, str], bytes]] = []  # everything the fake sent back
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1001)
        self._ticks = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        repo = re.escape(repository)
        self.routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", rf"/repos/{repo}/issues/(\d+)/comments", self._list_comments),
            ("POST", rf"/repos/{repo}/issues/(\d+)/comments", self._create_comment),
            ("PATCH", rf"/repos/{repo}/issues/comments/(\d+)", self._update_comment),
            ("GET", rf"/repos/{repo}/issues", self._list_issues),
            ("POST", rf"/repos/{repo}/issues", self._create_issue),
            ("GET", rf"/repos/{repo}/issues/(\d+)", self._get_issue),
            ("PATCH", rf"/repos/{repo}/issues/(\d+)", self._update_issue),
            ("GET", rf"/repos/{repo}/labels", self._list_labels),
            ("POST", rf"/repos/{repo}/labels", self._create_label),
            ("GET", r"/search/issues", self._search),
        ]

    # ---------------------------------------------------------------- lifecycle and set-up

    def __enter__(self) -> FakeGitHub:
        if self.in_process:
            return self
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-github", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.in_process:
            return
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def api_url(self) -> str:
        if self.in_process:
            return IN_PROCESS_URL
        assert self._server is not None, "use FakeGitHub as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def transport(self) -> httpx.MockTransport:
        """An httpx transport answering every request in this process, exactly as the server would."""

        def answer(request: httpx.Request) -> httpx.Response:
            headers = {key.lower(): value for key, value in request.headers.items()}
            status, sent, data = self.respond(
                request.method, request.url.raw_path.decode("ascii"), headers, request.read()
            )
            return httpx.Response(status, headers=sent, content=data)

        return httpx.MockTransport(answer)

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        stored: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of the real thing.

        ``stored``: do the real thing first (an issue is created), then answer ``status``.
        """
        body = {"message": f"injected HTTP {status}"} if body is None else body
        fault = Fault(method.upper(), re.compile(path_regex), status, headers or {}, body, times, stored)
        self.faults.append(fault)

    def add_pull_request(self, number: int, title: str = "A pull request", user: str = "contributor") -> JSON:
        issue = self._new_issue(title, "", [], user, number=number)
        issue["pull_request"] = {"url": f"{self.api_url}/repos/{self.repository}/pulls/{number}"}
        issue["html_url"] = f"https://github.com/{self.repository}/pull/{number}"
        return issue

    def add_issue(self, title: str, body: str = "", labels: list[str] | None = None, user: str = "someone") -> JSON:
        return self._new_issue(title, body, labels or [], user)

    def add_comment(self, number: int, body: str, user: str = "octocat") -> JSON:
        comment = {"id": next(self._ids), "body": body, "user": {"login": user}, **self._stamp()}
        comment["html_url"] = f"https://github.com/{self.repository}/issues/{number}#issuecomment-{comment['id']}"
        comment["issue_url"] = f"{self.api_url}/repos/{self.repository}/issues/{number}"
        self.comments.setdefault(number, []).append(comment)
        return comment

    # ---------------------------------------------------------------- state helpers

    def _stamp(self) -> JSON:
        # A fake clock a second per write, so "newest" is well defined and tests are deterministic.
        when = (EPOCH + timedelta(seconds=next(self._ticks))).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"created_at": when, "updated_at": when}

    def _label(self, name: str, color: str = "ededed", description: str = "") -> JSON:
        return self.labels.setdefault(
            name.lower(), {"id": next(self._ids), "name": name, "color": color, "description": description}
        )

    def _new_issue(self, title: str, body: str, labels: list[str], user: str, number: int | None = None) -> JSON:
        number = number if number is not None else max(self.issues, default=0) + 1
        issue = {
            "id": next(self._ids),
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "state_reason": None,
            "labels": [self._label(name) for name in labels],
            "user": {"login": user},
            "html_url": f"https://github.com/{self.repository}/issues/{number}",
            "closed_at": None,
            **self._stamp(),
        }
        self.issues[number] = issue
        return issue

    @staticmethod
    def _check_lengths(resource: str, body: Any) -> None:
        """GitHub's 422 for a title or body over its limit."""
        for name, limit in (("title", TITLE_MAX), ("body", BODY_MAX)):
            value = body.get(name) if isinstance(body, dict) else None
            if isinstance(value, str) and len(value) > limit:
                error = {
                    "resource": resource,
                    "code": "custom",
                    "field": name,
                    "message": f"{name} is too long (maximum is {limit} characters)",
                }
                raise Reply(422, "Validation Failed", errors=[error])

    def _issue(self, number: str) -> JSON:
        if int(number) not in self.issues:
            raise Reply(404, "Not Found")
        return self.issues[int(number)]

    def _page(self, items: list[JSON], path: str, query: dict[str, str]) -> tuple[list[JSON], dict[str, str]]:
        per_page = max(1, min(int(query.get("per_page", "30")), self.per_page_max))
        page = max(1, int(query.get("page", "1")))
        last = max(1, -(-len(items) // per_page))

        def link(n: int) -> str:
            return f"<{self.api_url}{path}?{urlencode({**query, 'per_page': per_page, 'page': n})}>"

        rels = {"prev": page - 1, "next": page + 1, "last": last, "first": 1}
        wanted = {"prev": page > 1, "next": page < last, "last": page < last, "first": page > 1}
        parts = [f'{link(n)}; rel="{rel}"' for rel, n in rels.items() if wanted[rel]]
        return items[(page - 1) * per_page : page * per_page], ({"Link": ", ".join(parts)} if parts else {})

    # ---------------------------------------------------------------- routes: (match groups, query, body, path)

    def _list_comments(self, number: str, query: dict[str, str], _body: Any, path: str) -> Any:
        self._issue(number)
        return 200, *self._page(self.comments.get(int(number), []), path, query)

    def _create_comment(self, number: str, _query: dict[str, str], body: Any, _path: str) -> Any:
        self._issue(number)
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            raise Reply(422, "Validation Failed")
        self._check_lengths("IssueComment", body)
        return 201, self.add_comment(int(number), body["body"], user=self.login), {}

    def _update_comment(self, comment_id: str, _query: dict[str, str], body: Any, _path: str) -> Any:
        for comment in itertools.chain.from_iterable(self.comments.values()):
            if comment["id"] == int(comment_id):
                self._check_lengths("IssueComment", body)
                comment.update(body=body["body"], updated_at=self._stamp()["updated_at"])
                return 200, comment, {}
        raise Reply(404, "Not Found")

    def _list_issues(self, query: dict[str, str], _body: Any, path: str) -> Any:
        state = query.get("state", "open")
        wanted = {name.strip().lower() for name in query.get("labels", "").split(",") if name.strip()}
        found = [
            issue
            for issue in sorted(self.issues.values(), key=lambda i: i["number"], reverse=True)
            if state in ("all", issue["state"]) and wanted <= {label["name"].lower() for label in issue["labels"]}
        ]
        return 200, *self._page(found, path, query)

    def _create_issue(self, _query: dict[str, str], body: Any, _path: str) -> Any:
        if not isinstance(body, dict) or not body.get("title"):
            raise Reply(422, "Validation Failed", errors=[{"resource": "Issue", "code": "missing_field"}])
        self._check_lengths("Issue", body)
        issue = self._new_issue(body["title"], body.get("body") or "", body.get("labels") or [], self.login)
        return 201, issue, {}

    def _get_issue(self, number: str, _query: dict[str, str], _body: Any, _path: str) -> Any:
        return 200, self._issue(number), {}

    def _update_issue(self, number: str, _query: dict[str, str], body: Any, _path: str) -> Any:
        issue = self._issue(number)
        if body.get("state") not in (None, "open", "closed"):
            raise Reply(422, "Validation Failed", errors=[{"resource": "Issue", "code": "invalid", "field": "state"}])
        self._check_lengths("Issue", body)
        issue.update({key: body[key] for key in ("title", "body", "state", "state_reason") if key in body})
        if "labels" in body:
            issue["labels"] = [self._label(name) for name in body["labels"]]
        if body.get("state") == "closed":
            issue["state_reason"] = issue["state_reason"] or "completed"
            issue["closed_at"] = self._stamp()["updated_at"]
        elif body.get("state") == "open":
            issue.update(closed_at=None, state_reason=body.get("state_reason", "reopened"))
        issue["updated_at"] = self._stamp()["updated_at"]
        return 200, issue, {}

    def _list_labels(self, query: dict[str, str], _body: Any, path: str) -> Any:
        return 200, *self._page(list(self.labels.values()), path, query)

    def _create_label(self, _query: dict[str, str], body: Any, _path: str) -> Any:
        name = body.get("name", "") if isinstance(body, dict) else ""
        if not name:
            raise Reply(422, "Validation Failed", errors=[{"resource": "Label", "code": "missing_field"}])
        if name.lower() in self.labels:
            raise Reply(422, "Validation Failed", errors=[{"resource": "Label", "code": "already_exists"}])
        return 201, self._label(name, body.get("color", "ededed"), body.get("description", "")), {}

    def _search(self, query: dict[str, str], _body: Any, path: str) -> Any:
        repo, labels, words, in_body = None, [], [], False
        for term in shlex.split(query.get("q", "")):
            key, _, value = term.partition(":")
            if key == "repo":
                repo = value
            elif key == "label":
                labels.append(value.lower())
            elif term == "in:body":
                in_body = True
            elif key not in ("is", "in", "state"):
                words.append(term.lower())
        if repo not in (None, self.repository):
            return 200, {"total_count": 0, "incomplete_results": False, "items": []}, {}
        found = []
        for issue in self.issues.values():
            text = issue["body"] if in_body else f"{issue['title']}\n{issue['body']}"
            names = {label["name"].lower() for label in issue["labels"]}
            if set(labels) <= names and all(word in text.lower() for word in words):
                found.append(issue)
        items, headers = self._page(found, path, query)
        return 200, {"total_count": len(found), "incomplete_results": False, "items": items}, headers

    # ---------------------------------------------------------------- dispatch

    def respond(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request in, the status, headers and body sent back (and recorded in ``responses``)."""
        status, extra, payload = self.handle(method, target, headers, raw)
        data = json.dumps(payload).encode()
        sent = {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(data)), **extra}
        with self.lock:
            self.responses.append((status, sent, data))
        return status, sent, data

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        body = json.loads(raw) if raw else None
        with self.lock:
            at = self.clock() if self.clock is not None else None
            self.requests.append(Recorded(method, split.path, query, headers, body, at))
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path.search(split.path):
                    fault.times -= 1
                    if fault.stored:
                        self._route(method, split.path, query, headers, body)
                    return fault.status, fault.headers, fault.body
            return self._route(method, split.path, query, headers, body)

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        for route_method, pattern, route in self.routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                try:
                    status, payload, extra = route(*match.groups(), query, body, path)
                except Reply as reply:
                    return reply.status, {}, reply.body
                return status, extra, payload
        return 404, {}, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body leave in one write (no Nagle/delayed-ACK stall per request)
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, sent, data = self.fake.respond(self.command, self.path, headers, raw)
        self.send_response(status)
        for key, value in sent.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests check that nothing is printed."""
