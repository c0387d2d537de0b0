"""Triage: findings from a gate report, the entry lifecycle, and both sinks (ledger file, GitHub issues)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence

import httpx
import pytest
from support.fake_github import FakeGitHub

from perfgate.config import TriageConfig
from perfgate.contracts.gate import GateReport, GateStatus, Problem, TierSummary, Verdict, VerdictKind
from perfgate.contracts.triage import LEDGER_SCHEMA_VERSION, TriageEntry
from perfgate.errors import BadFileError, Kind, NewerSchemaError, ProblemKind
from perfgate.publish.github import GitHubClient
from perfgate.triage.policy import Finding, RunContext, findings_from_report, fingerprint_of, reconcile
from perfgate.triage.sinks import GitHubIssueSink, LedgerSink, fingerprint_marker, issue_body

TOKEN = "t0ken-secret"
CONFIG = TriageConfig(confirm_regressions=False)  # lifecycle tests file fixed-n regressions directly
TTFT_FP = "regression:pro:short:ttft_ms"


# ---------------------------------------------------------------- builders


def verdict(
    kind: VerdictKind = VerdictKind.REGRESSED,
    *,
    tier: str = "pro",
    scenario: str = "short",
    metric: str = "ttft_ms",
    change: float | None = 0.30,
    informational: bool = False,
) -> Verdict:
    return Verdict(
        tier=tier,
        scenario=scenario,
        metric=metric,
        unit="ms" if metric.endswith("_ms") else "tok/s",
        direction="higher" if metric.endswith("_tok_s") else "lower",
        informational=informational,
        verdict=kind,
        threshold_worse=0.10,
        threshold_better=0.10,
        baseline_median=100.0,
        current_median=100.0 * (1 + (change or 0)),
        n_baseline=12,
        n_current=5,
        change=change,
        change_low=None if change is None else change - 0.05,
        change_high=None if change is None else change + 0.05,
        p_worse=0.0004 if kind is VerdictKind.REGRESSED else 0.6,
        p_worse_adjusted=0.004 if kind is VerdictKind.REGRESSED else 1.0,
    )


def problem(kind: ProblemKind, tier: str = "pro", message: str = "it broke", scenario: str | None = None) -> Problem:
    return Problem(kind=kind, tier=tier, scenario=scenario, message=message)


def report(
    verdicts: Sequence[Verdict] = (),
    problems: Sequence[Problem] = (),
    *,
    measured: Sequence[str] = ("base", "pro"),
    unmeasured: Sequence[str] = (),
) -> GateReport:
    """A gate report; ``measured`` tiers have a results file, ``unmeasured`` ones do not."""
    tiers = [TierSummary(tier=t, results_files=(f"results-{t}.json",)) for t in measured]
    tiers += [TierSummary(tier=t) for t in unmeasured]
    regressed = any(v.verdict is VerdictKind.REGRESSED and not v.informational for v in verdicts)
    status = GateStatus.REGRESSION if regressed else GateStatus.COULD_NOT_MEASURE if problems else GateStatus.PASS
    return GateReport(
        perfgate_version="0.1.0",
        created_at="2026-11-28T12:00:00Z",
        alpha=0.05,
        status=status,
        exit_code={GateStatus.REGRESSION: 1, GateStatus.COULD_NOT_MEASURE: 3}.get(status, 0),
        headline="test",
        tiers=tuple(tiers),
        verdicts=tuple(verdicts),
        problems=tuple(problems),
    )


def clean(*, tier: str = "pro", kind: VerdictKind = VerdictKind.UNCHANGED) -> GateReport:
    return report([verdict(kind, tier=tier, change=0.01)])


def ctx(n: int, *, default_branch: bool = True) -> RunContext:
    return RunContext(
        date=f"2026-11-{n:02d}T12:00:00Z",
        commit=f"{n:02d}" + "c" * 38,
        run_id=str(1000 + n),
        url=f"https://github.com/acme/app/actions/runs/{1000 + n}",
        is_default_branch=default_branch,
    )


def step(
    entries: Sequence[TriageEntry], gate: GateReport, context: RunContext, config: TriageConfig = CONFIG
) -> tuple[dict[str, TriageEntry], list[tuple[str, str]]]:
    """Reconcile one gate; return entries by fingerprint and (action, fingerprint) pairs."""
    new, actions = reconcile(entries, findings_from_report(gate, config), gate, context, config)
    assert len({e.fingerprint for e in new}) == len(new), "an entry was duplicated"
    return {e.fingerprint: e for e in new}, [(a.action, a.entry.fingerprint) for a in actions]


def by_fp(findings: Sequence[Finding]) -> dict[str, Finding]:
    return {f.fingerprint: f for f in findings}


# ---------------------------------------------------------------- findings


def test_regression_severity_follows_the_p1_threshold_and_owner_comes_from_config() -> None:
    config = TriageConfig(confirm_regressions=False, owners={**CONFIG.owners, "regression": "Inference team"})
    gate = report(
        [
            verdict(change=0.30),  # ≥ 25 %: P1
            verdict(metric="e2e_ms", change=0.25),  # exactly the threshold: P1
            verdict(metric="decode_tok_s", change=-0.12),  # throughput down 12 %: P2
            verdict(scenario="prefill", change=0.50, informational=True),  # informational: never a defect
            verdict(VerdictKind.UNCHANGED, tier="base", change=0.01),
        ]
    )
    found = by_fp(findings_from_report(gate, config))

    assert set(found) == {TTFT_FP, "regression:pro:short:e2e_ms", "regression:pro:short:decode_tok_s"}
    assert found[TTFT_FP].severity == "P1"
    assert found["regression:pro:short:e2e_ms"].severity == "P1"
    assert found["regression:pro:short:decode_tok_s"].severity == "P2"
    assert {f.owner for f in found.values()} == {"Inference team"}
    ttft = found[TTFT_FP]
    assert ttft.kind is Kind.REGRESSION
    assert ttft.title == "Performance regression: TTFT on pro/short"
    assert ttft.summary == "TTFT +30.0 % [+25.0, +35.0] on pro/short (adjusted p = 0.004)"


def test_p1_threshold_is_configurable() -> None:
    found = findings_from_report(
        report([verdict(change=0.30)]), TriageConfig(confirm_regressions=False, p1_regression=0.5)
    )
    assert [f.severity for f in found] == ["P2"]


def test_could_not_measure_findings_map_kind_severity_and_owner() -> None:
    gate = report(
        problems=[
            problem(Kind.RUNTIME_UNAVAILABLE, message="nothing listening on http://127.0.0.1:1"),
            problem(Kind.TIER_MISSING, tier="base", message="no results for expected tier 'base'"),
            problem(Kind.BASELINE_MISSING, tier="lab"),
            problem(Kind.INCOMPARABLE, scenario="short", message="scenario 'short' changed"),
        ],
        measured=("pro", "lab"),
        unmeasured=("base",),
    )
    found = by_fp(findings_from_report(gate, CONFIG))

    unavailable = found["runtime_unavailable:pro:-:-"]
    assert (unavailable.severity, unavailable.owner) == ("P1", "Runtime")
    assert unavailable.title == "Runtime unavailable on pro"
    assert unavailable.summary == "nothing listening on http://127.0.0.1:1"
    missing = found["tier_missing:base:-:-"]
    assert (missing.severity, missing.owner, missing.kind) == ("P1", "QA/Platform", Kind.TIER_MISSING)
    assert (found["baseline_missing:lab:-:-"].severity, found["baseline_missing:lab:-:-"].owner) == (
        "P2",
        "QA/Platform",
    )
    # Only an incomparable scenario keeps the scenario in its identity.
    assert found["incomparable:pro:short:-"].title == "Incomparable on pro/short"


@pytest.mark.parametrize("kind", [Kind.RUNTIME_ERROR, Kind.STREAM_TRUNCATED, Kind.TIMEOUT, Kind.PROTOCOL_ERROR])
def test_stream_failures_are_runtime_errors(kind: ProblemKind) -> None:
    (finding,) = findings_from_report(report(problems=[problem(kind, scenario="short")]), CONFIG)
    assert finding.kind is Kind.RUNTIME_ERROR
    assert finding.fingerprint == "runtime_error:pro:-:-"
    assert (finding.severity, finding.owner) == ("P1", "Runtime")


def test_one_finding_per_fingerprint() -> None:
    gate = report(
        problems=[
            problem(Kind.STREAM_TRUNCATED, scenario="short", message="first"),
            problem(Kind.TIMEOUT, scenario="prefill", message="second"),
        ]
    )
    (finding,) = findings_from_report(gate, CONFIG)
    assert finding.summary == "first"


def test_severity_is_configurable_per_kind() -> None:
    config = TriageConfig(confirm_regressions=False, severities={**CONFIG.severities, "runtime_unavailable": "P0"})
    (finding,) = findings_from_report(report(problems=[problem(Kind.RUNTIME_UNAVAILABLE)]), config)
    assert finding.severity == "P0"


# ---------------------------------------------------------------- reconcile: the lifecycle


def test_open_update_resolve_reopen_keeps_one_entry() -> None:
    entries, actions = step([], report([verdict()]), ctx(1))
    assert actions == [("open", TTFT_FP)]
    first = entries[TTFT_FP]
    assert (first.status, first.occurrences, first.severity, first.owner) == ("open", 1, "P1", "QA")
    assert first.first_seen == first.last_seen == first.evidence[0]
    assert first.evidence[0].commit == ctx(1).commit
    assert first.evidence[0].url == "https://github.com/acme/app/actions/runs/1001"

    entries, actions = step(list(entries.values()), report([verdict(change=0.40)]), ctx(2))
    assert actions == [("update", TTFT_FP)]
    second = entries[TTFT_FP]
    assert second.occurrences == 2
    assert [e.run_id for e in second.evidence] == ["1001", "1002"]
    assert "+40.0 %" in second.evidence[-1].summary
    assert second.first_seen == first.first_seen
    assert second.last_seen.run_id == "1002"

    entries, actions = step(list(entries.values()), clean(), ctx(3))
    assert actions == [("resolve", TTFT_FP)]
    resolved = entries[TTFT_FP]
    assert resolved.status == "resolved"
    assert resolved.resolved_at is not None
    assert resolved.resolved_at.run_id == "1003"
    assert resolved.occurrences == 2  # a clean run is not a sighting

    entries, actions = step(list(entries.values()), report([verdict()]), ctx(4))
    assert actions == [("reopen", TTFT_FP)]
    reopened = entries[TTFT_FP]
    assert (reopened.status, reopened.occurrences, reopened.resolved_at) == ("open", 3, None)
    assert reopened.first_seen.run_id == "1001"


def test_an_already_resolved_entry_is_not_resolved_again() -> None:
    entries, _ = step([], report([verdict()]), ctx(1))
    entries, _ = step(list(entries.values()), clean(), ctx(2))
    _, actions = step(list(entries.values()), clean(), ctx(3))
    assert actions == []


def test_improved_resolves_but_inconclusive_does_not() -> None:
    entries, _ = step([], report([verdict()]), ctx(1))
    _, actions = step(list(entries.values()), clean(kind=VerdictKind.INCONCLUSIVE), ctx(2))
    assert actions == []
    _, actions = step(list(entries.values()), clean(kind=VerdictKind.IMPROVED), ctx(2))
    assert actions == [("resolve", TTFT_FP)]


def test_a_pull_request_run_never_resolves() -> None:
    entries, _ = step([], report([verdict()]), ctx(1))
    after, actions = step(list(entries.values()), clean(), ctx(2, default_branch=False))
    assert actions == []
    assert after[TTFT_FP].status == "open"


def test_a_tier_not_measured_in_this_gate_keeps_its_entries_open() -> None:
    entries, _ = step([], report([verdict()], [problem(Kind.RUNTIME_UNAVAILABLE)]), ctx(1))
    assert set(entries) == {TTFT_FP, "runtime_unavailable:pro:-:-"}
    only_base = report([verdict(VerdictKind.UNCHANGED, tier="base", change=0.0)], measured=("base",))
    after, actions = step(list(entries.values()), only_base, ctx(2))
    assert actions == []
    assert {e.status for e in after.values()} == {"open"}


def test_a_measured_tier_without_the_metric_does_not_resolve_a_regression() -> None:
    entries, _ = step([], report([verdict()]), ctx(1))
    other_metric = report([verdict(VerdictKind.UNCHANGED, metric="e2e_ms", change=0.0)])
    _, actions = step(list(entries.values()), other_metric, ctx(2))
    assert actions == []


def test_a_problem_that_does_not_recur_on_a_measured_tier_resolves() -> None:
    entries, _ = step([], report(problems=[problem(Kind.RUNTIME_UNAVAILABLE)]), ctx(1))
    _, actions = step(list(entries.values()), clean(), ctx(2))
    assert actions == [("resolve", "runtime_unavailable:pro:-:-")]


def test_an_interrupted_run_files_nothing_and_resolves_nothing_on_its_tier() -> None:
    entries, _ = step([], report(problems=[problem(Kind.RUNTIME_UNAVAILABLE)]), ctx(1))
    stopped = report(problems=[problem(Kind.INTERRUPTED, message="interrupted by SIGTERM during run 2/5 of short")])
    assert findings_from_report(stopped, CONFIG) == []  # someone stopped it: nobody's defect
    _, actions = step(list(entries.values()), stopped, ctx(2))
    assert actions == []  # a run stopped part-way is no evidence the runtime was fixed


def test_a_pull_request_files_nothing_by_default() -> None:
    """A PR's gate only comments (triage.file_on_pr = "never"); the default branch files."""
    gate = report([verdict()], [problem(Kind.RUNTIME_UNAVAILABLE, tier="base")])
    entries, actions = step([], gate, ctx(1, default_branch=False), TriageConfig(confirm_regressions=False))
    assert (entries, actions) == ({}, [])


