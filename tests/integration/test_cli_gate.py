"""`perfgate gate` and `perfgate triage list` end to end: real processes, a fake GitHub over real HTTP.

The runs the gate reads are synthetic results files (chosen numbers, written as
`perfgate run` writes them), made once per module and copied into a fresh
results directory per test, laid out as artifact downloads are (one folder per
tier). So "slow" is a +50 % TTFT and "same" is unchanged on every machine, loaded
or not; only the outage ("pro-down") is a real `perfgate run` against a port
nothing listens on, which no amount of load can turn into anything else.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli import clean_env, error_lines, free_port
from support.cli import perfgate as run_perfgate
from support.fake_github import FakeGitHub
from support.synthetic import baseline_of, make_result, write_baselines

from perfgate.contracts.gate import GATE_SCHEMA_VERSION, GateReport
from perfgate.contracts.triage import LEDGER_SCHEMA_VERSION, TriageLedger
from perfgate.errors import Kind
from perfgate.files import read_model, write_model
from perfgate.publish.comment import STICKY_MARKER
from perfgate.triage.sinks import fingerprint_marker

TOKEN = "ghs_perfgateTestToken0123456789abcdef"
REPO = "acme/app"
PR = 7
TTFT_FP = "regression:pro:short:ttft_ms"
TIERS = ("base", "pro")
SCENARIOS = ("short",)
SLOWER = {"ttft_ms": 1.5}  # "pro-slow": TTFT +50 %, every other metric as in the baseline

# Two simulated tiers. Memory is informational (as on the built-in 'sim' tier) and so is
# end-to-end latency, so the one slowdown in "pro-slow" (TTFT) is exactly one defect.
CONFIG = """[tool.perfgate]
runs = 5
warmup = 1

[tool.perfgate.gate]
min_baseline_samples = 8
baseline_runs = 8

# These runs are fixed-n (no --until-conclusive), so nothing is confirmed by
# extra looks; this project files regressions as soon as they are seen.
[tool.perfgate.triage]
confirm_regressions = false

[tool.perfgate.scenarios]
# Only the scenario below: the built-in ones are switched off.
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.short]
prompt = "Explain what Bzzbe does in two short sentences."
num_predict = 16
{tiers}"""
TIER = """
[tool.perfgate.tiers.{name}]
description = "simulated {name} tier"
simulated = true
auto_detect = false
must_match = ["runtime_kind", "runtime_version", "model", "model_digest", "prompt", "scenario_options"]
informational_metrics = [
  "e2e_ms", "peak_runtime_rss_mb", "peak_runtime_footprint_mb", "peak_harness_rss_mb", "peak_combined_rss_mb",
]
"""


def perfgate(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_perfgate(*args, cwd=cwd, env=env if env is not None else clean_env())


@dataclass(frozen=True)
class Project:
    root: Path
    runs: Path  # current results files by name: base-same, pro-slow, pro-same, pro-down

    def results_dir(self, where: Path, *names: str) -> Path:
        """A results directory holding the named runs, one folder per tier like downloaded artifacts."""
        out = where / "perf-results"
        for name in names:
            tier = name.split("-")[0]
            target = out / f"results-{tier}" / f"results-{tier}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.runs / f"{name}.json", target)
        return out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Baselines for 'base' and 'pro' (8 runs each), and the current runs every test picks from."""
    root = tmp_path_factory.mktemp("gate-project")
    (root / "pyproject.toml").write_text(
        CONFIG.format(tiers="".join(TIER.format(name=name) for name in TIERS)), encoding="utf-8"
    )
    write_baselines(
        root / "baselines",
        *(baseline_of(make_result(seed=1, tier=tier, n=8, scenarios=SCENARIOS, simulated=True)) for tier in TIERS),
    )
    runs = root / "runs"
    runs.mkdir()
    current = {
        "base-same": make_result(seed=2, tier="base", n=5, scenarios=SCENARIOS, simulated=True),
        "pro-slow": make_result(seed=3, tier="pro", n=5, scenarios=SCENARIOS, simulated=True, scale=SLOWER),
        "pro-same": make_result(seed=4, tier="pro", n=5, scenarios=SCENARIOS, simulated=True),
    }
    for name, result in current.items():
        write_model(runs / f"{name}.json", result)
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = perfgate(
        "run",
        "--runtime",
        "ollama",
        "--base-url",
        down,
        "--tier",
        "pro",
        "--out",
        str(runs / "pro-down.json"),
        cwd=root,
    )
    assert proc.returncode == 3, proc.stderr
    return Project(root, runs)


