"""The git commands perfgate runs, in one place: HEAD's SHA, a file at a ref, a directory's listing at a ref.

Each runs the user's own ``git`` (as they would) with a timeout, and never a shell.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from perfgate.errors import BadFileError, UsageError

GIT_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class GitOutput:
    returncode: int
    stdout: str
    stderr: str

    def last_error_line(self) -> str:
        return " ".join(self.stderr.split())[:200]


def run_git(*args: str, cwd: Path | None = None, timeout: float = GIT_TIMEOUT_S) -> GitOutput:
    """``git ARGS``; OSError/timeouts are raised as ``OSError``/``subprocess.SubprocessError`` for the caller."""
    proc = subprocess.run(
        ["git", *args],  # noqa: S607 -- the user's git from PATH, as they would run it
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return GitOutput(proc.returncode, proc.stdout, proc.stderr)


def git_sha(cwd: Path | None = None) -> str | None:
    """HEAD's SHA when inside a git work tree; None otherwise (not an error)."""
    try:
        out = run_git("rev-parse", "HEAD", cwd=cwd, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def git_show(ref: str, path: str, cwd: Path | None = None) -> str | None:
    """The file's text at ``ref``, or None when it did not exist there."""
    # "REF:./rel" resolves from the working directory, as `git ls-tree` and the file system do;
    # "REF:path" would resolve from the repository root (wrong for absolute paths and subdirectories).
    rel = Path(os.path.relpath(path, cwd or Path.cwd())).as_posix()
    try:
        out = run_git("show", f"{ref}:./{rel}", cwd=cwd)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BadFileError(f"cannot run git to read {path} at {ref}: {exc}") from exc
    if out.returncode != 0:
        if "does not exist" in out.stderr or "exists on disk, but not in" in out.stderr:
            return None
        raise BadFileError(f"git cannot read {path} at {ref}: {out.last_error_line()}")
    return out.stdout


def git_ls(ref: str, directory: Path) -> set[str]:
    """Names of the ``*.json`` files in ``directory`` at ``ref``."""
    try:
        out = run_git("ls-tree", "--name-only", ref, f"{directory.as_posix()}/")
    except (OSError, subprocess.SubprocessError) as exc:
        raise BadFileError(f"cannot run git to list {directory} at {ref}: {exc}") from exc
    if out.returncode != 0:
        raise UsageError(f"git cannot list {directory} at {ref!r}: {out.last_error_line()}")
    return {Path(line).name for line in out.stdout.splitlines() if line.endswith(".json")}
