"""What a gate publishes for each GitHub event, against the fake GitHub over real loopback HTTP.

The gate runs in this process (``run_ci_gate``, or the command's ``execute``)
on synthetic results, so the GitHub client's sleeper and clock are injected:
the pacing is checked on that clock and nothing sleeps. A push or a manual run
of the default branch keeps triage; a pull request's run only comments;
``--comment`` without a pull request does nothing and says nothing; a failed
write is its own line and exit 5 only when performance passed.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.fake_github import FakeGitHub
from support.synthetic import baseline_of, make_result, write_baselines

from perfgate.cli import exit_code
from perfgate.commands import Console, Outcome
from perfgate.commands.gate import GateOptions, GateOutcome, Pacing, execute, run_ci_gate
from perfgate.config import GitHubConfig, PerfgateConfig, load_config
from perfgate.contracts.collect import collect_results_dir
from perfgate.errors import ExitCode
from perfgate.files import write_model
from perfgate.publish.comment import STICKY_MARKER

TOKEN = "ghs_perfgatePublishingTest0123456789"
REPO = "acme/app"
PR = 7
SCENARIOS = ("short",)
CONFIG = """[tool.perfgate]
runs = 5
warmup = 1

[tool.perfgate.gate]
min_baseline_samples = 8

[tool.perfgate.triage]
confirm_regressions = false

[tool.perfgate.scenarios]
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.short]
prompt = "Explain what Bzzbe does in two short sentences."
num_predict = 16
"""
TIER = """
[tool.perfgate.tiers.{name}]
simulated = true
auto_detect = false
must_match = ["runtime_kind", "runtime_version", "model", "model_digest", "prompt", "scenario_options"]
informational_metrics = [
  "e2e_ms", "peak_runtime_rss_mb", "peak_runtime_footprint_mb", "peak_harness_rss_mb", "peak_combined_rss_mb",
]
"""
RUNS = {
    "base-same": {"seed": 2, "tier": "base"},
    "pro-same": {"seed": 4, "tier": "pro"},
    "pro-slow": {"seed": 3, "tier": "pro", "scale": {"ttft_ms": 1.5}},
}


class Clock:
    """A monotonic clock that moves only when perfgate sleeps on it."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PerfgateConfig]:
    root = tmp_path_factory.mktemp("publishing")
    (root / "pyproject.toml").write_text(
        CONFIG + "".join(TIER.format(name=name) for name in ("base", "pro")), encoding="utf-8"
    )
    write_baselines(
        root / "baselines",
        *(
            baseline_of(make_result(seed=1, tier=tier, n=8, scenarios=SCENARIOS, simulated=True))
            for tier in ("base", "pro")
        ),
    )
    return root, load_config(config_file=root / "pyproject.toml", environ={})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gh(clock: Clock) -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, repository=REPO, per_page_max=2, clock=clock) as fake:
        fake.add_pull_request(PR)
        yield fake


class Job:
    """One GitHub Actions job after another, each a gate in this process."""

    def __init__(self, project: tuple[Path, PerfgateConfig], gh: FakeGitHub, clock: Clock, work: Path) -> None:
        self.root, self.config = project
        self.gh, self.clock, self.work = gh, clock, work
        self.count = 0

    def environ(self, event_name: str, *, ref: str = "refs/heads/main") -> dict[str, str]:
        self.count += 1
        event: dict[str, object] = {"repository": {"default_branch": "main", "full_name": REPO}}
        if event_name == "pull_request":
            event["pull_request"] = {"number": PR}
            ref = f"refs/pull/{PR}/merge"
        if event_name == "workflow_dispatch":
            event["inputs"] = {}
        path = self.work / f"event-{self.count}.json"
        path.write_text(json.dumps(event), encoding="utf-8")
        return {
            "GITHUB_ACTIONS": "true",
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_API_URL": self.gh.api_url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(path),
            "GITHUB_REF": ref,
            "GITHUB_SHA": f"{self.count:02d}" + "5eed" * 9 + "ab",
            "GITHUB_RUN_ID": str(9000 + self.count),
        }

    def results(self, *names: str) -> Path:
        out = self.work / f"run-{self.count + 1}" / "perf-results"
        for name in names:
            spec = dict(RUNS[name])
            result = make_result(n=5, scenarios=SCENARIOS, simulated=True, **spec)  # type: ignore[arg-type]
            write_model(out / f"results-{spec['tier']}" / f"results-{spec['tier']}.json", result)
        out.mkdir(parents=True, exist_ok=True)
        return out

    def gate(
        self, event_name: str, *names: str, comment: bool = True, triage: bool = True, ref: str = "refs/heads/main"
    ) -> GateOutcome:
        results = self.results(*names)
        options = GateOptions(
            results_dir=results,
            baselines_dir=self.root / "baselines",
            expect_tiers=("base", "pro"),
            comment=comment,
            triage=triage,
        )
        environ = self.environ(event_name, ref=ref)
        with httpx.Client() as http:
            return run_ci_gate(
                options,
                self.config,
                list(collect_results_dir(results).loaded),
                environ=environ,
                http=http,
                pacing=Pacing(sleep=self.clock.sleep, clock=self.clock),
            )