def gate(
    project: Project, results: Path, *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return perfgate(
        "gate", "--results-dir", str(results), "--expect-tiers", "base,pro", *flags, cwd=project.root, env=env
    )


def load_gate(results: Path) -> GateReport:
    return read_model(results / "gate.json", GateReport, what="gate", current_version=GATE_SCHEMA_VERSION)


def load_ledger(path: Path) -> dict[str, dict[str, object]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == LEDGER_SCHEMA_VERSION
    TriageLedger.model_validate(data)
    return {entry["fingerprint"]: entry for entry in data["entries"]}


# ---------------------------------------------------------------- local gate with a ledger


def test_regression_exits_1_and_opens_a_ledger_entry_then_a_clean_gate_resolves_it(
    project: Project, tmp_path: Path
) -> None:
    ledger = tmp_path / "triage.json"
    slow = project.results_dir(tmp_path / "slow", "base-same", "pro-slow")

    proc = gate(project, slow, "--triage", "--triage-ledger", str(ledger))

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert error_lines(proc) == []
    assert proc.stdout.startswith("1 suspected regression: TTFT +")
    headline = (slow / "summary.md").read_text(encoding="utf-8").splitlines()[0]
    assert headline.startswith("### ⛔ perfgate: 1 suspected regression: TTFT +")
    assert headline.endswith(" on pro/short")
    report = load_gate(slow)
    assert (report.status.value, report.exit_code) == ("regression", 1)
    assert [t.tier for t in report.tiers] == ["base", "pro"]
    (entry,) = load_ledger(ledger).values()
    assert entry["fingerprint"] == TTFT_FP
    assert (entry["status"], entry["severity"], entry["owner"], entry["occurrences"]) == ("open", "P1", "QA", 1)

    listed = perfgate("triage", "list", "--triage-ledger", str(ledger), cwd=project.root)
    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if "Performance regression" in line]
    assert row.split()[:2] == ["P1", "open"]
    assert "TTFT on pro/short" in row

    # Outside GitHub Actions a gate stands for the default branch: a clean run resolves the entry.
    same = project.results_dir(tmp_path / "same", "base-same", "pro-same")
    clean = gate(project, same, "--triage", "--triage-ledger", str(ledger))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert load_ledger(ledger)[TTFT_FP]["status"] == "resolved"
    assert "| Resolved" in (same / "summary.md").read_text(encoding="utf-8")
    assert perfgate("triage", "list", "--triage-ledger", str(ledger), cwd=project.root).stdout.strip() == (
        "no triage entries"
    )
    every = perfgate("triage", "list", "--triage-ledger", str(ledger), "--all", cwd=project.root)
    assert "resolved" in every.stdout


def test_a_missing_tier_is_exit_3_and_a_p1_entry(project: Project, tmp_path: Path) -> None:
    ledger = tmp_path / "triage.json"
    results = project.results_dir(tmp_path, "base-same")

    proc = gate(project, results, "--triage", "--triage-ledger", str(ledger))

    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert error_lines(proc) == ["perfgate: no results for expected tier 'pro' (runner offline or job failed)"]
    summary = (results / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("### ⚠️ perfgate: Could not measure: tier missing on pro\n")
    (entry,) = load_ledger(ledger).values()
    assert entry["fingerprint"] == "tier_missing:pro:-:-"
    assert (entry["kind"], entry["severity"], entry["owner"], entry["status"]) == (
        "tier_missing",
        "P1",
        "QA/Platform",
        "open",
    )


def test_a_runtime_that_is_not_running_is_exit_3_and_a_runtime_entry(project: Project, tmp_path: Path) -> None:
    ledger = tmp_path / "triage.json"
    results = project.results_dir(tmp_path, "base-same", "pro-down")

    proc = gate(project, results, "--triage", "--triage-ledger", str(ledger))

    assert proc.returncode == 3, proc.stdout + proc.stderr
    report = load_gate(results)
    # Only the outage: a run that reached nothing is not also "incomparable" with its baseline.
    assert [(p.kind, p.tier) for p in report.problems] == [(Kind.RUNTIME_UNAVAILABLE, "pro")]
    assert "nothing is listening" in report.problems[0].message
    (error,) = error_lines(proc)
    assert "runtime unavailable" in error
    (entry,) = load_ledger(ledger).values()
    assert entry["fingerprint"] == "runtime_unavailable:pro:-:-"
    assert (entry["severity"], entry["owner"]) == ("P1", "Runtime")
    assert "Runtime unavailable on pro" in (results / "summary.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- on GitHub Actions, against a fake GitHub


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, repository=REPO, per_page_max=2) as fake:
        fake.add_pull_request(PR)
        yield fake


@dataclass
class Actions:
    """One simulated GitHub Actions job: its environment files and every process it ran."""

    gh: FakeGitHub
    work: Path
    procs: list[subprocess.CompletedProcess[str]]

    @property
    def step_summary(self) -> Path:
        return self.work / "step-summary.md"

    def env(self, run: int, *, pull_request: bool) -> dict[str, str]:
        event: dict[str, object] = {"repository": {"default_branch": "main", "full_name": REPO}}
        if pull_request:
            event["pull_request"] = {"number": PR}
        event_path = self.work / f"event-{run}.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        return clean_env(
            GITHUB_ACTIONS="true",
            GITHUB_TOKEN=TOKEN,
            GITHUB_API_URL=self.gh.api_url,
            GITHUB_SERVER_URL="https://github.com",
            GITHUB_REPOSITORY=REPO,
            GITHUB_EVENT_NAME="pull_request" if pull_request else "push",
            GITHUB_EVENT_PATH=str(event_path),
            GITHUB_REF=f"refs/pull/{PR}/merge" if pull_request else "refs/heads/main",
            GITHUB_SHA=f"{run:02d}" + "5eed" * 9 + "ab",
            GITHUB_RUN_ID=str(9000 + run),
            GITHUB_STEP_SUMMARY=str(self.step_summary),
        )

    def gate(
        self,
        project: Project,
        run: int,
        *names: str,
        pull_request: bool,
        flags: tuple[str, ...] = ("--comment", "--triage"),
    ) -> tuple[subprocess.CompletedProcess[str], Path]:
        results = project.results_dir(self.work / f"run-{run}", *names)
        proc = gate(project, results, *flags, env=self.env(run, pull_request=pull_request))
        self.procs.append(proc)
        return proc, results

    def assert_token_leaked_nowhere(self) -> None:
        assert self.gh.requests, "nothing reached the fake GitHub"
        assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in self.gh.requests)  # it was used...
        for proc in self.procs:  # ...and shown nowhere
            assert TOKEN not in proc.stdout
            assert TOKEN not in proc.stderr
        for path in self.work.rglob("*"):
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), path
        for request in self.gh.requests:
            assert TOKEN not in json.dumps([request.path, request.query, request.body])
        for _status, headers, body in self.gh.responses:
            assert TOKEN.encode() not in body
            assert TOKEN not in json.dumps(headers)


