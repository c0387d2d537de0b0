"""The one sticky PR comment, found again by its author and marker and edited in place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from perfgate.publish.github import DEFAULT_BOT_LOGIN, Finder, authored_by
from perfgate.publish.limits import fit_body

STICKY_MARKER = "<!-- perfgate:summary -->"


class CommentsAPI(Protocol):
    """The part of ``GitHubClient`` the sticky comment needs (a fake satisfies it in tests)."""

    def list_issue_comments(self, number: int) -> list[dict[str, Any]]: ...

    def create_issue_comment(self, number: int, body: str, *, find: Finder | None = None) -> dict[str, Any]: ...

    def update_issue_comment(self, comment_id: int, body: str) -> dict[str, Any]: ...


def with_marker(body: str, marker: str = STICKY_MARKER) -> str:
    """The comment text as posted: the marker on the first line, then the body."""
    return body if body.startswith(marker + "\n") else f"{marker}\n{body}"


def is_marked(comment: Mapping[str, Any], marker: str = STICKY_MARKER) -> bool:
    """The comment's first line is the marker, and nothing else.

    Only the first line counts, so a person who quotes or pastes the marker
    anywhere in their own comment never makes it look like perfgate's.
    """
    body = comment.get("body")
    return isinstance(body, str) and body.replace("\r\n", "\n").split("\n", 1)[0].strip() == marker


def _newest(comments: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(comments, key=lambda c: (str(c.get("created_at") or ""), int(c["id"])), default=None)


def upsert_sticky_comment(
    client: CommentsAPI,
    pr_number: int,
    body: str,
    marker: str = STICKY_MARKER,
    *,
    author: str = DEFAULT_BOT_LOGIN,
    run_url: str | None = None,
) -> tuple[int, bool]:
    """Edit perfgate's earlier comment on the PR, or create it; return ``(comment id, created)``.

    perfgate's comment is one that ``author`` (the configured bot account) wrote
    and whose first line is the marker: a comment by anyone else is never edited,
    whatever it starts with. Every page of comments is searched, so a long review
    thread does not hide the earlier summary. If several of ours exist (two runs
    raced between the search and the create), the newest is updated and the
    others are left alone: deleting them would race the other writer (each run
    could delete the other's comment and leave none). A create whose answer was
    lost (a 502, a timeout) is looked for before it is sent again, so it is not
    made twice. The body is cut below GitHub's 65,536 characters, with a note
    linking the run (``run_url``).
    """
    text = fit_body(with_marker(body, marker), run_url)

    def ours() -> dict[str, Any] | None:
        return _newest(
            [c for c in client.list_issue_comments(pr_number) if authored_by(c, author) and is_marked(c, marker)]
        )

    existing = ours()
    if existing is not None:
        updated = client.update_issue_comment(int(existing["id"]), text)
        return int(updated["id"]), False
    created = client.create_issue_comment(pr_number, text, find=ours)
    return int(created["id"]), True