@pytest.mark.parametrize(
    ("file_on_pr", "expected"),
    [
        ("all", {TTFT_FP, "runtime_unavailable:base:-:-"}),
        ("could_not_measure", {"runtime_unavailable:base:-:-"}),
        ("never", set()),
    ],
)
def test_file_on_pr_policy(file_on_pr: str, expected: set[str]) -> None:
    config = TriageConfig.model_validate({"file_on_pr": file_on_pr, "confirm_regressions": False})
    gate = report([verdict()], [problem(Kind.RUNTIME_UNAVAILABLE, tier="base")])
    entries, actions = step([], gate, ctx(1, default_branch=False), config)
    assert set(entries) == expected
    assert {fp for _, fp in actions} == expected
    # The default branch files everything whatever the PR policy says.
    on_main, _ = step([], gate, ctx(1), config)
    assert set(on_main) == {TTFT_FP, "runtime_unavailable:base:-:-"}


def test_a_pull_request_updates_an_entry_it_may_file() -> None:
    gate = report(problems=[problem(Kind.TIER_MISSING, tier="base")], measured=("pro",), unmeasured=("base",))
    entries, _ = step([], gate, ctx(1))
    may_file = TriageConfig(confirm_regressions=False, file_on_pr="could_not_measure")
    after, actions = step(list(entries.values()), gate, ctx(2, default_branch=False), may_file)
    assert actions == [("update", "tier_missing:base:-:-")]
    assert after["tier_missing:base:-:-"].occurrences == 2