@pytest.fixture
def job(project: tuple[Path, PerfgateConfig], gh: FakeGitHub, clock: Clock, tmp_path: Path) -> Job:
    return Job(project, gh, clock, tmp_path)


def triage_issues(gh: FakeGitHub) -> list[dict[str, object]]:
    return [i for i in gh.issues.values() if "pull_request" not in i]


def writes(gh: FakeGitHub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in gh.requests if r.method != "GET"]


# ---------------------------------------------------------------- events


def test_a_manual_run_of_the_default_branch_opens_updates_and_closes(job: Job, gh: FakeGitHub) -> None:
    first = job.gate("workflow_dispatch", "base-same", "pro-slow")
    assert (first.report.exit_code, first.publish_errors, first.notes) == (1, [], [])
    (issue,) = triage_issues(gh)
    assert issue["title"] == "Performance regression: TTFT on pro/short"

    second = job.gate("workflow_dispatch", "base-same", "pro-slow")
    assert second.publish_errors == []
    assert triage_issues(gh) == [issue]
    assert "seen 2×" in str(issue["body"])

    third = job.gate("workflow_dispatch", "base-same", "pro-same")
    assert (third.report.exit_code, third.publish_errors) == (0, [])
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert str(gh.comments[int(str(issue["number"]))][-1]["body"]).startswith("Resolved: ")
    assert gh.comments.get(PR, []) == []  # --comment on a run without a pull request: nothing


def test_a_pull_request_run_only_comments(job: Job, gh: FakeGitHub) -> None:
    bait = gh.add_comment(PR, f"{STICKY_MARKER}\nperfgate: all clear, merge away", user="mallory")

    outcome = job.gate("pull_request", "pro-slow")  # a regression, and base missing: both only in the comment

    assert (outcome.report.exit_code, outcome.publish_errors) == (1, [])
    assert triage_issues(gh) == []
    assert gh.labels == {}
    assert writes(gh) == [("POST", f"/repos/{REPO}/issues/{PR}/comments")]  # the bait was not edited
    assert bait["body"] == f"{STICKY_MARKER}\nperfgate: all clear, merge away"
    (comment,) = [c for c in gh.comments[PR] if c is not bait]
    assert str(comment["body"]).startswith(f"{STICKY_MARKER}\n")
    assert "Reported here (not filed from a pull request)" in str(comment["body"])

    job.gate("pull_request", "base-same", "pro-same")
    assert writes(gh)[1:] == [("PATCH", f"/repos/{REPO}/issues/comments/{comment['id']}")]


def test_the_configured_bot_account_is_perfgate(job: Job, gh: FakeGitHub) -> None:
    """A GitHub App's token writes as ``<slug>[bot]``: ``github.bot_login`` names it."""
    gh.login = "perfgate-app[bot]"
    job.config = job.config.model_copy(update={"github": GitHubConfig(bot_login="perfgate-app[bot]")})
    workflow = gh.add_comment(PR, f"{STICKY_MARKER}\nwritten with GITHUB_TOKEN", user="github-actions[bot]")

    job.gate("pull_request", "base-same", "pro-same")
    job.gate("pull_request", "base-same", "pro-same")

    assert workflow["body"] == f"{STICKY_MARKER}\nwritten with GITHUB_TOKEN"
    ours = [c for c in gh.comments[PR] if c["user"] == {"login": "perfgate-app[bot]"}]
    assert len(ours) == 1
    assert [method for method, _ in writes(gh)] == ["POST", "PATCH"]


