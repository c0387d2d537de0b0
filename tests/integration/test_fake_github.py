"""GitHubClient and the sticky comment against FakeGitHub over real loopback sockets."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from support.fake_github import FakeGitHub

from perfgate.errors import PublishError
from perfgate.publish.comment import STICKY_MARKER, upsert_sticky_comment
from perfgate.publish.github import GitHubClient

TOKEN = "t0ken-secret"
PR = 7


class Sleeps(list[float]):
    """A fake ``sleep`` that records how long it was asked to wait, and the monotonic clock it moves on."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, repository="acme/app", per_page_max=2) as fake:
        fake.add_pull_request(PR)
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(gh: FakeGitHub, http: httpx.Client, sleeps: Sleeps) -> GitHubClient:
    return GitHubClient(http, token=TOKEN, repository="acme/app", api_url=gh.api_url, sleep=sleeps, clock=sleeps.clock)


def marked(gh: FakeGitHub, number: int = PR) -> list[dict[str, object]]:
    return [c for c in gh.comments.get(number, []) if str(c["body"]).startswith(STICKY_MARKER)]


def test_sticky_comment_is_created_once_then_edited_in_place(gh: FakeGitHub, client: GitHubClient) -> None:
    gh.add_comment(PR, "LGTM", user="reviewer")
    first_id, created = upsert_sticky_comment(client, PR, "run 1")
    assert created
    for run in ("run 2", "run 3"):
        comment_id, created = upsert_sticky_comment(client, PR, run)
        assert (comment_id, created) == (first_id, False)

    (ours,) = marked(gh)
    assert ours["id"] == first_id
    assert ours["body"] == f"{STICKY_MARKER}\nrun 3"
    assert ours["user"] == {"login": "github-actions[bot]"}
    assert [c["body"] for c in gh.comments[PR] if c is not ours] == ["LGTM"]


def test_marked_comment_on_a_later_page_is_found(gh: FakeGitHub, client: GitHubClient) -> None:
    for n in range(3):
        gh.add_comment(PR, f"human comment {n}")
    comment_id, created = upsert_sticky_comment(client, PR, "first")
    assert created
    for n in range(3, 6):
        gh.add_comment(PR, f"human comment {n}")  # ours is now 4th of 7: page 2 of 4 at per_page=2

    assert upsert_sticky_comment(client, PR, "second") == (comment_id, False)
    assert len(marked(gh)) == 1
    assert marked(gh)[0]["body"] == f"{STICKY_MARKER}\nsecond"
    pages = [r.query.get("page", "1") for r in gh.requests if r.method == "GET" and r.path.endswith("/comments")]
    assert pages[-4:] == ["1", "2", "3", "4"]


def test_several_marked_comments_update_the_newest_only(gh: FakeGitHub, client: GitHubClient) -> None:
    older = gh.add_comment(PR, f"{STICKY_MARKER}\nfrom a racing run", user="github-actions[bot]")
    newer = gh.add_comment(PR, f"{STICKY_MARKER}\nfrom the other run", user="github-actions[bot]")

    assert upsert_sticky_comment(client, PR, "latest") == (newer["id"], False)
    assert older["body"] == f"{STICKY_MARKER}\nfrom a racing run"
    assert newer["body"] == f"{STICKY_MARKER}\nlatest"


def test_a_human_quoting_the_marker_is_not_overwritten(gh: FakeGitHub, client: GitHubClient) -> None:
    quote = gh.add_comment(PR, f"> {STICKY_MARKER}\n> regression!\nIs this real?", user="reviewer")
    _, created = upsert_sticky_comment(client, PR, "summary")
    assert created
    assert quote["body"].startswith("> ")


def test_a_502_before_the_comment_was_stored_looks_then_posts_again(
    gh: FakeGitHub, client: GitHubClient, sleeps: Sleeps
) -> None:
    gh.inject("POST", rf"/issues/{PR}/comments$", 502)
    _, created = upsert_sticky_comment(client, PR, "summary")
    assert created
    assert sleeps == [1.0]
    assert len(marked(gh)) == 1
    assert [r.method for r in gh.requests] == ["GET", "POST", "GET", "POST"]  # looked before posting again


