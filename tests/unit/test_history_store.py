"""The history store's files: names, atomic writes, a newer schema refused, a bad file skipped and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.synthetic import make_result, summarised

from perfgate.contracts.gate import GateReport, GateStatus, Verdict, VerdictKind
from perfgate.contracts.results import LoadedResults
from perfgate.errors import BadFileError, NewerSchemaError, UsageError
from perfgate.history.series import series_from_entries
from perfgate.history.store import (
    RunInfo,
    entry_file_name,
    entry_from_results,
    read_entry,
    read_store,
    record,
    write_entry,
)

SHA = "0123456789abcdef0123456789abcdef01234567"
INFO = RunInfo(recorded_at="2026-12-01T00:00:00Z", branch="main")


def loaded(seed: int = 1, *, git_sha: str | None = SHA, created_at: str = "2026-11-27T10:00:00Z") -> LoadedResults:
    result = summarised(make_result(seed=seed, tier="pro", n=5, created_at=created_at))
    result = result.model_copy(update={"git_sha": git_sha})
    return LoadedResults(Path(f"results-{seed}.json"), result)


def test_an_entry_keeps_each_scenarios_medians_and_values():
    entry = entry_from_results(loaded(), INFO)
    assert entry.commit == SHA
    assert entry.measured_at == "2026-11-27T10:00:00Z"
    ttft = entry.scenarios["short-explain"]["ttft_ms"]
    assert ttft.n == len(ttft.values) == 5
    assert min(ttft.values) <= ttft.median <= max(ttft.values)


def test_the_file_name_is_time_commit_and_run(tmp_path):
    entry = entry_from_results(loaded(), RunInfo(recorded_at="x", run_id="123/4"))
    assert entry_file_name(entry) == "20261127T100000Z-0123456789ab-123-4.json"
    local = entry_file_name(entry_from_results(loaded(), INFO))
    assert local.startswith("20261127T100000Z-0123456789ab-local-")


def test_recording_the_same_results_twice_is_one_file_and_leaves_no_temp_file(tmp_path):
    first = record(tmp_path, [loaded()], INFO)
    again = record(tmp_path, [loaded()], RunInfo(recorded_at="2026-12-02T00:00:00Z", branch="main"))
    assert first == again
    assert sorted(p.name for p in (tmp_path / "pro").iterdir()) == [first[0].name]
    assert read_entry(first[0]).tier == "pro"


def test_the_gates_verdicts_are_kept():
    verdict = Verdict(
        tier="pro",
        scenario="short-explain",
        metric="ttft_ms",
        unit="ms",
        direction="lower",
        informational=False,
        verdict=VerdictKind.UNCHANGED,
        threshold_worse=0.1,
        threshold_better=0.1,
    )
    report = GateReport(
        perfgate_version="0",
        created_at="2026-11-27T10:00:00Z",
        alpha=0.05,
        status=GateStatus.PASS,
        exit_code=0,
        headline="",
        tiers=(),
        verdicts=(verdict,),
    )
    entry = entry_from_results(loaded(), INFO, report)
    assert entry.scenarios["short-explain"]["ttft_ms"].verdict == "unchanged"
    assert entry.scenarios["short-explain"]["e2e_ms"].verdict is None


def test_results_without_a_commit_need_one_named():
    with pytest.raises(UsageError, match=r"results-1\.json: results file has no git_sha.*--commit"):
        entry_from_results(loaded(git_sha=None), INFO)
    assert entry_from_results(loaded(git_sha=None), RunInfo(recorded_at="x", commit="f" * 40)).commit == "f" * 40


def test_a_newer_schema_is_refused_with_upgrade_perfgate(tmp_path):
    path = write_entry(tmp_path, entry_from_results(loaded(), INFO))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["schema_version"] = 99
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(NewerSchemaError, match="upgrade perfgate"):
        read_entry(path)
    with pytest.raises(NewerSchemaError, match=str(path.name)):
        read_store(tmp_path)


def test_a_bad_file_is_named_and_skipped_when_reading_the_store(tmp_path):
    good = write_entry(tmp_path, entry_from_results(loaded(1), INFO))
    write_entry(tmp_path, entry_from_results(loaded(2, created_at="2026-11-28T10:00:00Z"), INFO))
    bad = tmp_path / "pro" / "20261129T000000Z-deadbeef0000-local-x.json"
    bad.write_text('{"schema_version": 1, "kind": "perfgate-history-entry", "tier": "pro"}', encoding="utf-8")
    (tmp_path / "pro" / ".20261130.json.tmp").write_text("half a file", encoding="utf-8")  # a writer at work
    with pytest.raises(BadFileError, match=f"{bad.name}: invalid history entry file at field"):
        read_entry(bad)
    contents = read_store(tmp_path)
    assert [e.measured_at for e in contents.entries] == ["2026-11-27T10:00:00Z", "2026-11-28T10:00:00Z"]
    assert len(contents.skipped) == 1
    assert contents.skipped[0].startswith("warning: skipped ")
    assert bad.name in contents.skipped[0]
    assert "\n" not in contents.skipped[0]
    assert good in contents.files


def test_a_missing_store_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="history store not found"):
        read_store(tmp_path / "nope")


def test_entries_become_series_in_time_order(tmp_path):
    record(tmp_path, [loaded(2, created_at="2026-11-28T10:00:00Z"), loaded(1)], INFO)
    series = series_from_entries(read_store(tmp_path).entries)
    ttft = [key for key in series if key.metric == "ttft_ms"]
    assert len(ttft) == 2
    assert [p.measured_at for p in series[ttft[0]]] == ["2026-11-27T10:00:00Z", "2026-11-28T10:00:00Z"]
