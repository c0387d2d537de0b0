"""The files a run writes: refused before measuring when unwritable, locked against a second writer."""

from __future__ import annotations

import os

import pytest

from perfgate.errors import UsageError
from perfgate.outputs import OutputLock, check_writable, write_fallback


def test_a_directory_is_not_a_results_file(tmp_path):
    with pytest.raises(UsageError) as info:
        check_writable(tmp_path, "--out x")
    assert info.value.message == f"--out x: {tmp_path} is a directory; give a file name"


def test_a_file_where_a_directory_should_be_is_named(tmp_path):
    (tmp_path / "notes").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        check_writable(tmp_path / "notes" / "deep" / "r.json", "--out notes/deep/r.json")
    assert (
        info.value.message
        == f"--out notes/deep/r.json: {tmp_path / 'notes'} is a file, not a directory; choose a writable path"
    )
    assert (tmp_path / "notes").read_text(encoding="utf-8") == "mine"


def test_a_writable_path_is_accepted_with_its_directory_made_and_no_probe_left(tmp_path):
    check_writable(tmp_path / "new" / "r.json", "--out new/r.json")
    assert list((tmp_path / "new").iterdir()) == []


def test_a_second_writer_of_the_same_file_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "r.json"
    with OutputLock(out, "--out r.json"):
        with pytest.raises(UsageError) as info, OutputLock(out, "--out r.json"):
            pass
        assert info.value.message == (
            f"--out r.json: another perfgate run (PID {os.getpid()}) is writing {out} (lock {out}.lock); "
            "wait for it to finish or write elsewhere (--out)"
        )
    assert not (tmp_path / "r.json.lock").exists()  # released and tidied


def test_a_lock_file_left_by_a_dead_run_is_taken_over(tmp_path):
    stale = tmp_path / "r.json.lock"
    stale.write_text("999999\n", encoding="ascii")  # its writer died: the kernel dropped its lock
    with OutputLock(tmp_path / "r.json", "--out r.json"):
        assert stale.read_text(encoding="ascii") == f"{os.getpid()}\n"
    assert not stale.exists()


def test_different_files_do_not_block_each_other(tmp_path):
    with OutputLock(tmp_path / "a.json", "a"), OutputLock(tmp_path / "b.json", "b"):
        pass


def test_the_fallback_file_is_a_new_file_in_the_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile  # noqa: PLC0415 -- its cached directory must be recomputed from TMPDIR

    monkeypatch.setattr(tempfile, "tempdir", None)
    first, second = write_fallback("{}\n", "perfgate-results-sim"), write_fallback("{}\n", "perfgate-results-sim")
    assert first != second
    assert first.parent == tmp_path
    assert first.name.startswith("perfgate-results-sim-")
    assert first.read_text(encoding="utf-8") == "{}\n"
