"""Where a gate runs: the GitHub Actions event and environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfgate.errors import BadFileError
from perfgate.files import read_text_limited
from perfgate.provenance import utc_now_iso
from perfgate.triage.policy import RunContext


def load_event(event_path: Path | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """The webhook payload of the running workflow (``GITHUB_EVENT_PATH``); empty outside Actions."""
    if event_path is None:
        location = environ.get("GITHUB_EVENT_PATH", "").strip()
        if not location:
            return {}
        event_path = Path(location)
    text = read_text_limited(event_path, "GitHub event")
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
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


DEFAULT_BRANCH_EVENTS = frozenset({"push", "workflow_dispatch"})
"""The events whose run on the default branch keeps triage: it opens, updates and closes issues."""


def is_default_branch_run(environ: Mapping[str, str], event: Mapping[str, Any]) -> bool:
    """True for a push to the default branch or a manual run of it: where a clean run resolves triage entries."""
    if environ.get("GITHUB_EVENT_NAME") not in DEFAULT_BRANCH_EVENTS:
        return False
    branch = default_branch_from_event(event)
    return branch is not None and environ.get("GITHUB_REF") == f"refs/heads/{branch}"


def run_url(environ: Mapping[str, str]) -> str | None:
    """The run's page (``GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID``), when all are known."""
    run_id = environ.get("GITHUB_RUN_ID")
    server, repo = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None


def run_context(environ: Mapping[str, str], event: Mapping[str, Any]) -> RunContext:
    """Where this gate runs, from the GitHub Actions environment (empty locally)."""
    return RunContext(
        date=utc_now_iso(),
        commit=environ.get("GITHUB_SHA"),
        run_id=environ.get("GITHUB_RUN_ID"),
        url=run_url(environ),
        # Outside GitHub Actions there is no pull request: a local gate with a ledger
        # files and resolves like the default branch does.
        is_default_branch=is_default_branch_run(environ, event) or not environ.get("GITHUB_ACTIONS"),
    )
