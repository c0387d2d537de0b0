"""Publishing to a pull request: the one sticky comment, and reading the Actions event.

The comment is found again by a hidden HTML marker that perfgate always puts on
its first line, so a re-run edits its summary in place instead of adding
another comment to the thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from perfgate.errors import BadFileError

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


# ---------------------------------------------------------------- the Actions event


def load_event(event_path: Path | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """The webhook payload of the running workflow (``GITHUB_EVENT_PATH``); empty outside Actions."""
    if event_path is None:
        location = environ.get("GITHUB_EVENT_PATH", "").strip()
        if not location:
            return {}
        event_path = Path(location)
    try:
        event = json.loads(event_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadFileError(f"{event_path}: cannot read the GitHub event file ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise BadFileError(f"{event_path}: the GitHub event file is not JSON ({exc})") from exc
    if not isinstance(event, dict):
        raise BadFileError(f"{event_path}: the GitHub event is not a JSON object")
    return event


def pr_number_from_event(event_path: Path | None, environ: Mapping[str, str]) -> int | None:
    """The pull request number (``pull_request.number``, else ``issue.number``), or None."""
    return pr_number(load_event(event_path, environ))


def pr_number(event: Mapping[str, Any]) -> int | None:
    """``pull_request.number`` for pull_request events, ``issue.number`` for issue_comment events."""
    for key in ("pull_request", "issue"):
        section = event.get(key)
        if isinstance(section, dict):
            number = section.get("number")
            if isinstance(number, int) and not isinstance(number, bool) and number > 0:
                return number
    return None


def default_branch_from_event(event: Mapping[str, Any]) -> str | None:
    """``repository.default_branch`` from the event payload, or None."""
    repository = event.get("repository")
    if not isinstance(repository, dict):
        return None
    branch = repository.get("default_branch")
    return branch if isinstance(branch, str) and branch else None


def is_default_branch_push(environ: Mapping[str, str], event: Mapping[str, Any]) -> bool:
    """True for a push to the default branch, where a clean run resolves triage entries."""
    if environ.get("GITHUB_EVENT_NAME") != "push":
        return False
    branch = default_branch_from_event(event)
    return branch is not None and environ.get("GITHUB_REF") == f"refs/heads/{branch}"
