"""GitHubClient over httpx.MockTransport (retries, creates never made twice, pacing), and the Actions-event helpers."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from perfgate import __version__
from perfgate.errors import BadFileError, ConfigError, ExitCode, PublishError
from perfgate.publish.actions import (
    default_branch_from_event,
    is_default_branch_run,
    load_event,
    pr_number_from_event,
    run_context,
    run_url,
)
from perfgate.publish.github import GitHubClient

TOKEN = "ghs_T0pSecretTokenValue123"
API = "https://api.github.com"
NOW = 1_700_000_000.0

Step = httpx.Response | Exception


class Script:
    """A MockTransport handler that answers with scripted steps and records every request."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if self.steps else httpx.Response(200, json={})
        if isinstance(step, Exception):
            raise step
        return step


class Sleeps(list[float]):
    """A fake ``sleep`` that records how long it was asked to wait, and the monotonic clock it moves on."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 100.0

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(sleeps: Sleeps) -> Iterator[Callable[..., GitHubClient]]:
    clients: list[httpx.Client] = []

    def make(script: Script, **kwargs: object) -> GitHubClient:
        http = httpx.Client(transport=httpx.MockTransport(script))
        clients.append(http)
        options: dict[str, object] = {
            "token": TOKEN,
            "repository": "acme/app",
            "sleep": sleeps,
            "now": lambda: NOW,
            "clock": sleeps.clock,
        }
        options.update(kwargs)
        return GitHubClient(http, **options)  # type: ignore[arg-type]

    yield make
    for http in clients:
        http.close()


def rate_limited(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"message": "You have exceeded a secondary rate limit."})


def assert_clean(exc: BaseException) -> None:
    """No token anywhere in the error, its cause, or their reprs; one line."""
    texts = [str(exc), repr(exc)]
    if exc.__cause__ is not None:
        texts += [str(exc.__cause__), repr(exc.__cause__)]
    assert all(TOKEN not in text for text in texts), texts
    assert all(TOKEN[4:10] not in text for text in texts), texts  # not even a piece of the secret part
    assert "\n" not in str(exc)


# ---------------------------------------------------------------- requests


def test_every_request_sends_githubs_headers_and_explicit_timeouts(make_client: Callable[..., GitHubClient]) -> None:
    script = Script(httpx.Response(201, json={"id": 5, "body": "hi"}))
    client = make_client(script)

    assert client.create_issue_comment(7, "hi") == {"id": 5, "body": "hi"}

    (request,) = script.requests
    assert request.method == "POST"
    assert str(request.url) == f"{API}/repos/acme/app/issues/7/comments"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"] == f"perfgate/{__version__}"
    assert json.loads(request.content) == {"body": "hi"}
    timeout = request.extensions["timeout"]
    assert timeout["connect"] == 10.0
    assert timeout["read"] == 30.0


def test_update_comment_patches_by_comment_id(make_client: Callable[..., GitHubClient]) -> None:
    script = Script(httpx.Response(200, json={"id": 99, "body": "new"}))
    make_client(script).update_issue_comment(99, "new")
    (request,) = script.requests
    assert (request.method, request.url.path) == ("PATCH", "/repos/acme/app/issues/comments/99")


def test_pagination_follows_link_next_until_the_last_page(make_client: Callable[..., GitHubClient]) -> None:
    page2 = f"{API}/repositories/1/issues/7/comments?per_page=100&page=2"
    page3 = f"{API}/repositories/1/issues/7/comments?per_page=100&page=3"
    script = Script(
        httpx.Response(200, json=[{"id": 1}], headers={"Link": f'<{page2}>; rel="next", <{page3}>; rel="last"'}),
        httpx.Response(200, json=[{"id": 2}], headers={"Link": f'<{page3}>; rel="next", <{page3}>; rel="last"'}),
        httpx.Response(200, json=[{"id": 3}], headers={"Link": f'<{page2}>; rel="prev"'}),
    )

    comments = make_client(script).list_issue_comments(7)

    assert [c["id"] for c in comments] == [1, 2, 3]
    assert [str(r.url) for r in script.requests] == [
        f"{API}/repos/acme/app/issues/7/comments?per_page=100",
        page2,
        page3,
    ]


def test_pagination_refuses_a_next_link_to_another_host(make_client: Callable[..., GitHubClient]) -> None:
    script = Script(httpx.Response(200, json=[], headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'}))
    with pytest.raises(PublishError, match="refusing to follow"):
        make_client(script).list_issue_comments(7)
    assert len(script.requests) == 1


def test_list_issues_filters_pull_requests_and_sends_filters(make_client: Callable[..., GitHubClient]) -> None:
    items = [{"number": 3}, {"number": 2, "pull_request": {"url": "u"}}, {"number": 1}]
    script = Script(httpx.Response(200, json=items))

    issues = make_client(script).list_issues(labels="perfgate,regression", state="open")

    assert [i["number"] for i in issues] == [3, 1]
    params = script.requests[0].url.params
    assert (params["labels"], params["state"], params["per_page"]) == ("perfgate,regression", "open", "100")


def test_create_and_update_issue_send_only_what_was_given(make_client: Callable[..., GitHubClient]) -> None:
    script = Script(httpx.Response(201, json={"number": 4}), httpx.Response(200, json={"number": 4}))
    client = make_client(script)

    client.create_issue("Regression", "details", ["perfgate"])
    client.update_issue(4, state="closed", state_reason="completed")

    assert json.loads(script.requests[0].content) == {"title": "Regression", "body": "details", "labels": ["perfgate"]}
    assert script.requests[1].method == "PATCH"
    assert json.loads(script.requests[1].content) == {"state": "closed", "state_reason": "completed"}
    with pytest.raises(ValueError, match="at least one field"):
        client.update_issue(4)


def test_ensure_label_creates_and_accepts_already_exists(make_client: Callable[..., GitHubClient]) -> None:
    exists = {"message": "Validation Failed", "errors": [{"resource": "Label", "code": "already_exists"}]}
    script = Script(httpx.Response(201, json={"name": "perfgate"}), httpx.Response(422, json=exists))
    client = make_client(script)

    client.ensure_label("perfgate", "#d73a4a", "Performance regression")
    client.ensure_label("perfgate", "d73a4a", "Performance regression")

    assert json.loads(script.requests[0].content) == {
        "name": "perfgate",
        "color": "d73a4a",
        "description": "Performance regression",
    }


def test_ensure_label_other_validation_failure_is_an_error(make_client: Callable[..., GitHubClient]) -> None:
    invalid = {"message": "Validation Failed", "errors": [{"resource": "Label", "code": "invalid", "field": "color"}]}
    with pytest.raises(PublishError, match=r"HTTP 422: Validation Failed invalid"):
        make_client(Script(httpx.Response(422, json=invalid))).ensure_label("perfgate", "nope", "")


# ---------------------------------------------------------------- retries


def test_502_on_a_read_is_retried_after_backoff(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    script = Script(httpx.Response(502, text="<html>bad gateway</html>"), httpx.Response(200, json=[{"id": 1}]))
    assert make_client(script).list_issue_comments(7) == [{"id": 1}]
    assert sleeps == [1.0]
    assert len(script.requests) == 2


def test_persistent_5xx_gives_up_after_max_attempts(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    script = Script(*[httpx.Response(503, json={"message": "Service Unavailable"}) for _ in range(3)])
    with pytest.raises(PublishError) as caught:
        make_client(script, max_attempts=3).list_issue_comments(7)
    assert str(caught.value) == (
        "GitHub GET /repos/acme/app/issues/7/comments still failing after 3 attempts (HTTP 503: Service Unavailable)"
    )
    assert caught.value.exit_code == ExitCode.PUBLISH_FAILED
    assert sleeps == [1.0, 2.0]  # exponential, and no pointless sleep after the last attempt


@pytest.mark.parametrize("status", [403, 429])
def test_retry_after_is_honoured(make_client: Callable[..., GitHubClient], sleeps: Sleeps, status: int) -> None:
    script = Script(rate_limited(status, **{"Retry-After": "7"}), httpx.Response(200, json=[]))
    assert make_client(script).list_issue_comments(7) == []
    assert sleeps == [7.0]


def test_retry_after_as_an_http_date(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    when = httpx.Response(429, headers={"Retry-After": "Tue, 14 Nov 2023 22:13:32 GMT"})  # NOW + 12 s
    make_client(Script(when, httpx.Response(200, json=[]))).list_issue_comments(7)
    assert sleeps == [12.0]


def test_secondary_limit_without_headers_waits_at_least_a_minute(
    make_client: Callable[..., GitHubClient], sleeps: Sleeps
) -> None:
    script = Script(rate_limited(403), rate_limited(429), rate_limited(403), httpx.Response(200, json=[]))
    make_client(script, max_wait_s=150.0).list_issue_comments(7)
    assert sleeps == [60.0, 120.0, 150.0]  # a minute, then exponentially longer, capped


def test_primary_limit_waits_until_reset(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    exhausted = rate_limited(403, **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)})
    make_client(Script(exhausted, httpx.Response(200, json=[]))).list_issue_comments(7)
    assert sleeps == [30.0]


def test_reset_beyond_the_cap_fails_fast_instead_of_sleeping(
    make_client: Callable[..., GitHubClient], sleeps: Sleeps
) -> None:
    exhausted = rate_limited(429, **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 3600)})
    with pytest.raises(PublishError, match=r"rate limited for 3600 s more \(limit 10 s\)"):
        make_client(Script(exhausted, httpx.Response(200, json=[])), max_wait_s=10.0).list_issue_comments(7)
    assert sleeps == []


def test_reset_within_the_cap_is_waited_for(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    soon = rate_limited(429, **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 7)})
    make_client(Script(soon, httpx.Response(200, json=[])), max_wait_s=10.0).list_issue_comments(7)
    assert sleeps == [pytest.approx(7.0, abs=1.0)]


def test_network_error_is_retried_then_succeeds(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    script = Script(httpx.ConnectError("connection refused"), httpx.Response(200, json=[]))
    assert make_client(script).list_issue_comments(7) == []
    assert sleeps == [1.0]


def test_persistent_network_error_becomes_publish_error(
    make_client: Callable[..., GitHubClient], sleeps: Sleeps
) -> None:
    script = Script(*[httpx.ReadTimeout("timed out") for _ in range(5)])
    with pytest.raises(PublishError) as caught:
        make_client(script).list_issue_comments(7)
    assert str(caught.value) == "GitHub GET /repos/acme/app/issues/7/comments failed after 5 attempts: ReadTimeout"
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


# ---------------------------------------------------------------- creates are never made twice


class Finds:
    """A ``find`` for a create: answers from a script, counts how often it was asked."""

    def __init__(self, *answers: dict[str, object] | None) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> dict[str, object] | None:
        self.calls += 1
        return self.answers.pop(0) if self.answers else None


@pytest.mark.parametrize(
    "uncertain",
    [httpx.Response(502, text="<html>bad gateway</html>"), httpx.Response(500, json={}), httpx.ReadTimeout("t")],
    ids=["502", "500", "read-timeout"],
)
def test_an_uncertain_create_is_looked_for_and_adopted_not_sent_again(
    make_client: Callable[..., GitHubClient], sleeps: Sleeps, uncertain: Step
) -> None:
    script = Script(uncertain)
    find = Finds({"number": 12, "title": "stored before the 502"})

    issue = make_client(script).create_issue("Regression", "body", ["perfgate"], find=find)

    assert issue == {"number": 12, "title": "stored before the 502"}
    assert [r.method for r in script.requests] == ["POST"]  # not sent a second time
    assert find.calls == 1
    assert sleeps == [1.0]  # the back-off, before looking


def test_an_uncertain_create_that_is_not_there_is_sent_again(
    make_client: Callable[..., GitHubClient], sleeps: Sleeps
) -> None:
    script = Script(httpx.Response(503, json={}), httpx.Response(201, json={"id": 5}))
    find = Finds(None)

    assert make_client(script).create_issue_comment(7, "hi", find=find) == {"id": 5}

    assert [r.method for r in script.requests] == ["POST", "POST"]
    assert find.calls == 1


def test_an_uncertain_create_without_a_find_is_not_sent_again(
    make_client: Callable[..., GitHubClient], sleeps: Sleeps
) -> None:
    script = Script(httpx.Response(502, json={"message": "Bad Gateway"}), httpx.Response(201, json={"id": 5}))
    with pytest.raises(PublishError) as caught:
        make_client(script).create_issue_comment(7, "hi")
    assert str(caught.value) == (
        "GitHub POST /repos/acme/app/issues/7/comments failed (HTTP 502: Bad Gateway); "
        "not sent again, as GitHub may have stored it"
    )
    assert caught.value.exit_code == ExitCode.PUBLISH_FAILED
    assert len(script.requests) == 1
    assert sleeps == []
    assert_clean(caught.value)


def test_a_create_that_never_left_is_retried_as_usual(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    """A connect error or a rate limit means GitHub never took the create: sending it again is safe."""
    limited = rate_limited(429, **{"Retry-After": "3"})
    script = Script(httpx.ConnectError("refused"), limited, httpx.Response(201, json={"number": 4}))
    find = Finds()

    assert make_client(script).create_issue("t", "b", [], find=find) == {"number": 4}

    assert len(script.requests) == 3
    assert find.calls == 0
    assert sleeps == [1.0, 3.0]


def test_an_uncertain_create_gives_up_after_max_attempts(
    make_client: Callable[..., GitHubClient], sleeps: Sleeps
) -> None:
    script = Script(*[httpx.Response(502, json={"message": "Bad Gateway"}) for _ in range(3)])
    find = Finds(None, None, None)
    with pytest.raises(PublishError, match=r"HTTP 502: Bad Gateway\); gave up after 3 attempts$"):
        make_client(script, max_attempts=3).create_issue("t", "b", [], find=find)
    assert (len(script.requests), find.calls) == (3, 3)  # looked after the last one too
    assert sleeps == [1.0, 2.0, 4.0]


def test_an_uncertain_last_attempt_that_was_stored_is_adopted(
    make_client: Callable[..., GitHubClient], sleeps: Sleeps
) -> None:
    script = Script(httpx.Response(502, json={}), httpx.Response(502, json={}))
    find = Finds(None, {"number": 9})
    assert make_client(script, max_attempts=2).create_issue("t", "b", [], find=find) == {"number": 9}
    assert (len(script.requests), find.calls) == (2, 2)


# ---------------------------------------------------------------- a second between writes


def test_writes_are_a_second_apart_and_reads_are_not_paced(
    make_client: Callable[..., GitHubClient], sleeps: Sleeps
) -> None:
    arrivals: list[tuple[str, float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        arrivals.append((request.method, sleeps.now))
        return httpx.Response(
            200 if request.method == "GET" else 201, json=[] if request.method == "GET" else {"id": 1}
        )

    client = make_client(answer)
    client.create_issue_comment(7, "a")
    client.list_issue_comments(7)
    client.list_issue_comments(7)
    client.update_issue_comment(1, "b")
    sleeps.now += 0.25  # some time passes (a slow render, say): only the rest is waited
    client.update_issue(3, body="c")
    client.create_issue("t", "b", [])

    writes = [at for method, at in arrivals if method != "GET"]
    assert [b - a for a, b in itertools.pairwise(writes)] == [1.0, 1.0, 1.0]
    assert sleeps == [1.0, 0.75, 1.0]
    reads = [at for method, at in arrivals if method == "GET"]
    assert reads == [writes[0], writes[0]]  # a read right after a write does not wait


def test_a_retry_after_backoff_needs_no_extra_pause(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    script = Script(httpx.Response(201, json={"id": 1}), rate_limited(429, **{"Retry-After": "2"}))
    client = make_client(script)
    client.create_issue_comment(7, "a")
    client.update_issue_comment(1, "b")
    assert sleeps == [1.0, 2.0]  # the pause before the PATCH, then Retry-After; the retry waits no more


# ---------------------------------------------------------------- errors that are not retried


def test_401_is_one_line_about_the_token(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    script = Script(httpx.Response(401, json={"message": "Bad credentials"}))
    with pytest.raises(PublishError) as caught:
        make_client(script).list_issue_comments(7)
    assert str(caught.value) == (
        "GitHub rejected the token (HTTP 401: Bad credentials) on GET /repos/acme/app/issues/7/comments"
    )
    assert sleeps == []
    assert_clean(caught.value)


def test_plain_403_names_the_permissions(make_client: Callable[..., GitHubClient], sleeps: Sleeps) -> None:
    script = Script(httpx.Response(403, json={"message": "Resource not accessible by integration"}))
    with pytest.raises(PublishError) as caught:
        make_client(script).create_issue_comment(7, "x")
    message = str(caught.value)
    assert "HTTP 403: Resource not accessible by integration" in message
    assert "needs pull-requests: write / issues: write" in message
    assert sleeps == []
    assert len(script.requests) == 1


def test_404_names_the_path(make_client: Callable[..., GitHubClient]) -> None:
    with pytest.raises(PublishError, match=r"GitHub has no /repos/acme/app/issues/7/comments \(HTTP 404 on POST\)"):
        make_client(Script(httpx.Response(404, json={"message": "Not Found"}))).create_issue_comment(7, "x")


def test_non_json_success_is_a_publish_error(make_client: Callable[..., GitHubClient]) -> None:
    with pytest.raises(PublishError, match="not JSON"):
        make_client(Script(httpx.Response(200, text="<html>"))).create_issue_comment(7, "x")


# ---------------------------------------------------------------- the token stays secret


@pytest.mark.parametrize(
    "steps",
    [
        [httpx.Response(401, json={"message": "Bad credentials"})],
        [httpx.Response(403, json={"message": f"token {TOKEN} lacks scope"})],  # even if a server echoes it
        [httpx.Response(403, json={"message": "x" * 190 + TOKEN})],  # echoed across the 200-character cut
        [httpx.Response(404, json={"message": "Not Found"})],
        [httpx.Response(500, json={"message": TOKEN})] * 5,
        [httpx.ConnectError(f"cannot connect with {TOKEN[:4]}")] * 5,
        [httpx.Response(422, json={"message": TOKEN, "errors": [{"code": TOKEN}]})],
    ],
    ids=["401", "403-echo", "403-long-echo", "404", "500-echo", "network", "422-echo"],
)
def test_token_never_appears_in_errors(make_client: Callable[..., GitHubClient], steps: list[Step]) -> None:
    client = make_client(Script(*steps))
    with pytest.raises(PublishError) as caught:
        client.create_issue(TOKEN[:3], "body", [])
    assert_clean(caught.value)


def test_token_never_appears_in_repr_or_str(make_client: Callable[..., GitHubClient]) -> None:
    client = make_client(Script())
    for text in (repr(client), str(client), f"{client}", repr(vars(client))):
        assert TOKEN not in text
    assert repr(client) == "GitHubClient(repository='acme/app', api_url='https://api.github.com')"


# ---------------------------------------------------------------- from_env


def test_from_env_honours_api_url_and_repository() -> None:
    script = Script(httpx.Response(200, json=[]))
    environ = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": "https://ghe.example.com/api/v3", "GITHUB_REPOSITORY": "o/r"}
    with httpx.Client(transport=httpx.MockTransport(script)) as http:
        client = GitHubClient.from_env(http, environ)
        assert client is not None
        client.list_issue_comments(1)
    assert str(script.requests[0].url) == "https://ghe.example.com/api/v3/repos/o/r/issues/1/comments?per_page=100"


def test_from_env_defaults_and_explicit_repository() -> None:
    with httpx.Client(transport=httpx.MockTransport(Script())) as http:
        client = GitHubClient.from_env(http, {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": "o/r"}, repository="x/y")
    assert client is not None
    assert (client.api_url, client.repository) == ("https://api.github.com", "x/y")


@pytest.mark.parametrize("environ", [{}, {"GITHUB_TOKEN": ""}, {"GITHUB_TOKEN": "  ", "GITHUB_REPOSITORY": "o/r"}])
def test_from_env_without_a_token_is_none(environ: dict[str, str]) -> None:
    with httpx.Client() as http:
        assert GitHubClient.from_env(http, environ) is None


def test_from_env_with_token_but_no_repository_is_a_config_error() -> None:
    with httpx.Client() as http, pytest.raises(ConfigError, match="GITHUB_REPOSITORY"):
        GitHubClient.from_env(http, {"GITHUB_TOKEN": TOKEN})


@pytest.mark.parametrize("repository", ["acme", "acme/app/extra", "acme/app?x=1", ""])
def test_malformed_repository_is_refused(repository: str) -> None:
    with httpx.Client() as http, pytest.raises(ConfigError, match="owner/name"):
        GitHubClient(http, token=TOKEN, repository=repository)


def test_empty_token_is_refused() -> None:
    with httpx.Client() as http, pytest.raises(ConfigError, match="token is empty"):
        GitHubClient(http, token="", repository="acme/app")


# ---------------------------------------------------------------- the Actions event


def write_event(tmp_path: Path, event: object) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    return path


def test_pr_number_from_a_pull_request_event(tmp_path: Path) -> None:
    path = write_event(tmp_path, {"action": "synchronize", "pull_request": {"number": 42}, "number": 42})
    assert pr_number_from_event(None, {"GITHUB_EVENT_PATH": str(path)}) == 42
    assert pr_number_from_event(path, {}) == 42


def test_pr_number_from_an_issue_comment_event(tmp_path: Path) -> None:
    path = write_event(tmp_path, {"issue": {"number": 9, "pull_request": {"url": "u"}}, "comment": {"id": 1}})
    assert pr_number_from_event(path, {}) == 9


@pytest.mark.parametrize(
    "event",
    [{"ref": "refs/heads/main"}, {"pull_request": {"number": True}}, {"pull_request": {"number": "7"}}, {}],
)
def test_pr_number_is_none_when_there_is_no_pull_request(tmp_path: Path, event: dict[str, object]) -> None:
    assert pr_number_from_event(write_event(tmp_path, event), {}) is None


def test_no_event_outside_actions() -> None:
    assert pr_number_from_event(None, {}) is None
    assert load_event(None, {"GITHUB_EVENT_PATH": ""}) == {}


def test_a_broken_event_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(BadFileError, match=r"event\.json: the GitHub event file is not JSON"):
        pr_number_from_event(path, {})
    with pytest.raises(BadFileError, match=r"missing\.json: GitHub event file not found"):
        load_event(tmp_path / "missing.json", {})
    with pytest.raises(BadFileError, match="not a JSON object"):
        load_event(write_event(tmp_path, [1, 2]), {})


def test_default_branch_from_event() -> None:
    assert default_branch_from_event({"repository": {"default_branch": "trunk"}}) == "trunk"
    assert default_branch_from_event({"repository": {"default_branch": ""}}) is None
    assert default_branch_from_event({}) is None


@pytest.mark.parametrize(
    ("event_name", "ref", "expected"),
    [
        ("push", "refs/heads/trunk", True),
        ("workflow_dispatch", "refs/heads/trunk", True),
        ("push", "refs/heads/feature", False),
        ("workflow_dispatch", "refs/heads/feature", False),
        ("push", "refs/tags/trunk", False),
        ("pull_request", "refs/heads/trunk", False),
        ("pull_request_target", "refs/heads/trunk", False),
        ("schedule", "refs/heads/trunk", False),
    ],
)
def test_is_default_branch_run(event_name: str, ref: str, expected: bool) -> None:
    environ = {"GITHUB_EVENT_NAME": event_name, "GITHUB_REF": ref}
    assert is_default_branch_run(environ, {"repository": {"default_branch": "trunk"}}) is expected


def test_is_default_branch_run_needs_to_know_the_default_branch() -> None:
    assert not is_default_branch_run({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"}, {})


def test_run_context_on_a_manual_run_of_the_default_branch_keeps_triage() -> None:
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_SHA": "ab" * 20,
        "GITHUB_RUN_ID": "77",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/app",
    }
    context = run_context(environ, {"repository": {"default_branch": "main"}, "inputs": {}})
    assert context.is_default_branch
    assert context.url == "https://github.com/acme/app/actions/runs/77"
    pull = {**environ, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/7/merge"}
    assert not run_context(pull, {"repository": {"default_branch": "main"}}).is_default_branch


def test_run_url_needs_all_three_parts() -> None:
    assert run_url({"GITHUB_SERVER_URL": "https://ghe.example/", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "5"}) == (
        "https://ghe.example/o/r/actions/runs/5"
    )
    assert run_url({"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "5"}) is None