def test_evidence_is_bounded_to_max_evidence_newest_last() -> None:
    config = TriageConfig(confirm_regressions=False, max_evidence=3)
    entries: dict[str, TriageEntry] = {}
    for n in range(1, 7):
        entries, _ = step(list(entries.values()), report([verdict()]), ctx(n), config)
    entry = entries[TTFT_FP]
    assert entry.occurrences == 6
    assert [e.run_id for e in entry.evidence] == ["1004", "1005", "1006"]
    assert entry.first_seen.run_id == "1001"  # kept even when its evidence line is dropped


def test_fingerprint_of_fills_absent_parts() -> None:
    assert fingerprint_of(Kind.TIER_MISSING, "base") == "tier_missing:base:-:-"
    assert fingerprint_of(Kind.REGRESSION, "pro", "short", "ttft_ms") == TTFT_FP


# ---------------------------------------------------------------- the ledger sink


def lifecycle_entries() -> list[TriageEntry]:
    """One open regression and one resolved runtime_unavailable entry."""
    gate = report([verdict()], [problem(Kind.RUNTIME_UNAVAILABLE, tier="base")])
    entries, _ = step([], gate, ctx(1))
    entries, _ = step(list(entries.values()), report([verdict()]), ctx(2))
    return list(entries.values())