def test_a_push_to_another_branch_neither_files_nor_closes(job: Job, gh: FakeGitHub) -> None:
    job.gate("workflow_dispatch", "base-same", "pro-slow")
    (issue,) = triage_issues(gh)
    before = len(gh.requests)

    job.gate("push", "base-same", "pro-same", ref="refs/heads/feature")

    assert issue["state"] == "open"
    assert [r.method for r in gh.requests[before:]] == ["GET"]  # read the issues, wrote nothing


def test_a_stored_502_on_an_issue_create_leaves_one_issue_after_this_run_and_the_next(job: Job, gh: FakeGitHub) -> None:
    gh.inject("POST", rf"/repos/{REPO}/issues$", 502, stored=True)

    first = job.gate("push", "base-same", "pro-slow", comment=False)
    assert first.publish_errors == []
    assert len(triage_issues(gh)) == 1

    second = job.gate("push", "base-same", "pro-slow", comment=False)
    assert second.publish_errors == []
    (issue,) = triage_issues(gh)
    assert "seen 2×" in str(issue["body"])


def test_writes_of_a_gate_are_a_second_apart(job: Job, gh: FakeGitHub, clock: Clock) -> None:
    job.gate("push", "pro-slow")  # a regression and a missing tier: a label and two issues
    first = [r.at for r in gh.requests if r.method != "GET"]
    clock.now += 3600  # the next run, an hour later (each run is a new client)
    job.gate("push", "pro-slow")  # two comments and two edits
    second = [r.at for r in gh.requests if r.method != "GET"][len(first) :]

    assert (len(first), len(second)) == (3, 4)
    for times in (first, second):
        gaps = [b - a for a, b in itertools.pairwise(times)]  # type: ignore[operator]
        assert gaps == [1.0] * (len(times) - 1)  # a second, and no more: the clock moves only when perfgate waits


# ---------------------------------------------------------------- through the command: lines and exit codes


def run_command(
    project: tuple[Path, PerfgateConfig], job: Job, monkeypatch: pytest.MonkeyPatch, event_name: str, *names: str
) -> tuple[int, str]:
    root, config = project
    results = job.results(*names)
    for key, value in job.environ(event_name).items():
        monkeypatch.setenv(key, value)
    args = argparse.Namespace(
        results_dir=str(results),
        baselines_dir=str(root / "baselines"),
        expect_tiers="base,pro",
        summary_out=None,
        comment=True,
        triage=event_name != "pull_request",
        triage_ledger=None,
        pr=None,
        repository=None,
        base_ref=None,
        confirmations=None,
    )
    out, err = io.StringIO(), io.StringIO()
    outcome: Outcome = execute(args, config, Console(out, err))
    return exit_code(outcome), err.getvalue()


def test_comment_on_a_push_run_is_a_silent_no_op(
    project: tuple[Path, PerfgateConfig], job: Job, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code, err = run_command(project, job, monkeypatch, "push", "base-same", "pro-same")
    assert (code, err) == (0, "")
    assert gh.comments.get(PR, []) == []
    assert writes(gh) == []


def test_a_refused_comment_is_one_line_and_exit_5_when_performance_passed(
    project: tuple[Path, PerfgateConfig], job: Job, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    refused = {"message": "Validation Failed", "errors": [{"resource": "IssueComment", "code": "custom"}]}
    gh.inject("POST", rf"/issues/{PR}/comments$", 422, body=refused, times=2)

    code, err = run_command(project, job, monkeypatch, "pull_request", "base-same", "pro-same")
    assert code == ExitCode.PUBLISH_FAILED
    assert err.splitlines() == [
        f"perfgate: PR comment not posted: GitHub POST /repos/{REPO}/issues/{PR}/comments failed "
        "(HTTP 422: Validation Failed custom)"
    ]

    code, err = run_command(project, job, monkeypatch, "pull_request", "base-same", "pro-slow")
    assert code == ExitCode.REGRESSION  # performance decides first; the failed write is still its line
    assert err.splitlines()[-1].startswith("perfgate: PR comment not posted: ")
    assert TOKEN not in err