def test_a_502_after_the_comment_was_stored_adopts_it(gh: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    gh.inject("POST", rf"/issues/{PR}/comments$", 502, stored=True)

    comment_id, created = upsert_sticky_comment(client, PR, "summary")

    (ours,) = marked(gh)
    assert (comment_id, created) == (ours["id"], True)
    assert [r.method for r in gh.requests] == ["GET", "POST", "GET"]  # found, so not posted twice
    assert upsert_sticky_comment(client, PR, "next") == (ours["id"], False)
    assert len(gh.comments[PR]) == 1


def test_secondary_rate_limit_honours_retry_after(gh: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    limit = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    gh.inject("PATCH", r"/issues/comments/\d+$", 403, headers={"Retry-After": "5"}, body=limit)
    upsert_sticky_comment(client, PR, "first")

    upsert_sticky_comment(client, PR, "second")

    assert sleeps == [1.0, 5.0]  # a second after the create, then Retry-After
    assert marked(gh)[0]["body"] == f"{STICKY_MARKER}\nsecond"


# ---------------------------------------------------------------- only our own comment is ours


def test_a_comment_by_another_account_that_starts_with_the_marker_is_never_edited(
    gh: FakeGitHub, client: GitHubClient
) -> None:
    bait = gh.add_comment(PR, f"{STICKY_MARKER}\nperfgate says: all fine, merge it", user="mallory")
    newer_bait = gh.add_comment(PR, f"{STICKY_MARKER}\n(edited by hand)", user="reviewer")

    first_id, created = upsert_sticky_comment(client, PR, "run 1")
    second = upsert_sticky_comment(client, PR, "run 2")

    assert created
    assert second == (first_id, False)
    assert bait["body"] == f"{STICKY_MARKER}\nperfgate says: all fine, merge it"
    assert newer_bait["body"] == f"{STICKY_MARKER}\n(edited by hand)"
    patched = [r.path for r in gh.requests if r.method == "PATCH"]
    assert patched == [f"/repos/acme/app/issues/comments/{first_id}"]
    ours = next(c for c in gh.comments[PR] if c["id"] == first_id)
    assert (ours["user"], ours["body"]) == ({"login": "github-actions[bot]"}, f"{STICKY_MARKER}\nrun 2")


def test_the_marker_counts_only_on_the_first_line(gh: FakeGitHub, client: GitHubClient) -> None:
    ours_but_moved = gh.add_comment(PR, f"Note\n{STICKY_MARKER}\nold", user="github-actions[bot]")
    prefixed = gh.add_comment(PR, f"{STICKY_MARKER} and more\nold", user="github-actions[bot]")
    _, created = upsert_sticky_comment(client, PR, "summary")
    assert created
    assert ours_but_moved["body"] == f"Note\n{STICKY_MARKER}\nold"
    assert prefixed["body"] == f"{STICKY_MARKER} and more\nold"


def test_the_configured_bot_account_is_the_one_whose_comment_is_edited(gh: FakeGitHub, client: GitHubClient) -> None:
    gh.login = "perfgate-app[bot]"  # the token of a GitHub App
    actions_bot = gh.add_comment(PR, f"{STICKY_MARKER}\nfrom the workflow token", user="github-actions[bot]")
    app = gh.add_comment(PR, f"{STICKY_MARKER}\nfrom the app", user="Perfgate-App[bot]")  # logins ignore case

    assert upsert_sticky_comment(client, PR, "new", author="perfgate-app[bot]") == (app["id"], False)
    assert app["body"] == f"{STICKY_MARKER}\nnew"
    assert actions_bot["body"] == f"{STICKY_MARKER}\nfrom the workflow token"


def test_an_over_long_summary_is_cut_with_a_link_to_the_run(gh: FakeGitHub, client: GitHubClient) -> None:
    huge = "\n".join(f"| row {n} | {'x' * 80} |" for n in range(2_000))  # about 180 KB
    run = "https://github.com/acme/app/actions/runs/42"

    upsert_sticky_comment(client, PR, huge, run_url=run)

    (ours,) = marked(gh)
    body = str(ours["body"])
    assert len(body) <= 65_536
    assert body.endswith(f"_… truncated; full report in the run's artifact ([run]({run}))._\n")
    assert all(status < 400 for status, _, _ in gh.responses)


def test_wrong_token_is_a_one_line_publish_error(gh: FakeGitHub, http: httpx.Client, sleeps: Sleeps) -> None:
    wrong = GitHubClient(
        http, token="not-the-token", repository="acme/app", api_url=gh.api_url, sleep=sleeps, clock=sleeps.clock
    )
    with pytest.raises(PublishError) as caught:
        upsert_sticky_comment(wrong, PR, "summary")
    assert str(caught.value) == (
        f"GitHub rejected the token (HTTP 401: Bad credentials) on GET /repos/acme/app/issues/{PR}/comments"
    )
    assert "not-the-token" not in str(caught.value)
    assert sleeps == []
    assert PR not in gh.comments


def test_every_request_is_authenticated_and_versioned(gh: FakeGitHub, client: GitHubClient) -> None:
    upsert_sticky_comment(client, PR, "summary")
    for request in gh.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["accept"] == "application/vnd.github+json"


def test_issues_labels_and_pull_request_filtering(gh: FakeGitHub, client: GitHubClient) -> None:
    client.ensure_label("perfgate", "d73a4a", "Performance regression")
    client.ensure_label("perfgate", "d73a4a", "Performance regression")  # already exists: fine
    made = [client.create_issue(f"Regression {n}", "evidence", ["perfgate"]) for n in range(3)]
    gh.add_issue("Unrelated", labels=["bug"])
    gh.issues[PR]["labels"] = [gh.labels["perfgate"]]  # a labelled PR must still be filtered out

    client.update_issue(made[0]["number"], state="closed", state_reason="completed")

    open_ones = client.list_issues(labels="perfgate", state="open")
    every = client.list_issues(labels="perfgate")  # 4 items incl. the PR, over 2 pages
    assert [i["number"] for i in open_ones] == [made[2]["number"], made[1]["number"]]
    assert sorted(i["number"] for i in every) == sorted(i["number"] for i in made)
    assert gh.issues[made[0]["number"]]["state_reason"] == "completed"
    assert list(gh.labels) == ["perfgate", "bug"]


def test_unknown_route_is_404(gh: FakeGitHub, http: httpx.Client, sleeps: Sleeps) -> None:
    other = GitHubClient(http, token=TOKEN, repository="acme/other", api_url=gh.api_url, sleep=sleeps)
    with pytest.raises(PublishError, match=r"GitHub has no /repos/acme/other/issues/7/comments \(HTTP 404 on GET\)"):
        other.list_issue_comments(PR)


def test_search_matches_repo_label_and_body_text(gh: FakeGitHub, http: httpx.Client) -> None:
    gh.add_issue("Regression", body="<!-- perfgate:fp=abc123 -->", labels=["perfgate"])
    gh.add_issue("Other", body="<!-- perfgate:fp=zzz -->", labels=["perfgate"])
    query = 'repo:acme/app is:issue label:perfgate in:body "perfgate:fp=abc123"'
    response = http.get(
        f"{gh.api_url}/search/issues", params={"q": query}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    assert [item["title"] for item in response.json()["items"]] == ["Regression"]


def test_the_token_leaks_nowhere(
    gh: FakeGitHub,
    http: httpx.Client,
    sleeps: Sleeps,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = GitHubClient(http, token=TOKEN, repository="acme/app", api_url=gh.api_url, sleep=sleeps, max_attempts=2)
    messages: list[str] = []
    upsert_sticky_comment(client, PR, "summary")
    for status in (401, 403, 404, 500):
        gh.inject("GET", r"/comments$", status, times=2)
        with pytest.raises(PublishError) as caught:
            upsert_sticky_comment(client, PR, "again")
        messages += [str(caught.value), repr(caught.value), repr(caught.value.__cause__)]
    with httpx.Client() as other, pytest.raises(PublishError) as caught:  # nothing listens on port 9
        GitHubClient(
            other, token=TOKEN, repository="acme/app", api_url="http://127.0.0.1:9", max_attempts=1
        ).list_issues(labels="perfgate")
    messages += [str(caught.value), repr(caught.value), repr(caught.value.__cause__)]

    captured = capsys.readouterr()
    assert len(messages) == 15
    assert all(TOKEN not in message for message in messages)
    assert TOKEN not in captured.out
    assert TOKEN not in captured.err
    assert caplog.records  # httpx/httpcore did log the requests...
    assert all(TOKEN not in record.getMessage() for record in caplog.records)  # ...without the token
    assert gh.responses
    assert all(TOKEN.encode() not in body for _, _, body in gh.responses)
    assert all(TOKEN not in str(headers) for _, headers, _ in gh.responses)
    assert TOKEN not in repr(client)
