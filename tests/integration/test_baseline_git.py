"""``changed_baselines`` (behind ``perfgate baseline diff``) against real git repositories.

(Moved from tests/unit/test_baseline.py: every test here runs git.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.git import git
from support.synthetic import TYPICAL, make_baseline

from perfgate.commands.baseline import changed_baselines
from perfgate.contracts.baseline import Baseline
from perfgate.errors import BadFileError, UsageError
from perfgate.files import dumps_model, write_model


def baseline(*, seed: int = 1, n: int = 12, ttft: float = 100.0, tier: str = "sim") -> Baseline:
    """A baseline of ``n`` synthetic runs per scenario with a median TTFT of about ``ttft`` ms."""
    return make_baseline(seed=seed, tier=tier, n=n, scale={"ttft_ms": ttft / TYPICAL["ttft_ms"]})


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A git repo: commit 1 has no baselines, commit 2 (HEAD) has sim.json and pro.json."""
    git(tmp_path, "init", "-q")
    (tmp_path / "README.md").write_text("app\n", encoding="utf-8")
    git(tmp_path, "add", "README.md")
    git(tmp_path, "commit", "-q", "-m", "start")
    write_model(tmp_path / "baselines" / "sim.json", baseline(seed=1))
    write_model(tmp_path / "baselines" / "pro.json", baseline(seed=3, tier="pro"))
    git(tmp_path, "add", "baselines")
    git(tmp_path, "commit", "-q", "-m", "baselines")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def by_path(diffs) -> dict[str, object]:
    return {d.path: d for d in diffs}


def test_nothing_changed_reports_nothing(repo):
    assert changed_baselines(Path("baselines"), "HEAD") == []


def test_changed_and_added_baselines_are_reported_unchanged_ones_not(repo):
    write_model(repo / "baselines" / "sim.json", baseline(seed=2, n=15, ttft=130.0))
    write_model(repo / "baselines" / "base.json", baseline(seed=4, tier="base"))
    diffs = by_path(changed_baselines(Path("baselines"), "HEAD"))
    assert sorted(diffs) == ["baselines/base.json", "baselines/sim.json"]
    sim = diffs["baselines/sim.json"]
    assert sim.old is not None
    assert sim.new is not None
    assert sim.old == baseline(seed=1)
    ttft = next(r for r in sim.metrics if r.metric == "ttft_ms")
    assert (ttft.old_n, ttft.new_n) == (12, 15)
    assert ttft.change == pytest.approx(0.30, abs=0.05)
    added = diffs["baselines/base.json"]
    assert added.old is None
    assert added.tier == "base"


def test_deleted_baseline_is_reported(repo):
    (repo / "baselines" / "pro.json").unlink()
    (diff,) = changed_baselines(Path("baselines"), "HEAD")
    assert diff.path == "baselines/pro.json"
    assert diff.new is None
    assert diff.old is not None
    assert diff.tier == "pro"


def test_base_ref_without_the_file_reports_new(repo):
    diffs = by_path(changed_baselines(Path("baselines"), "HEAD~1"))
    assert sorted(diffs) == ["baselines/pro.json", "baselines/sim.json"]
    assert all(d.old is None and d.new is not None for d in diffs.values())


def test_absolute_baselines_dir_reads_the_committed_version(repo):
    write_model(repo / "baselines" / "sim.json", baseline(seed=2, ttft=130.0))
    (diff,) = changed_baselines(repo / "baselines", "HEAD")
    assert diff.old == baseline(seed=1)  # not mistaken for a new file


def test_baselines_dir_from_a_subdirectory(repo, monkeypatch):
    write_model(repo / "baselines" / "sim.json", baseline(seed=2, ttft=130.0))
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    (diff,) = changed_baselines(Path("../baselines"), "HEAD")
    assert diff.old == baseline(seed=1)


def test_project_in_a_repo_subdirectory(tmp_path, monkeypatch):
    # a monorepo: the app (and its pyproject.toml and baselines/) live in app/, perfgate runs there
    git(tmp_path, "init", "-q")
    write_model(tmp_path / "app" / "baselines" / "sim.json", baseline(seed=1))
    git(tmp_path, "add", "app")
    git(tmp_path, "commit", "-q", "-m", "baselines")
    monkeypatch.chdir(tmp_path / "app")
    assert changed_baselines(Path("baselines"), "HEAD") == []
    write_model(tmp_path / "app" / "baselines" / "sim.json", baseline(seed=2, ttft=130.0))
    (diff,) = changed_baselines(Path("baselines"), "HEAD")
    assert diff.old == baseline(seed=1)


def test_unknown_ref_is_a_usage_error(repo):
    with pytest.raises(UsageError, match="no-such-ref") as info:
        changed_baselines(Path("baselines"), "no-such-ref")
    assert info.value.exit_code == 2


def test_corrupt_committed_baseline_names_ref_and_path(repo):
    (repo / "baselines" / "sim.json").write_text("{broken", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "break it")
    write_model(repo / "baselines" / "sim.json", baseline(seed=1))
    with pytest.raises(BadFileError, match=r"HEAD:baselines/sim\.json: baseline file is not valid JSON"):
        changed_baselines(Path("baselines"), "HEAD")


def test_written_text_matches_dumps(repo):
    # what `baseline update` commits is exactly dumps_model's text, so the git diff is the model diff
    assert (repo / "baselines" / "sim.json").read_text(encoding="utf-8") == dumps_model(baseline(seed=1))
