"""The one sticky PR comment, found again by its marker and edited in place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

STICKY_MARKER = "<!-- perfgate:summary -->"


class CommentsAPI(Protocol):
    """The part of ``GitHubClient`` the sticky comment needs (a fake satisfies it in tests)."""

    def list_issue_comments(self, number: int) -> list[dict[str, Any]]: ...

    def create_issue_comment(self, number: int, body: str) -> dict[str, Any]: ...

    def update_issue_comment(self, comment_id: int, body: str) -> dict[str, Any]: ...


def with_marker(body: str, marker: str = STICKY_MARKER) -> str:
    """The comment text as posted: the marker on the first line, then the body."""
    return body if body.startswith(marker) else f"{marker}\n{body}"


def is_marked(comment: Mapping[str, Any], marker: str = STICKY_MARKER) -> bool:
    """perfgate's own comment starts with the marker.

    Matching only at the start means a person who quotes or pastes the marker
    somewhere in their own comment never has that comment overwritten.
    """
    body = comment.get("body")
    return isinstance(body, str) and body.lstrip().startswith(marker)


def upsert_sticky_comment(
    client: CommentsAPI, pr_number: int, body: str, marker: str = STICKY_MARKER
) -> tuple[int, bool]:
    """Edit perfgate's earlier comment on the PR, or create it; return ``(comment id, created)``.

    Every page of comments is searched, so a long review thread does not hide
    the earlier summary. If several marked comments exist (two runs raced
    between the search and the create), the newest is updated and the others
    are left alone: deleting them would race the other writer (each run could
    delete the other's comment and leave none), and needs more than the
    ``pull-requests: write`` the workflow grants for editing. The next run
    still finds and updates the newest one, so the duplicate stops changing.
    """
    text = with_marker(body, marker)
    marked = [comment for comment in client.list_issue_comments(pr_number) if is_marked(comment, marker)]
    if marked:
        newest = max(marked, key=lambda comment: (str(comment.get("created_at") or ""), int(comment["id"])))
        updated = client.update_issue_comment(int(newest["id"]), text)
        return int(updated["id"]), False
    created = client.create_issue_comment(pr_number, text)
    return int(created["id"]), True
