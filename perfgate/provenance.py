"""Where a result came from: time, commit, command line."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path


def utc_now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def git_sha(cwd: Path | None = None) -> str | None:
    """HEAD's SHA when inside a git work tree; None otherwise (not an error)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 -- git from PATH is what the user runs too
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha or None


def command_line(argv: Sequence[str]) -> str:
    """The command as a user could paste it back into a shell."""
    return shlex.join(["perfgate", *argv])
