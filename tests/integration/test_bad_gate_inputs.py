"""`gate`, `compare` and `report` on inputs that once passed on nothing, end to end (a real perfgate process).

Table-driven: each case lays out a results directory (synthetic results files, written
as `perfgate run` writes them) beside the committed baselines, runs one command, and
asserts its exit code, every `perfgate: ...` line on stderr exactly, and that no results
or baseline file was changed (only the command's own outputs: gate.json, summary.md,
the report). Values a sample could hold before validation on reading (NaN...) are the
unit tests' (tests/unit/test_gate_nothing.py); here a metric is absent from every sample.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli import clean_env, error_lines, perfgate
from support.synthetic import baseline_of, make_result, write_baselines

from perfgate.contracts.gate import GATE_SCHEMA_VERSION, GateReport
from perfgate.contracts.results import RunResult
from perfgate.files import read_model, write_model

DIR = "perf-results"
OUTPUTS = {"gate.json", "summary.md", "report.md"}  # what the commands write; everything else must stay as it was
NO_RESULTS = (
    f'perfgate: {DIR}: no results files (*.json with "kind": "perfgate-results"); nothing was measured, so nothing '
    "can pass: run perfgate run first"
)


def fresh(scenarios: tuple[str, ...] = ("short-explain", "prefill")) -> RunResult:
    return make_result(seed=2, scenarios=scenarios)


def put(root: Path, name: str, result: RunResult) -> None:
    path = root / DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_model(path, result)


def without_ttft() -> RunResult:
    result = fresh()
    scenarios = tuple(
        s.model_copy(update={"samples": tuple(x.model_copy(update={"ttft_ms": None}) for x in s.samples)})
        if s.name == "short-explain"
        else s
        for s in result.scenarios
    )
    return result.model_copy(update={"scenarios": scenarios})


def hollow() -> RunResult:
    result = fresh()
    return result.model_copy(update={"scenarios": (result.scenarios[0].model_copy(update={"samples": ()}),)})


def late_kind() -> RunResult:
    return fresh().model_copy(update={"command": "perfgate run " + "--scenario x " * 400})


def stale() -> RunResult:
    return make_result(seed=5, created_at="2026-11-20T09:00:00Z").model_copy(update={"git_sha": "0dd5a1e"})


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Path], None]
    argv: tuple[str, ...]
    code: int
    errors: tuple[str, ...]


def nothing(root: Path) -> None:
    (root / DIR).mkdir()


def write_bytes(name: str, content: bytes, *, with_good: bool) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / DIR).mkdir(parents=True, exist_ok=True)
        (root / DIR / name).write_bytes(content)
        if with_good:
            put(root, "results-pro.json", fresh())

    return setup


def results(**files: Callable[[], RunResult]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for name, make in files.items():
            put(root, name.replace("__", "/").replace("_", "-") + ".json", make())

    return setup


GATE = ("gate", "--results-dir", DIR)
DROPPED = (
    "perfgate: pro/prefill: in baselines/pro.json but in no results file (renamed, dropped or not run); run it, or "
    "update the baseline with perfgate baseline update"
)
CASES = [
    Case(
        "gate-mistyped-dir",
        lambda root: None,
        ("gate", "--results-dir", "perf-resluts"),
        2,
        (
            "perfgate: perf-resluts: no such directory; --results-dir names the directory the runs wrote results "
            "files to",
        ),
    ),
    Case(
        "gate-dir-is-a-file",
        results(results_pro=fresh),
        ("gate", "--results-dir", f"{DIR}/results-pro.json"),
        2,
        (
            f"perfgate: {DIR}/results-pro.json: not a directory; --results-dir names the directory the runs wrote "
            "results files to",
        ),
    ),
    Case("gate-empty-dir", nothing, GATE, 3, (NO_RESULTS,)),
    Case("compare-empty-dir", nothing, ("compare", DIR), 3, (NO_RESULTS,)),
    Case("report-empty-dir", nothing, ("report", DIR, "--out", f"{DIR}/report.md"), 3, (NO_RESULTS,)),
    Case(
        "compare-missing-file",
        nothing,
        ("compare", "nope.json"),
        2,
        ("perfgate: nope.json: no such file or directory",),
    ),
    Case(
        "gate-no-scenarios",
        results(results_pro=lambda: fresh(scenarios=())),
        GATE,
        3,
        (f"perfgate: pro: {DIR}/results-pro.json measured no scenario and recorded no failure; run it again",),
    ),
    Case(
        "gate-no-samples",
        results(results_pro=hollow),
        GATE,
        3,
        (
            f"perfgate: pro/short-explain: no sample in {DIR}/results-pro.json and no failure recorded; run it again",
            DROPPED,
        ),
    ),
    Case(
        "gate-metric-absent-in-every-sample",
        results(results_pro=without_ttft),
        GATE,
        3,
        (
            "perfgate: pro/short-explain: ttft_ms has no valid value in the results (absent, NaN, infinite, zero or "
            "negative) but baselines/pro.json has; measure again, or update the baseline if it is gone for good",
        ),
    ),
    Case(
        "gate-scenario-dropped", results(results_pro=lambda: fresh(scenarios=("short-explain",))), GATE, 3, (DROPPED,)
    ),
    Case(
        "compare-scenario-renamed",
        results(results_pro=lambda: fresh(scenarios=("short-explain", "prefill-v2"))),
        ("compare", DIR),
        3,
        (DROPPED,),
    ),
    Case(
        "gate-baselines-own-samples",
        results(results_pro=lambda: make_result(seed=1, n=15)),
        GATE,
        3,
        (
            f"perfgate: pro: {DIR}/results-pro.json holds the samples baselines/pro.json was made from, not a new "
            "measurement; run perfgate run on this change",
        ),
    ),
    Case("gate-kind-after-4-KiB", results(out__pr_123=late_kind), (*GATE, "--expect-tiers", "pro"), 0, ()),
    Case(
        "gate-stray-not-utf8",
        write_bytes("stray.json", b"\xff\xfe{}", with_good=True),
        GATE,
        0,
        (f"perfgate: {DIR}/stray.json: skipped: not a results file (not UTF-8: byte 0 is 0xff)",),
    ),
    Case(
        "gate-stray-not-utf8-alone",
        write_bytes("stray.json", b"\xff\xfe{}", with_good=False),
        GATE,
        3,
        (f"perfgate: {DIR}/stray.json: skipped: not a results file (not UTF-8: byte 0 is 0xff)", NO_RESULTS),
    ),
    Case(
        "compare-stray-nested-too-deep",
        write_bytes("deep.json", b"[" * 100_000 + b"]" * 100_000, with_good=True),
        ("compare", DIR),
        0,
        (
            f"perfgate: {DIR}/deep.json: skipped: not a results file (not JSON: recursion limit exceeded at line 1 "
            "column 202)",
        ),
    ),
    Case(
        "gate-stale-file-of-another-commit",
        results(results_pro=fresh, results_pro_old=stale),
        GATE,
        0,
        (
            f"perfgate: {DIR}/results-pro-old.json: left out: stale, measured on commit 0dd5a1e, the newest results "
            f"({DIR}/results-pro.json) on abc1234; delete it or measure again",
        ),
    ),
    Case(
        "report-no-sample",
        results(results_pro=lambda: fresh(scenarios=())),
        ("report", DIR, "--out", f"{DIR}/report.md"),
        3,
        ("perfgate: nothing measured: no results file holds a sample; the report says why",),
    ),
    Case(
        "report-nothing-compared",
        results(results_pro=lambda: make_result(seed=1, n=15)),
        ("report", DIR, "--baselines-dir", "baselines", "--out", f"{DIR}/report.md"),
        3,
        (
            f"perfgate: nothing compared: pro: {DIR}/results-pro.json holds the samples baselines/pro.json was made "
            "from, not a new measurement; run perfgate run on this change",
        ),
    ),
]


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in OUTPUTS
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Defaults (no pyproject.toml) and a committed baseline for 'pro' (15 runs, seed 1)."""
    write_baselines(tmp_path / "baselines", baseline_of(make_result(seed=1, n=15)))
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case: Case, project: Path) -> None:
    case.setup(project)
    before = snapshot(project)
    proc = perfgate(*case.argv, cwd=project, env=clean_env())
    assert proc.returncode == case.code, proc.stdout + proc.stderr
    assert error_lines(proc) == list(case.errors)
    assert "Traceback" not in proc.stderr
    assert snapshot(project) == before  # no results or baseline file changed, and nothing new beside the outputs
    assert not (project / "perf-resluts").exists()  # a mistyped directory is never created


