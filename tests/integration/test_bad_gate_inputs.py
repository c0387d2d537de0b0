"""`gate`, `compare` and `report` on inputs that once passed on nothing, or broke the gate, end to end.

(A real perfgate process.)

Table-driven: each case lays out a results directory (synthetic results files, written
as `perfgate run` writes them) beside the committed baselines, runs one command, and
asserts its exit code, every `perfgate: ...` line on stderr exactly, and that no results
or baseline file was changed (only the command's own outputs: gate.json, summary.md,
the report). Values a sample could hold before validation on reading (NaN...) are the
unit tests' (tests/unit/test_gate_nothing.py); here a metric is absent from every sample.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli import clean_env, error_lines, perfgate
from support.docs import quoted
from support.hostile import ALL_AT_ONCE, live_log, live_markdown
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


def broken(tier: object = "base", name: str = "base/results-base.json") -> Callable[[Path], None]:
    """A results file of ``tier`` with a field of the wrong type, beside good results of 'pro'."""

    def setup(root: Path) -> None:
        put(root, "results-pro.json", fresh())
        data = make_result(seed=3, tier="base").model_dump(mode="json")
        data["tier"] = tier
        data["runs"] = "many"
        path = root / DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data), encoding="utf-8")

    return setup


def oversize(root: Path) -> None:
    put(root, "results-pro.json", fresh())
    with (root / DIR / "trace.json").open("wb") as handle:
        handle.truncate(200 * 2**20)  # sparse: no disk used; only its size is looked at


def corrupt_baseline(root: Path) -> None:
    put(root, "results-pro.json", fresh())
    (root / "baselines" / "pro.json").write_text('{"kind": "perfgate-baseline", "schema_version": 3}', "utf-8")


GATE = ("gate", "--results-dir", DIR)
NAME_RULE = "use at most 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
BROKEN_BASE = (
    f"perfgate: {DIR}/base/results-base.json: invalid results file at field 'runs': Input should be a valid integer, "
    "unable to parse string as an integer"
)
OVERSIZE = (
    f"perfgate: {DIR}/trace.json: 200.0 MiB, over the 50.0 MiB perfgate reads: refused unread; remove it from the "
    "results directory or check that it is the right file"
)
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
    # A file the gate cannot read fails its tier (exit 2); the other tier is still gated.
    Case("gate-one-tier-broken", broken(), GATE, 2, (BROKEN_BASE,)),
    Case("gate-one-tier-broken-and-expected", broken(), (*GATE, "--expect-tiers", "base,pro"), 2, (BROKEN_BASE,)),
    Case(
        "gate-tier-named-as-a-path",
        broken(tier="../../outside", name="results-x.json"),
        GATE,
        2,
        (
            f"perfgate: {DIR}/results-x.json: invalid results file at field 'tier': name '../../outside' is not "
            f"valid: {NAME_RULE} (+1 more)",
        ),
    ),
    Case(
        "gate-tier-a-workflow-command",
        broken(tier="x\n::error::pwned", name="results-x.json"),
        GATE,
        2,
        (
            f"perfgate: {DIR}/results-x.json: invalid results file at field 'tier': name 'x\\n::error::pwned' is "
            f"not valid: {NAME_RULE} (+1 more)",
        ),
    ),
    Case("gate-oversize-file", oversize, GATE, 2, (OVERSIZE,)),
    Case(
        "gate-baseline-broken",
        corrupt_baseline,
        GATE,
        2,
        ("perfgate: baselines/pro.json: invalid baseline file at field 'tier': Field required (+4 more)",),
    ),
    # compare and report stop at a file they cannot read, as ever.
    Case(
        "compare-one-file-broken",
        broken(name="results-base.json"),
        ("compare", DIR),
        2,
        (BROKEN_BASE.replace("/base/", "/"),),
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


# ---------------------------------------------------------------- one tier's bad input hides nothing of the others


def gate_json(project: Path) -> GateReport:
    return read_model(project / DIR / "gate.json", GateReport, what="gate", current_version=GATE_SCHEMA_VERSION)


def test_a_broken_tier_does_not_hide_the_other_tiers_verdicts(project: Path) -> None:
    broken()(project)
    proc = perfgate(*GATE, "--expect-tiers", "base,pro", cwd=project, env=clean_env())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    report = gate_json(project)
    assert (report.status, report.exit_code) == ("bad_input", 2)
    assert report.headline == "Inputs refused: bad input on base"
    assert [t.tier for t in report.tiers] == ["pro", "base"]
    assert [(p.kind, p.tier) for p in report.problems] == [("bad_input", "base")]
    # pro was compared as in any gate: every gating metric of both its scenarios has a verdict.
    pro = {(v.scenario, v.metric): v.verdict for v in report.verdicts if not v.informational}
    assert {v.tier for v in report.verdicts} == {"pro"}
    assert {scenario for scenario, _ in pro} == {"short-explain", "prefill"}
    assert "regressed" not in pro.values()
    summary = (project / DIR / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("### ❌ perfgate: Inputs refused: bad input on base\n")
    assert "| base   | ❌ input refused |" in summary
    assert "#### pro / short-explain" in summary
    assert "#### pro / prefill" in summary
    assert f"- **base**: {DIR}/base/results-base.json: invalid results file at field 'runs'" in summary
    assert "pro / short-explain" in proc.stdout


def test_a_regression_on_another_tier_still_exits_1(project: Path) -> None:
    broken()(project)
    put(project, "results-pro.json", make_result(seed=2, scale={"ttft_ms": 1.6, "e2e_ms": 1.6}))
    proc = perfgate(*GATE, cwd=project, env=clean_env())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = gate_json(project)
    assert report.status == "regression"
    assert any(v.verdict == "regressed" and v.tier == "pro" for v in report.verdicts)
    assert [(p.kind, p.tier) for p in report.problems] == [("bad_input", "base")]  # still reported
    assert error_lines(proc) == [BROKEN_BASE]


def test_a_tier_with_only_a_broken_file_is_bad_input_not_no_results(project: Path) -> None:
    broken()(project)
    (project / DIR / "results-pro.json").unlink()
    proc = perfgate(*GATE, cwd=project, env=clean_env())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert error_lines(proc) == [BROKEN_BASE]
    assert gate_json(project).verdicts == ()


def test_a_broken_baseline_fails_its_tier_and_the_other_is_gated(project: Path) -> None:
    put(project, "results-base.json", make_result(seed=2, tier="base"))
    write_baselines(project / "baselines", baseline_of(make_result(seed=1, tier="base", n=15)))
    corrupt_baseline(project)
    proc = perfgate(*GATE, cwd=project, env=clean_env())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    report = gate_json(project)
    assert [(p.kind, p.tier) for p in report.problems] == [("bad_input", "pro")]
    decided = {v.verdict for v in report.verdicts if v.tier == "base" and not v.informational}
    assert decided
    assert decided <= {"unchanged", "improved", "changed", "inconclusive"}


def test_a_tier_named_as_a_path_reads_nothing_outside_the_baselines(project: Path) -> None:
    # A baseline-shaped file outside baselines/, where "../outside" would lead.
    write_model(project / "outside.json", baseline_of(make_result(seed=1, n=15)).model_copy(update={"tier": "x"}))
    broken(tier="../outside", name="results-x.json")(project)
    proc = perfgate(*GATE, cwd=project, env=clean_env())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    report = gate_json(project)
    assert [(p.kind, p.tier) for p in report.problems] == [("bad_input", "(unknown tier)")]
    assert "outside.json" not in (project / DIR / "gate.json").read_text(encoding="utf-8")


def test_the_refused_files_troubleshooting_lines_are_the_ones_printed(project: Path) -> None:
    broken()(project)
    oversize(project)
    proc = perfgate(*GATE, cwd=project, env=clean_env())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert error_lines(proc) == [
        f"perfgate: {quoted(f'{DIR}/base/results-base.json: invalid results file')}",
        f"perfgate: {quoted(f'{DIR}/trace.json: 200.0 MiB')}",
    ]
    assert [p.tier for p in gate_json(project).problems] == ["base", "(unknown tier)"]


# ---------------------------------------------------------------- hostile strings, end to end


def hostile(root: Path) -> None:
    """Results whose every free-text field is every hostile string at once; and a refused file of a hostile tier."""
    broken(tier=ALL_AT_ONCE, name="results-x.json")(root)
    result = fresh()
    put(
        root,
        "results-pro.json",
        result.model_copy(
            update={
                "git_sha": ALL_AT_ONCE,
                "command": ALL_AT_ONCE,
                "host": result.host.model_copy(update={"label": ALL_AT_ONCE, "chip": ALL_AT_ONCE}),
                "runtime": result.runtime.model_copy(update={"version": ALL_AT_ONCE, "model": ALL_AT_ONCE}),
                "fingerprint": result.fingerprint.model_copy(
                    update={"runtime_version": ALL_AT_ONCE, "model": ALL_AT_ONCE}
                ),
            }
        ),
    )


def test_hostile_strings_in_a_results_file_reach_neither_markdown_nor_log_live(project: Path) -> None:
    hostile(project)
    proc = perfgate(*GATE, cwd=project, env=clean_env())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert live_log(proc.stdout) == []
    assert live_log(proc.stderr) == []
    assert all(line.startswith("perfgate: ") for line in proc.stderr.splitlines())  # each message one line
    summary = (project / DIR / "summary.md").read_text(encoding="utf-8")
    assert live_markdown(summary) == []
    assert "(invalid sha)" in summary  # the commit is not one, so it is not shown as one
    # What changed names the hostile model, escaped (compared as the change under test).
    assert "#### What changed" in summary