@pytest.fixture
def actions(gh: FakeGitHub, tmp_path: Path) -> Actions:
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("## Earlier step\n\n", encoding="utf-8")
    return Actions(gh, tmp_path, [])


def sticky(gh: FakeGitHub) -> list[dict[str, object]]:
    return [c for c in gh.comments.get(PR, []) if str(c["body"]).startswith(STICKY_MARKER)]


def perfgate_issues(gh: FakeGitHub) -> list[dict[str, object]]:
    return [i for i in gh.issues.values() if "pull_request" not in i]


def test_three_gates_on_a_pull_request_keep_one_comment(project: Project, actions: Actions) -> None:
    gh = actions.gh
    human = gh.add_comment(PR, "Looks good, but is it fast?", user="reviewer")

    first, _ = actions.gate(project, 1, "base-same", "pro-slow", pull_request=True)
    assert first.returncode == 1, first.stdout + first.stderr
    assert error_lines(first) == []
    (comment,) = sticky(gh)
    body = str(comment["body"])
    assert body.startswith(f"{STICKY_MARKER}\n### ⛔ perfgate: 1 suspected regression: TTFT +")
    # A PR's regression is reported in its comment, not filed as an issue.
    assert "Reported here (not filed from a pull request)" in body
    assert perfgate_issues(gh) == []

    second, _ = actions.gate(project, 2, "base-same", "pro-slow", pull_request=True)
    third, results = actions.gate(project, 3, "base-same", "pro-same", pull_request=True)
    assert (second.returncode, third.returncode) == (1, 0), third.stdout + third.stderr
    assert error_lines(second) == error_lines(third) == []

    (only,) = sticky(gh)
    assert only["id"] == comment["id"]
    assert str(only["body"]).startswith(f"{STICKY_MARKER}\n### ✅ perfgate: No regressions on 2 tiers")
    assert str(only["body"]) == f"{STICKY_MARKER}\n" + (results / "summary.md").read_text(encoding="utf-8")
    assert [c["body"] for c in gh.comments[PR]] == [human["body"], only["body"]]
    assert human["body"] == "Looks good, but is it fast?"
    posts = [r for r in gh.requests if r.method == "POST" and r.path.endswith(f"/issues/{PR}/comments")]
    assert len(posts) == 1
    assert perfgate_issues(gh) == []

    # The job summary gets every run appended after what earlier steps wrote.
    step_summary = actions.step_summary.read_text(encoding="utf-8")
    assert step_summary.startswith("## Earlier step\n\n### ⛔ perfgate: ")
    assert step_summary.count("perfgate: ") == 3
    assert step_summary.endswith((results / "summary.md").read_text(encoding="utf-8"))
    actions.assert_token_leaked_nowhere()


