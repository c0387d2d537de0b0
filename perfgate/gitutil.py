"""The git commands perfgate runs, in one place: HEAD's SHA, a file at a ref, a directory's listing at a ref,
a commit checked out in a temporary worktree (the A/B re-measure's base).

Each runs the user's own ``git`` (as they would) with a timeout, and never a shell.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from perfgate.errors import BadFileError, CouldNotMeasure, UsageError

GIT_TIMEOUT_S = 20.0
# Checking a commit out writes every tracked file: a large repository takes a while.
CHECKOUT_TIMEOUT_S = 600.0
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")


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


def _git_or_error(*args: str, cwd: Path | None, timeout: float = GIT_TIMEOUT_S) -> GitOutput:
    try:
        return run_git(*args, cwd=cwd, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CouldNotMeasure(f"cannot run git {args[0]}: {exc}") from exc


def checkout_root(cwd: Path) -> tuple[Path, str]:
    """The work tree's top directory and ``cwd``'s path inside it (``""`` at the top); UsageError outside git."""
    out = _git_or_error("rev-parse", "--show-toplevel", "--show-prefix", cwd=cwd)
    lines = out.stdout.splitlines()
    if out.returncode != 0 or not lines:
        raise UsageError(f"{cwd} is not inside a git checkout: the A/B re-measure checks the base commit out with git")
    return Path(lines[0]), lines[1] if len(lines) > 1 else ""


def resolve_commit(ref: str, cwd: Path) -> str | None:
    """The full SHA of the commit ``ref`` names, or None when this clone does not have it."""
    if not ref or ref.startswith("-"):  # never read by git as an option
        return None
    out = _git_or_error("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=cwd)
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and _SHA.fullmatch(sha) else None


def looks_like_sha(text: str) -> bool:
    return bool(_SHA.fullmatch(text))


def has_local_changes(cwd: Path) -> bool:
    """Whether tracked files differ from HEAD (untracked files do not count: the base checkout lacks them too)."""
    out = _git_or_error("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return out.returncode == 0 and bool(out.stdout.strip())


@contextlib.contextmanager
def detached_worktree(sha: str, cwd: Path) -> Iterator[Path]:
    """``sha`` checked out in a temporary ``git worktree`` (detached); removed on the way out, however it ends.

    The worktree shares the repository's objects, so it costs one checkout and
    no clone; git's own record of it is pruned afterwards too.
    """
    holder = Path(tempfile.mkdtemp(prefix="perfgate-base-"))
    path = holder / "checkout"
    try:
        out = _git_or_error("worktree", "add", "--detach", str(path), sha, cwd=cwd, timeout=CHECKOUT_TIMEOUT_S)
        if out.returncode != 0:
            raise CouldNotMeasure(f"git cannot check out {sha[:12]} in a temporary worktree: {out.last_error_line()}")
        yield path
    finally:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            # --force twice: also when the app left files behind, or git marked the worktree locked.
            run_git("worktree", "remove", "--force", "--force", str(path), cwd=cwd, timeout=CHECKOUT_TIMEOUT_S)
        shutil.rmtree(holder, ignore_errors=True)
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            run_git("worktree", "prune", cwd=cwd)
