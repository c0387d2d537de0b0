"""The history store on a git branch of the repository itself: add the new entry files, commit, push, retry.

``perfgate history push --store DIR --branch perfgate-history`` copies the entry files
of ``DIR`` that the branch does not hold yet into a temporary worktree of the branch,
commits them and pushes. Two gate jobs that race both push: the loser's push is refused
as not a fast-forward, so it fetches the branch again, rebases its one commit onto it
(entry files have unique names, so a rebase never conflicts) and pushes again.

Everything runs the user's own ``git`` in the repository (``--repo``, the working
directory by default), so the credentials ``actions/checkout`` left in its config push
the branch. No shell, a timeout on every command.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfgate.errors import PublishError, UsageError
from perfgate.gitutil import GitOutput
from perfgate.history.store import entry_files

GIT_TIMEOUT_S = 120.0  # a fetch or push over the network
IDENTITY = ("-c", "user.name=perfgate", "-c", "user.email=perfgate@users.noreply.github.com")
_REJECTED = ("non-fast-forward", "fetch first", "[rejected]", "cannot lock ref", "failed to update ref")


@dataclass(frozen=True)
class PushResult:
    added: tuple[str, ...]  # store-relative paths committed (empty: the branch held every entry)
    attempts: int  # pushes tried (1 unless another writer raced this one)
    commit: str | None


def _git(*args: str, cwd: Path, timeout: float = GIT_TIMEOUT_S) -> GitOutput:
    try:
        proc = subprocess.run(
            ["git", *args],  # noqa: S607 -- the user's git from PATH, as they would run it
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise PublishError(f"cannot run git {args[0]}: {exc}") from exc
    return GitOutput(proc.returncode, proc.stdout, proc.stderr)


def _checked(*args: str, cwd: Path) -> str:
    out = _git(*args, cwd=cwd)
    if out.returncode != 0:
        raise PublishError(f"git {' '.join(args[:2])} failed: {out.last_error_line()}")
    return out.stdout.strip()


def _fetch(repo: Path, remote: str, branch: str) -> str | None:
    """The branch's tip on the remote, or None when the remote has no such branch yet."""
    listed = _git("ls-remote", "--heads", remote, f"refs/heads/{branch}", cwd=repo)
    if listed.returncode != 0:
        raise PublishError(f"git ls-remote {remote} failed: {listed.last_error_line()}")
    if not listed.stdout.strip():
        return None
    _checked("fetch", "--quiet", "--no-tags", remote, f"refs/heads/{branch}", cwd=repo)
    return _checked("rev-parse", "FETCH_HEAD", cwd=repo)


def _root_commit(repo: Path) -> str:
    """An empty first commit for a branch that does not exist yet."""
    empty_tree = _checked("hash-object", "-t", "tree", "-w", "--stdin", cwd=repo)
    return _checked(*IDENTITY, "commit-tree", empty_tree, "-m", "perfgate history", cwd=repo)


def _copy_new(store: Path, worktree: Path) -> list[str]:
    added: list[str] = []
    for path in entry_files(store):
        rel = path.relative_to(store)
        target = worktree / rel
        if target.exists():
            continue  # an entry's name says what it measured: the same name is the same entry
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        added.append(rel.as_posix())
    return sorted(added)


def _rejected(out: GitOutput) -> bool:
    return out.returncode != 0 and any(marker in out.stderr for marker in _REJECTED)


def push_store(
    store: Path,
    *,
    branch: str,
    remote: str = "origin",
    repo: Path | None = None,
    attempts: int = 5,
    before_push: Callable[[int], None] | None = None,  # tests: lets another writer win the race
) -> PushResult:
    """Commit ``store``'s entries the branch lacks, push, and on a non-fast-forward fetch + rebase + push again."""
    repo = repo or Path.cwd()
    if _git("rev-parse", "--git-dir", cwd=repo).returncode != 0:
        raise UsageError(f"{repo}: not a git repository (push the history store from the project's checkout)")
    entry_files(store)  # a missing store is a usage error before anything is fetched
    tip = _fetch(repo, remote, branch)
    worktree = Path(tempfile.mkdtemp(prefix="perfgate-history-"))
    try:
        _checked("worktree", "add", "--detach", "--quiet", str(worktree), tip or _root_commit(repo), cwd=repo)
        added = _copy_new(store, worktree)
        if not added:
            return PushResult((), 0, tip)
        _checked("add", "--", *added, cwd=worktree)
        message = f"perfgate history: {len(added)} entr{'y' if len(added) == 1 else 'ies'}"
        _checked(*IDENTITY, "commit", "--quiet", "--no-verify", "-m", message, cwd=worktree)
        for attempt in range(1, attempts + 1):
            if before_push is not None:
                before_push(attempt)
            out = _git("push", "--quiet", remote, f"HEAD:refs/heads/{branch}", cwd=worktree)
            if out.returncode == 0:
                return PushResult(tuple(added), attempt, _checked("rev-parse", "HEAD", cwd=worktree))
            if not _rejected(out) or attempt == attempts:
                raise PublishError(f"git push to {remote} {branch} failed: {out.last_error_line()}")
            time.sleep(0.2 * attempt)  # the winner's push is done; a third writer may be at it too
            fetched = _fetch(repo, remote, branch)
            if fetched is None:
                raise PublishError(f"git push to {remote} {branch} was refused, yet the branch is not there")
            rebased = _git(*IDENTITY, "rebase", "--quiet", fetched, cwd=worktree)
            if rebased.returncode != 0:
                _git("rebase", "--abort", cwd=worktree)
                raise PublishError(f"git rebase onto {remote}/{branch} failed: {rebased.last_error_line()}")
        raise AssertionError("unreachable")  # pragma: no cover -- the loop returns or raises
    finally:
        _git("worktree", "remove", "--force", str(worktree), cwd=repo)
        with contextlib.suppress(OSError):
            shutil.rmtree(worktree)