def test_ledger_round_trip(tmp_path) -> None:
    path = tmp_path / "sub" / "ledger.json"
    sink = LedgerSink(path)
    assert sink.load() == []
    entries = lifecycle_entries()

    stored = sink.apply(entries, []).entries

    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == LEDGER_SCHEMA_VERSION
    assert data["kind"] == "perfgate-triage-ledger"
    assert [e["status"] for e in data["entries"]] == ["open", "resolved"]  # open first
    assert LedgerSink(path).load() == stored
    assert sorted(stored, key=lambda e: e.fingerprint) == sorted(entries, key=lambda e: e.fingerprint)


def test_corrupt_ledger_names_the_file(tmp_path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text('{"schema_version": 1, "entries": [', encoding="utf-8")
    with pytest.raises(BadFileError) as caught:
        LedgerSink(path).load()
    assert str(caught.value).startswith(f"{path}: triage ledger file is not valid JSON")


def test_ledger_with_a_bad_field_names_the_field(tmp_path) -> None:
    path = tmp_path / "ledger.json"
    LedgerSink(path).apply(lifecycle_entries(), [])
    data = json.loads(path.read_text(encoding="utf-8"))
    data["entries"][0]["status"] = "maybe"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BadFileError) as caught:
        LedgerSink(path).load()
    assert str(path) in str(caught.value)
    assert "entries.0.status" in str(caught.value)


