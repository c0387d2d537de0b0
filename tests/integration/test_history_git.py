"""`perfgate history push`: the store on a branch of a real (local, bare) repository, two writers racing."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
from support.cli import clean_env
from support.cli import perfgate as run_perfgate
from support.git import HERMETIC, git
from support.synthetic import make_result, summarised

from perfgate.contracts.results import LoadedResults
from perfgate.history.gitstore import push_store
from perfgate.history.store import RunInfo, record

BRANCH = "perfgate-history"


def listing(bare: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", BRANCH],
        cwd=bare,
        env={**os.environ, **HERMETIC},
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(out.stdout.split())


@pytest.fixture
def remote(tmp_path, monkeypatch) -> Path:
    """A bare repository with one commit on main, as a project's origin; git's identity made hermetic."""
    for key, value in HERMETIC.items():
        monkeypatch.setenv(key, value)
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(bare), str(seed))
    (seed / "README").write_text("app\n", encoding="utf-8")
    git(seed, "add", "README")
    git(seed, "commit", "--quiet", "-m", "first")
    git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    return bare


def clone(remote: Path, where: Path) -> Path:
    git(remote.parent, "clone", "--quiet", str(remote), str(where))
    return where


def store_with(where: Path, *seeds: int) -> Path:
    """A store holding one entry per seed (a run each, a day apart)."""
    results = [
        LoadedResults(
            Path(f"r{seed}.json"),
            summarised(make_result(seed=seed, tier="pro", n=3, created_at=f"2026-11-{seed:02d}T10:00:00Z")).model_copy(
                update={"git_sha": f"{seed:02d}".ljust(40, "c")}
            ),
        )
        for seed in seeds
    ]
    record(where, results, RunInfo(recorded_at="2026-12-01T00:00:00Z", branch="main"))
    return where


def test_the_first_push_creates_the_branch_and_a_second_adds_only_new_entries(remote, tmp_path):
    repo = clone(remote, tmp_path / "a")
    store = store_with(tmp_path / "store", 1, 2)
    first = push_store(store, branch=BRANCH, repo=repo)
    assert len(first.added) == 2
    assert first.attempts == 1
    assert listing(remote) == [f"pro/{p.name}" for p in sorted((store / "pro").iterdir())]
    store_with(store, 3)
    second = push_store(store, branch=BRANCH, repo=repo)
    assert len(second.added) == 1
    assert len(listing(remote)) == 3
    assert push_store(store, branch=BRANCH, repo=repo).added == ()
    # The project's own branches and working tree are untouched; no worktree is left registered.
    assert (repo / "README").is_file()
    assert not (repo / "pro").exists()
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True, check=True)
    assert len(worktrees.stdout.splitlines()) == 1


@pytest.mark.parametrize("branch_exists", [True, False], ids=["onto-the-branch", "both-creating-it"])
def test_a_push_that_loses_the_race_rebases_and_pushes_again(remote, tmp_path, branch_exists):
    a, b = clone(remote, tmp_path / "a"), clone(remote, tmp_path / "b")
    store_a, store_b = store_with(tmp_path / "sa", 1), store_with(tmp_path / "sb", 2)
    if branch_exists:
        push_store(store_a, branch=BRANCH, repo=a)
    store_with(store_a, 3)

    def other_writer_wins(attempt: int) -> None:
        if attempt == 1:  # B has fetched and committed; A pushes before B does
            push_store(store_a, branch=BRANCH, repo=a)

    result = push_store(store_b, branch=BRANCH, repo=b, before_push=other_writer_wins)
    assert result.attempts == 2
    names = listing(remote)
    assert len(names) == 3  # A's two and B's one: nothing lost, nothing conflicted
    assert all(f"pro/{p.name}" in names for p in (store_b / "pro").iterdir())


def test_two_writers_racing_for_real_both_land(remote, tmp_path):
    repos = [clone(remote, tmp_path / f"w{i}") for i in range(2)]
    stores = [store_with(tmp_path / f"s{i}", 10 + i, 20 + i) for i in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(i: int) -> None:
        try:
            start.wait()
            push_store(stores[i], branch=BRANCH, repo=repos[i])
        except BaseException as exc:  # noqa: BLE001 -- reported by the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(listing(remote)) == 4


def test_the_cli_pushes_and_says_what_it_did(remote, tmp_path):
    repo = clone(remote, tmp_path / "a")
    store = store_with(tmp_path / "store", 1)
    env = clean_env(**HERMETIC)
    proc = run_perfgate("history", "push", "--store", store, "--branch", BRANCH, cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"pushed 1 entry to origin {BRANCH}"
    again = run_perfgate("history", "push", "--store", store, "--branch", BRANCH, cwd=repo, env=env)
    assert again.returncode == 0, again.stderr
    assert "already holds every entry" in again.stdout
    outside = run_perfgate("history", "push", "--store", store, cwd=tmp_path, env=env)
    assert outside.returncode == 2
    assert "not a git repository" in outside.stderr
