"""`perfgate history record` and the gate's own recording: what is written where, and what is refused."""

from __future__ import annotations

from pathlib import Path

from support.synthetic import make_result, summarised

from perfgate.cli import main
from perfgate.commands.history import record_gate_run
from perfgate.config import HistoryConfig
from perfgate.contracts.gate import GateReport, GateStatus
from perfgate.contracts.results import LoadedResults
from perfgate.files import write_model
from perfgate.history.store import read_store

SHA = "abcdef0123456789abcdef0123456789abcdef01"
REPORT = GateReport(
    perfgate_version="0",
    created_at="x",
    alpha=0.05,
    status=GateStatus.PASS,
    exit_code=0,
    headline="",
    tiers=(),
    verdicts=(),
)


def result(seed: int, *, git_sha: str | None = SHA, day: int = 1):
    made = summarised(make_result(seed=seed, tier="pro", n=3, created_at=f"2026-11-{day:02d}T10:00:00Z"))
    return made.model_copy(update={"git_sha": git_sha})


def test_record_backfills_every_results_file_under_a_directory(tmp_path, capsys):
    artifacts = tmp_path / "artifacts"
    for day in (1, 2, 3):
        write_model(artifacts / f"run{day}" / "results-pro.json", result(day, day=day))
    (artifacts / "run1" / "gate.json").write_text('{"kind": "perfgate-gate"}', encoding="utf-8")
    assert main(["history", "record", str(artifacts), "--store", str(tmp_path / "store"), "--branch", "main"]) == 0
    assert capsys.readouterr().out.strip() == f"recorded 3 history entries in {tmp_path / 'store'}"
    entries = read_store(tmp_path / "store").entries
    assert [e.measured_at[:10] for e in entries] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert {e.branch for e in entries} == {"main"}


def test_record_refuses_one_commit_for_many_files_and_a_missing_store(tmp_path, capsys):
    for day in (1, 2):
        write_model(tmp_path / f"r{day}.json", result(day, git_sha=None, day=day))
    files = [str(tmp_path / "r1.json"), str(tmp_path / "r2.json")]
    assert main(["history", "record", *files, "--store", str(tmp_path / "s"), "--commit", SHA]) == 2
    assert "--commit names the commit of one results file" in capsys.readouterr().err
    assert main(["--config", str(_empty_config(tmp_path)), "history", "record", files[0]]) == 2
    assert "name the history store" in capsys.readouterr().err
    assert main(["history", "record", files[0], "--store", str(tmp_path / "s")]) == 2
    assert "has no git_sha" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def _empty_config(tmp_path: Path) -> Path:
    path = tmp_path / "perfgate.toml"
    path.write_text("", encoding="utf-8")
    return path


def test_the_gate_records_only_default_branch_runs_into_a_configured_store(tmp_path):
    loaded = [LoadedResults(tmp_path / "r.json", result(1))]
    store = tmp_path / "store"
    configured = HistoryConfig(store=str(store))
    assert record_gate_run(HistoryConfig(), loaded, REPORT, {}, default_branch=True) == []
    assert record_gate_run(configured, loaded, REPORT, {}, default_branch=False) == []
    assert not store.exists()
    environ = {"GITHUB_RUN_ID": "77", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "a/b"}
    assert record_gate_run(configured, loaded, REPORT, environ | {"GITHUB_REF_NAME": "main"}, default_branch=True) == []
    [entry] = read_store(store).entries
    assert entry.run_id == "77"
    assert entry.run_url == "https://github.com/a/b/actions/runs/77"
    assert entry.branch == "main"


def test_a_run_the_gate_cannot_record_is_one_line_and_not_fatal(tmp_path):
    loaded = [LoadedResults(tmp_path / "r.json", result(1, git_sha=None))]
    [line] = record_gate_run(HistoryConfig(store=str(tmp_path / "s")), loaded, REPORT, {}, default_branch=True)
    assert line.startswith("history not recorded: ")
    assert "has no git_sha" in line