def test_newer_ledger_says_upgrade(tmp_path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps({"schema_version": 99, "entries": []}), encoding="utf-8")
    with pytest.raises(NewerSchemaError, match="upgrade perfgate"):
        LedgerSink(path).load()


# ---------------------------------------------------------------- the GitHub issue sink


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, repository="acme/app", per_page_max=2, in_process=True) as fake:
        yield fake


@pytest.fixture
def sink(gh: FakeGitHub) -> Iterator[GitHubIssueSink]:
    with httpx.Client(transport=gh.transport()) as http:
        client = GitHubClient(http, token=TOKEN, repository="acme/app", api_url=gh.api_url, sleep=lambda _s: None)
        yield GitHubIssueSink(client, "perfgate")


def sync(sink: GitHubIssueSink, gate: GateReport, context: RunContext) -> list[str]:
    """One gate against GitHub issues, as ``run_ci_gate`` does it; returns the actions taken."""
    entries, actions = reconcile(sink.load(), findings_from_report(gate, CONFIG), gate, context, CONFIG)
    sink.apply(entries, actions)
    return [a.action for a in actions]


def issues_with_label(gh: FakeGitHub) -> list[dict[str, object]]:
    return [i for i in gh.issues.values() if any(label["name"] == "perfgate" for label in i["labels"])]


def bot_comments(gh: FakeGitHub, number: int) -> list[str]:
    return [c["body"] for c in gh.comments.get(number, [])]


def test_issue_lifecycle_on_github(gh: FakeGitHub, sink: GitHubIssueSink) -> None:
    assert sync(sink, report([verdict()]), ctx(1)) == ["open"]
    (issue,) = issues_with_label(gh)
    number = issue["number"]
    assert issue["title"] == "Performance regression: TTFT on pro/short"
    assert str(issue["body"]).startswith(fingerprint_marker(TTFT_FP) + "\n")
    assert "<!-- perfgate-triage-state: " in str(issue["body"])
    assert "**P1** · owner **QA** · open · seen 1×" in str(issue["body"])
    assert gh.labels["perfgate"]["color"] == "d93f0b"
    assert bot_comments(gh, number) == []

    assert sync(sink, report([verdict(change=0.40)]), ctx(2)) == ["update"]
    assert len(issues_with_label(gh)) == 1
    (comment,) = bot_comments(gh, number)
    assert comment.startswith("Seen again (2×): 2026-11-02T12:00:00Z at `02cccccccc`: TTFT +40.0 %")
    assert "([run](https://github.com/acme/app/actions/runs/1002))" in comment
    assert "seen 2×" in str(gh.issues[number]["body"])
    assert gh.issues[number]["state"] == "open"

    assert sync(sink, clean(), ctx(3)) == ["resolve"]
    assert gh.issues[number]["state"] == "closed"
    assert gh.issues[number]["state_reason"] == "completed"
    assert bot_comments(gh, number)[-1].startswith("Resolved: 2026-11-03T12:00:00Z")
    assert "· resolved ·" in str(gh.issues[number]["body"])
    close = [r for r in gh.requests if r.method == "PATCH" and r.path.endswith(f"/issues/{number}")][-1]
    assert close.body["state"] == "closed"
    assert close.body["state_reason"] == "completed"

    assert sync(sink, report([verdict()]), ctx(4)) == ["reopen"]
    assert gh.issues[number]["state"] == "open"
    assert bot_comments(gh, number)[-1].startswith("Seen again, reopening: ")
    assert len(issues_with_label(gh)) == 1
    (entry,) = sink.load()
    assert (entry.issue_number, entry.status, entry.occurrences) == (number, "open", 3)


