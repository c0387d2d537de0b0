"""The git commands perfgate runs, in one place."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from perfgate.errors import BadFileError, UsageError


def git_show(ref: str, path: str, cwd: Path | None = None) -> str | None:
    """The file's text at ``ref``, or None when it did not exist there."""
    # "REF:./rel" resolves from the working directory, as `git ls-tree` and the file system do;
    # "REF:path" would resolve from the repository root (wrong for absolute paths and subdirectories).
    rel = Path(os.path.relpath(path, cwd or Path.cwd())).as_posix()
    try:
        proc = subprocess.run(
            ["git", "show", f"{ref}:./{rel}"],  # noqa: S607 -- the user's git, as they would run it
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BadFileError(f"cannot run git to read {path} at {ref}: {exc}") from exc
    if proc.returncode != 0:
        if "does not exist" in proc.stderr or "exists on disk, but not in" in proc.stderr:
            return None
        raise BadFileError(f"git cannot read {path} at {ref}: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout


def git_ls(ref: str, directory: Path) -> set[str]:
    try:
        proc = subprocess.run(
            ["git", "ls-tree", "--name-only", ref, f"{directory.as_posix()}/"],  # noqa: S607 -- the user's git
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BadFileError(f"cannot run git to list {directory} at {ref}: {exc}") from exc
    if proc.returncode != 0:
        raise UsageError(f"git cannot list {directory} at {ref!r}: {' '.join(proc.stderr.split())[:200]}")
    return {Path(line).name for line in proc.stdout.splitlines() if line.endswith(".json")}


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