def test_a_default_branch_regression_is_one_issue_updated_then_closed_when_clean(
    project: Project, actions: Actions
) -> None:
    gh = actions.gh
    first, _ = actions.gate(project, 1, "base-same", "pro-slow", pull_request=False, flags=("--triage",))
    assert first.returncode == 1, first.stdout + first.stderr
    assert error_lines(first) == []
    (issue,) = perfgate_issues(gh)
    number = int(issue["number"])
    assert issue["title"] == "Performance regression: TTFT on pro/short"
    assert [label["name"] for label in issue["labels"]] == ["perfgate"]
    assert str(issue["body"]).startswith(f"{fingerprint_marker(TTFT_FP)}\n")
    assert "**P1** · owner **QA** · open · seen 1×" in str(issue["body"])
    assert gh.comments.get(number, []) == []

    second, results = actions.gate(project, 2, "base-same", "pro-slow", pull_request=False, flags=("--triage",))
    assert second.returncode == 1, second.stdout + second.stderr
    assert perfgate_issues(gh) == [issue]
    (update,) = gh.comments[number]
    assert str(update["body"]).startswith("Seen again (2×): ")
    assert "at `025eed5eed`" in str(update["body"])  # run 2's commit
    assert "([run](https://github.com/acme/app/actions/runs/9002))" in str(update["body"])
    assert "seen 2×" in str(gh.issues[number]["body"])
    assert f"Open (seen 2×) #{number}" in (results / "summary.md").read_text(encoding="utf-8")

    third, results = actions.gate(project, 3, "base-same", "pro-same", pull_request=False, flags=("--triage",))
    assert third.returncode == 0, third.stdout + third.stderr
    assert error_lines(third) == []
    assert perfgate_issues(gh) == [issue]
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert str(gh.comments[number][-1]["body"]).startswith("Resolved: ")
    assert f"Resolved #{number}" in (results / "summary.md").read_text(encoding="utf-8")
    actions.assert_token_leaked_nowhere()


def test_a_502_is_retried(project: Project, actions: Actions) -> None:
    gh = actions.gh
    gh.inject("POST", rf"/issues/{PR}/comments$", 502)

    proc, _ = actions.gate(project, 1, "base-same", "pro-slow", pull_request=True, flags=("--comment",))

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert error_lines(proc) == []
    assert len(sticky(gh)) == 1
    posts = [r for r in gh.requests if r.method == "POST"]
    assert len(posts) == 2
    assert [status for status, _, _ in gh.responses if status >= 500] == [502]
    actions.assert_token_leaked_nowhere()


def test_a_401_is_one_line_and_changes_nothing_else(project: Project, actions: Actions) -> None:
    gh = actions.gh
    gh.inject("GET", rf"/issues/{PR}/comments$", 401, body={"message": "Bad credentials"})

    proc, results = actions.gate(project, 1, "base-same", "pro-slow", pull_request=True, flags=("--comment",))

    assert proc.returncode == 1, proc.stdout + proc.stderr  # performance decides the exit code
    assert proc.stderr.splitlines() == [
        f"perfgate: PR comment not posted: GitHub rejected the token (HTTP 401: Bad credentials) on GET "
        f"/repos/{REPO}/issues/{PR}/comments"
    ]
    assert "Traceback" not in proc.stderr
    assert load_gate(results).status.value == "regression"
    assert (results / "summary.md").read_text(encoding="utf-8").startswith("### ⛔ perfgate: 1 suspected regression")
    assert "### ⛔ perfgate: 1 suspected regression" in actions.step_summary.read_text(encoding="utf-8")
    assert sticky(gh) == []
    assert len(gh.requests) == 1  # not retried
    actions.assert_token_leaked_nowhere()


def test_a_token_without_a_repository_never_fails_the_gate(project: Project, tmp_path: Path) -> None:
    env = clean_env(GITHUB_TOKEN=TOKEN)  # e.g. a developer's shell; GITHUB_REPOSITORY is not set
    plain = project.results_dir(tmp_path / "plain", "base-same", "pro-slow")

    proc = gate(project, plain, env=env)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert error_lines(proc) == []
    assert load_gate(plain).status.value == "regression"

    commenting = project.results_dir(tmp_path / "commenting", "base-same", "pro-slow")
    proc = gate(project, commenting, "--comment", "--pr", str(PR), env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert error_lines(proc) == [
        "perfgate: not publishing to GitHub: GITHUB_REPOSITORY is not set; name the repository as 'owner/name'"
    ]
    assert (commenting / "summary.md").is_file()
    assert TOKEN not in proc.stdout + proc.stderr