def test_load_finds_entries_in_closed_issues_and_ignores_foreign_or_damaged_ones(
    gh: FakeGitHub, sink: GitHubIssueSink
) -> None:
    gate = report([verdict()], [problem(Kind.RUNTIME_UNAVAILABLE, tier="base")])
    sync(sink, gate, ctx(1))
    sync(sink, report([verdict()]), ctx(2))  # resolves runtime_unavailable on base: closed
    gh.add_issue("Someone else's bug", body="no markers here", labels=["perfgate"])
    damaged = issue_body(sink.load()[0]).replace("<!-- perfgate-triage-state: ", "<!-- perfgate-triage-state: AAAA")
    gh.add_issue("Edited by hand", body=damaged, labels=["perfgate"])
    not_json = base64.b64encode(b"{not json").decode()
    gh.add_issue("Bad state", body=f"<!-- perfgate-triage-state: {not_json} -->", labels=["perfgate"])
    gh.add_issue("Unlabelled", body=issue_body(sink.load()[0]))

    loaded = {e.fingerprint: e for e in sink.load()}

    assert set(loaded) == {TTFT_FP, "runtime_unavailable:base:-:-"}
    assert loaded["runtime_unavailable:base:-:-"].status == "resolved"
    assert gh.issues[loaded["runtime_unavailable:base:-:-"].issue_number]["state"] == "closed"
    assert loaded[TTFT_FP].occurrences == 2
    assert loaded[TTFT_FP].issue_number == 1
    listed = [r for r in gh.requests if r.method == "GET" and r.path == "/repos/acme/app/issues"]
    assert {r.query.get("state") for r in listed} == {"all"}
    assert {r.query.get("labels") for r in listed} == {"perfgate"}


def test_a_message_that_closes_html_comments_cannot_break_the_state_marker(
    gh: FakeGitHub, sink: GitHubIssueSink
) -> None:
    hostile = "stream ended --> <!-- perfgate-triage-state: AAAA --> `x` @org/team #1"
    sync(sink, report(problems=[problem(Kind.RUNTIME_ERROR, message=hostile)]), ctx(1))
    (entry,) = sink.load()
    assert entry.evidence[0].summary == hostile
    (issue,) = gh.issues.values()
    body = str(issue["body"])
    assert len(re.findall(r"<!-- perfgate-triage-state: [A-Za-z0-9+/=]+ -->", body)) == 1
    assert "--> <!--" not in body  # the quoted comment syntax is escaped in the evidence line
    assert "@org" not in body  # escaped: a word joiner follows every @


def test_an_unconfirmed_regression_is_not_filed_until_confirmed() -> None:
    """With confirm_regressions (the default), only a regression seen at two looks opens an entry."""
    config = TriageConfig()
    suspected = report([verdict()])
    entries, actions = step([], suspected, ctx(1), config)
    assert entries == {}
    assert actions == []
    confirmed = report([verdict().model_copy(update={"confirmed": True})])
    entries, actions = step([], confirmed, ctx(2), config)
    assert set(entries) == {TTFT_FP}
    assert actions == [("open", TTFT_FP)]