def test_a_gate_of_no_results_writes_nothing(project: Path) -> None:
    nothing(project)
    assert perfgate(*GATE, cwd=project, env=clean_env()).returncode == 3
    assert list((project / DIR).iterdir()) == []


def test_the_late_kind_file_is_gated_and_the_stale_one_is_not(project: Path) -> None:
    results(out__pr_123=late_kind, results_pro_old=stale)(project)
    proc = perfgate(*GATE, cwd=project, env=clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = read_model(project / DIR / "gate.json", GateReport, what="gate", current_version=GATE_SCHEMA_VERSION)
    assert report.tiers[0].results_files == (f"{DIR}/out/pr-123.json",)


def test_a_stale_file_named_on_the_command_line_is_compared_as_given(project: Path) -> None:
    results(results_pro=fresh, results_pro_old=stale)(project)
    proc = perfgate("compare", f"{DIR}/results-pro.json", f"{DIR}/results-pro-old.json", "--gate-out", "g.json",
                    cwd=project, env=clean_env())  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert error_lines(proc) == []
    report = read_model(project / "g.json", GateReport, what="gate", current_version=GATE_SCHEMA_VERSION)
    assert report.tiers[0].results_files == (f"{DIR}/results-pro.json", f"{DIR}/results-pro-old.json")


def test_a_tier_left_only_stale_files_is_missing_when_expected(project: Path) -> None:
    results(results_pro=fresh, results_base=lambda: stale().model_copy(update={"tier": "base"}))(project)
    proc = perfgate(*GATE, "--expect-tiers", "base,pro", cwd=project, env=clean_env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert error_lines(proc) == [
        f"perfgate: {DIR}/results-base.json: left out: stale, measured on commit 0dd5a1e, the newest results "
        f"({DIR}/results-pro.json) on abc1234; delete it or measure again",
        "perfgate: no results for expected tier 'base' (runner offline or job failed)",
    ]
