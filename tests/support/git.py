"""git for throw-away repositories: a fixed identity and none of the user's or system's config."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

HERMETIC = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> None:
    """Run ``git args`` in ``repo``; a failure fails the test."""
    subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **HERMETIC}, check=True, capture_output=True, timeout=30
    )
