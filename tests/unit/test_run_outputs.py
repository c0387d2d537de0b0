"""``perfgate run``'s files: checked and locked before measuring; what was measured is never lost.

``measure`` is replaced by a stand-in that returns a made results file (and
does to the disk, or the signals, what the case needs), so each case is
decided here and not by a runtime.
"""

from __future__ import annotations

import signal
import tempfile

import pytest
from support.synthetic import make_result

from perfgate import interrupts
from perfgate.cli import main
from perfgate.contracts.results import Failure, RunResult
from perfgate.errors import Kind
from perfgate.outputs import OutputLock


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # recomputed from TMPDIR
    return tmp_path


def measured(monkeypatch, result, side_effect=lambda: None):
    calls = []

    def stand_in(*_args, **_kwargs):
        calls.append(1)
        side_effect()
        return result

    monkeypatch.setattr("perfgate.commands.run.measure", stand_in)
    return calls


def errors(capsys) -> tuple[str, list[str]]:
    out, err = capsys.readouterr()
    return out, [line for line in err.splitlines() if line.startswith("perfgate:")]


def test_an_unwritable_out_is_refused_before_anything_is_measured(project, monkeypatch, capsys):
    (project / "notes").write_text("mine", encoding="utf-8")
    calls = measured(monkeypatch, make_result(seed=1, n=5))
    assert main(["run", "--tier", "pro", "--out", "notes/r.json"]) == 2
    _, lines = errors(capsys)
    assert lines == ["perfgate: --out notes/r.json: notes is a file, not a directory; choose a writable path"]
    assert calls == []
    assert (project / "notes").read_text(encoding="utf-8") == "mine"


def test_an_unwritable_gate_out_is_refused_before_anything_is_measured(project, monkeypatch, capsys):
    (project / "notes").write_text("mine", encoding="utf-8")
    calls = measured(monkeypatch, make_result(seed=1, n=5))
    assert main(["run", "--tier", "pro", "--out", "r.json", "--compare", "--gate-out", "notes/g.json"]) == 2
    _, lines = errors(capsys)
    assert lines == ["perfgate: --gate-out notes/g.json: notes is a file, not a directory; choose a writable path"]
    assert calls == []


def test_a_second_run_writing_the_same_file_is_refused_before_measuring(project, monkeypatch, capsys):
    (project / "r.json").write_text("the first run's", encoding="utf-8")
    calls = measured(monkeypatch, make_result(seed=1, n=5))
    with OutputLock(project / "r.json", "--out r.json"):  # as another perfgate run holds it
        assert main(["run", "--tier", "pro", "--out", "r.json"]) == 2
    _, lines = errors(capsys)
    assert len(lines) == 1
    assert lines[0].startswith("perfgate: --out r.json: another perfgate run (PID ")
    assert lines[0].endswith("is writing r.json (lock r.json.lock); wait for it to finish or write elsewhere (--out)")
    assert calls == []
    assert (project / "r.json").read_text(encoding="utf-8") == "the first run's"


def test_results_that_cannot_be_written_after_measuring_go_to_a_fallback_file(project, monkeypatch, capsys):
    result = make_result(seed=1, n=5)
    measured(monkeypatch, result, side_effect=(project / "r.json").mkdir)  # the disk changed meanwhile
    assert main(["run", "--tier", "pro", "--out", "r.json"]) == 2
    out, lines = errors(capsys)
    assert "ttft_ms" in out  # the table is printed anyway
    (fallback,) = (project / "tmp").glob("perfgate-results-pro-*.json")
    assert lines == [
        f"perfgate: r.json: cannot write: Is a directory; the results were saved to {fallback} instead",
    ]
    assert RunResult.model_validate_json(fallback.read_text(encoding="utf-8")) == result
    assert sorted(p.name for p in project.iterdir()) == ["r.json", "tmp"]  # no temp or lock file left


def test_a_signal_after_the_measuring_waits_for_the_results_then_exits_with_its_code(project, monkeypatch, capsys):
    def sigterm_while_writing_is_due() -> None:
        interrupts.hold()  # as the real measure() does when measuring ends
        interrupts._on_signal(signal.SIGTERM, None)

    result = make_result(seed=1, n=5)
    measured(monkeypatch, result, side_effect=sigterm_while_writing_is_due)
    assert main(["run", "--tier", "pro", "--out", "r.json", "--compare"]) == 143
    _, lines = errors(capsys)
    assert lines == ["perfgate: interrupted by SIGTERM after the measuring ended"]  # and no comparison
    assert RunResult.model_validate_json((project / "r.json").read_text(encoding="utf-8")) == result


def test_an_interrupted_run_writes_what_it_measured_and_exits_130(project, monkeypatch, capsys):
    stopped = Failure(kind=Kind.INTERRUPTED, message="interrupted by SIGINT during run 3/5 of short-explain; ...")
    result = make_result(seed=1, n=2, failures=(stopped,))
    measured(monkeypatch, result)
    assert main(["run", "--tier", "pro", "--out", "r.json"]) == 130
    _, lines = errors(capsys)
    assert lines == [f"perfgate: {stopped.message}"]
    assert RunResult.model_validate_json((project / "r.json").read_text(encoding="utf-8")) == result


@pytest.mark.parametrize(
    "case",
    [
        ("--request-timeout", "0", "runtime.request_timeout_s: Input should be greater than 0 (got 0.0)"),
        ("--request-timeout", "nan", "runtime.request_timeout_s: Input should be a finite number (got nan)"),
        ("--request-timeout", "inf", "runtime.request_timeout_s: Input should be a finite number (got inf)"),
        ("--run-timeout", "-5", "runtime.run_timeout_s: Input should be greater than 0 (got -5.0)"),
        ("--run-timeout", "1e300", "runtime.run_timeout_s: Input should be less than or equal to 604800 (got 1e+300)"),
    ],
)
def test_a_deadline_that_is_not_a_number_of_seconds_is_refused(project, monkeypatch, capsys, case):
    flag, value, message = case
    calls = measured(monkeypatch, make_result(seed=1, n=5))
    assert main(["run", "--tier", "pro", "--out", "r.json", flag, value]) == 2
    _, lines = errors(capsys)
    assert len(lines) == 1
    assert lines[0].endswith(f"invalid config at {message}")
    assert calls == []
    assert not (project / "r.json").exists()
