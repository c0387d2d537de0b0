"""Finding results files: parsed, never sniffed; strays skipped with a reason; copies and stale files left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.synthetic import make_result

from perfgate.contracts import collect
from perfgate.contracts.collect import (
    collect_results,
    collect_results_dir,
    find_results,
    require_results,
)
from perfgate.contracts.gate import GateReport, GateStatus
from perfgate.contracts.results import RunResult
from perfgate.errors import BadFileError, CouldNotMeasure, ExitCode, UsageError
from perfgate.files import dumps_model, size_text, write_model


def write(path: Path, result: RunResult) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_model(path, result)
    return path


def lines(found: collect.Collected) -> list[str]:
    return [s.line for s in found.skipped]


def test_a_results_file_whose_kind_comes_late_is_found_by_any_name(tmp_path):
    # Sorted keys put "kind" after "command", "fingerprint", "host"...: a long command moves it past 4 KiB.
    result = make_result(seed=2).model_copy(update={"command": "perfgate run " + "--scenario x " * 400})
    path = write(tmp_path / "out" / "pr-123.json", result)
    assert path.read_text(encoding="utf-8").index('"kind"') > 4096
    found = find_results([tmp_path / "out"])
    assert [item.path for item in found.loaded] == [path]
    assert found.skipped == ()


def test_perfgate_s_other_files_are_passed_over_quietly(tmp_path):
    write(tmp_path / "results-pro.json", make_result(seed=2))
    report = GateReport(
        perfgate_version="0.1.0", created_at="t", alpha=0.05, status=GateStatus.PASS, exit_code=0,
        headline="h", tiers=(), verdicts=(),
    )  # fmt: skip
    write_model(tmp_path / "gate.json", report)
    found = find_results([tmp_path])
    assert [item.path.name for item in found.loaded] == ["results-pro.json"]
    assert found.skipped == ()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(b"\xff\xfe{}", "skipped: not a results file (not UTF-8: byte 0 is 0xff)", id="not-utf8"),
        pytest.param(b"{not json", "skipped: not a results file (not JSON: key must be a string at line 1 column 2)",
                     id="not-json"),
        pytest.param(b"[" * 5000 + b"]" * 5000, "skipped: not a results file (not JSON: recursion limit exceeded "
                     "at line 1 column 202)", id="nested-too-deep"),
        pytest.param(b'{"name": "my-app"}', 'skipped: not a results file (no "kind": "perfgate-results")',
                     id="another-tools-json"),
    ],
)  # fmt: skip
def test_a_stray_json_file_is_skipped_with_one_line_naming_it(tmp_path, content, reason):
    good = write(tmp_path / "results-pro.json", make_result(seed=2))
    stray = tmp_path / "stray.json"
    stray.write_bytes(content)
    found = find_results([tmp_path])
    assert [item.path for item in found.loaded] == [good]
    assert lines(found) == [f"{stray}: {reason}"]


def test_a_file_too_large_to_be_read_is_refused_unread(tmp_path, monkeypatch):
    good = write(tmp_path / "results-pro.json", make_result(seed=2))
    monkeypatch.setattr(collect, "MAX_RESULTS_BYTES", good.stat().st_size)
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(good.stat().st_size + 1)  # sparse, and not JSON: only its size can refuse it
    message = (
        f"{big}: {size_text(big.stat().st_size)}, over the {size_text(good.stat().st_size)} perfgate reads: refused "
        "unread; remove it from the results directory or check that it is the right file"
    )
    # It may be a results file: never skipped quietly. A command reading a directory stops on it...
    with pytest.raises(BadFileError) as raised:
        find_results([tmp_path])
    assert str(raised.value) == message
    # ... and the gate fails its tier, unknown (the file was not read), while gating the others.
    found = collect_results_dir(tmp_path)
    assert [item.path for item in found.loaded] == [good]
    assert [(r.path, r.tier, r.problem.tier, r.problem.message) for r in found.refused] == [
        (big, None, "(unknown tier)", message)
    ]


def test_a_broken_results_file_is_still_an_error_naming_file_and_field(tmp_path):
    path = tmp_path / "pr.json"
    path.write_text('{"kind": "perfgate-results", "schema_version": 2, "tier": 5}', encoding="utf-8")
    with pytest.raises(BadFileError, match=r"pr\.json: invalid results file at field"):
        find_results([tmp_path])


@pytest.mark.parametrize(
    ("tier", "named"),
    [("base", "base"), ("../../etc/passwd", None), ("x\n::error::y", None), (5, None)],
    ids=["a-tier", "a-path", "a-workflow-command", "not-a-string"],
)
def test_the_gate_refuses_a_broken_results_file_as_a_problem_of_the_tier_it_names(tmp_path, tier, named):
    good = write(tmp_path / "pro" / "results-pro.json", make_result(seed=2))
    broken = make_result(seed=3, tier="base").model_dump(mode="json")
    broken["tier"] = tier
    broken["runs"] = "many"  # invalid whatever the tier
    path = tmp_path / "base" / "results-base.json"
    path.parent.mkdir()
    path.write_text(json.dumps(broken), encoding="utf-8")
    found = collect_results_dir(tmp_path)
    assert [item.path for item in found.loaded] == [good]
    [refused] = found.refused
    assert (refused.path, refused.tier) == (path, named)
    assert refused.problem.kind == "bad_input"
    assert refused.problem.tier == (named or "(unknown tier)")
    assert refused.problem.message.startswith(f"{path}: invalid results file at field ")
    assert "\n" not in refused.problem.message  # a hostile tier is quoted (repr), not written out


def test_a_file_without_kind_is_results_when_it_validates_or_is_named_so(tmp_path):
    # A whole results file without "kind" (hand-made) is one under any name.
    data = dumps_model(make_result(seed=2)).replace('"kind": "perfgate-results",\n', "")
    (tmp_path / "hand.json").write_text(data, encoding="utf-8")
    other = tmp_path / "other.json"
    other.write_text('{"schema_version": 2, "tier": "pro"}', encoding="utf-8")
    found = find_results([tmp_path])
    assert [item.path.name for item in found.loaded] == ["hand.json"]
    assert lines(found) == [f'{other}: skipped: not a results file (no "kind": "perfgate-results")']
    # Named results*, a broken one is read as results, and its error names the field.
    other.rename(tmp_path / "results-pro.json")
    with pytest.raises(BadFileError, match=r"results-pro\.json: invalid results file at field"):
        find_results([tmp_path])


def test_a_copy_of_a_run_counts_once(tmp_path):
    result = make_result(seed=2)
    copy = write(tmp_path / "perf-pro-20261127-100000.json", result)  # a report --copy-raw copy, read first
    original = write(tmp_path / "results-pro.json", result)
    found = find_results([tmp_path])
    assert [item.path for item in found.loaded] == [copy]
    assert lines(found) == [f"{original}: left out: a copy of {copy} (the same run); its samples count once"]
    # Another run of the same tier is not a copy, even started the same second.
    write(tmp_path / "results-pro-2.json", make_result(seed=3))
    assert len(find_results([tmp_path]).loaded) == 2


def test_results_from_another_commit_are_stale_and_left_out(tmp_path):
    old = write(tmp_path / "results-base.json", make_result(seed=3, tier="base", created_at="2026-11-20T10:00:00Z"))
    new = write(
        tmp_path / "results-pro.json",
        make_result(seed=2).model_copy(update={"git_sha": "def5678aaaa", "created_at": "2026-11-27T10:00:00Z"}),
    )
    found = find_results([tmp_path])
    assert [item.path for item in found.loaded] == [new]
    assert lines(found) == [
        f"{old}: left out: stale, measured on commit abc1234, the newest results ({new}) on def5678aaaa; "
        "delete it or measure again"
    ]
    # Named on the command line, a file is read as given.
    named = find_results([old, new])
    assert [item.path for item in named.loaded] == [old, new]
    assert named.skipped == ()


def test_a_short_and_a_full_sha_of_one_commit_agree(tmp_path):
    write(tmp_path / "results-base.json", make_result(seed=3, tier="base"))
    write(tmp_path / "results-pro.json", make_result(seed=2).model_copy(update={"git_sha": "abc1234" + "0" * 33}))
    assert len(find_results([tmp_path]).loaded) == 2


def test_without_a_commit_results_a_day_older_than_the_newest_are_stale(tmp_path):
    def at(when: str, tier: str) -> RunResult:
        return make_result(seed=2, tier=tier).model_copy(update={"git_sha": None, "created_at": when})

    old = write(tmp_path / "results-base.json", at("2026-11-20T10:00:00Z", "base"))
    same_day = write(tmp_path / "results-local.json", at("2026-11-27T01:00:00Z", "local"))
    new = write(tmp_path / "results-pro.json", at("2026-11-27T10:00:00Z", "pro"))
    found = find_results([tmp_path])
    assert [item.path for item in found.loaded] == [same_day, new]
    assert lines(found) == [
        f"{old}: left out: stale, measured 2026-11-20T10:00:00Z, 168 h before the newest results ({new}); "
        "delete it or measure again"
    ]


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"^.*nope\.json: no such file or directory$"):
        find_results([tmp_path / "nope.json"])


def test_no_results_at_all_is_could_not_measure(tmp_path):
    with pytest.raises(CouldNotMeasure) as caught:
        require_results(find_results([tmp_path]), [tmp_path])
    assert caught.value.exit_code is ExitCode.COULD_NOT_MEASURE
    assert str(caught.value) == (
        f'{tmp_path}: no results files (*.json with "kind": "perfgate-results"); nothing was measured, so nothing '
        "can pass: run perfgate run first"
    )


def test_a_missing_results_dir_is_a_usage_error_and_is_not_created(tmp_path):
    missing = tmp_path / "perf-resluts"
    with pytest.raises(UsageError) as caught:
        collect_results_dir(missing)
    assert str(caught.value) == (
        f"{missing}: no such directory; --results-dir names the directory the runs wrote results files to"
    )
    assert not missing.exists()
    a_file = write(tmp_path / "results-pro.json", make_result(seed=2))
    with pytest.raises(UsageError, match="not a directory"):
        collect_results_dir(a_file)


def test_the_gate_reads_nested_artifact_folders(tmp_path):
    nested = write(tmp_path / "results-pro" / "results-pro.json", make_result(seed=2))
    assert [item.path for item in collect_results_dir(tmp_path).loaded] == [nested]
    assert find_results([tmp_path]).loaded == ()  # compare and report read a directory's own files


def test_baseline_update_s_collect_still_refuses_nothing(tmp_path):
    with pytest.raises(UsageError, match="no results files found in"):
        collect_results([tmp_path])


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'{"kind": "perfgate-results", "tier": "ba', "not JSON: EOF while parsing a string at line 1 column 40"),
        (b"\xff\xfe{}", "not UTF-8: byte 0 is 0xff"),
    ],
    ids=["truncated", "not-utf8"],
)
def test_a_file_named_results_that_cannot_be_read_is_refused_not_skipped(tmp_path, content, detail):
    good = write(tmp_path / "results-pro.json", make_result(seed=2))
    cut = tmp_path / "results-base.json"
    cut.write_bytes(content)
    stray = tmp_path / "notes.json"
    stray.write_bytes(content)
    found = collect_results_dir(tmp_path)
    assert [item.path for item in found.loaded] == [good]
    assert [(r.path, r.tier, r.problem.message) for r in found.refused] == [
        (cut, None, f"{cut}: results file refused: {detail}")
    ]
    assert [s.path for s in found.skipped] == [stray]  # another name: not claimed, skipped with a line
