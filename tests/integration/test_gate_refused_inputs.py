"""`perfgate gate` on results and baseline files it cannot read, end to end (a real perfgate process).

A broken, too-new or oversize file, or one whose tier is a path or a workflow command,
is a `bad_input` problem of its tier (or "(unknown tier)"): the gate still compares,
summarises and comments on the other tiers, and fails (exit 2; 1 when another tier
regressed). `compare` stops at such a file, as ever. Each case asserts the exit code
and every `perfgate: ...` line exactly, and that no results or baseline file changed;
the tests below it look into gate.json and summary.md, and put every hostile string
into a results file to find nothing live in the log or the Markdown.
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
OUTPUTS = {"gate.json", "summary.md"}  # what the gate writes; everything else must stay as it was
GATE = ("gate", "--results-dir", DIR)


def fresh() -> RunResult:
    return make_result(seed=2)


def put(root: Path, name: str, result: RunResult) -> None:
    path = root / DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_model(path, result)


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


def truncated(root: Path) -> None:
    put(root, "results-pro.json", fresh())
    (root / DIR / "results-base.json").write_text('{"kind": "perfgate-results", "tier": "ba', encoding="utf-8")


def corrupt_baseline(root: Path) -> None:
    put(root, "results-pro.json", fresh())
    (root / "baselines" / "pro.json").write_text('{"kind": "perfgate-baseline", "schema_version": 3}', "utf-8")


NAME_RULE = "use at most 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
BROKEN_BASE = (
    f"perfgate: {DIR}/base/results-base.json: invalid results file at field 'runs': Input should be a valid integer, "
    "unable to parse string as an integer"
)
TRUNCATED = (
    f"perfgate: {DIR}/results-base.json: results file refused: not JSON: EOF while parsing a string at line 1 column 40"
)
OVERSIZE = (
    f"perfgate: {DIR}/trace.json: 200.0 MiB, over the 50.0 MiB perfgate reads: refused unread; remove it from the "
    "results directory or check that it is the right file"
)


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Path], None]
    argv: tuple[str, ...]
    code: int
    errors: tuple[str, ...]


CASES = [
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
        "gate-results-file-truncated",
        truncated,
        GATE,
        2,
        (TRUNCATED,),
    ),
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
def test_a_refused_input(case: Case, project: Path) -> None:
    case.setup(project)
    before = snapshot(project)
    proc = perfgate(*case.argv, cwd=project, env=clean_env())
    assert proc.returncode == case.code, proc.stdout + proc.stderr
    assert error_lines(proc) == list(case.errors)
    assert "Traceback" not in proc.stderr
    assert snapshot(project) == before  # no results or baseline file changed, and nothing new beside the outputs


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
