"""Triage issues against the fake GitHub over real loopback HTTP: issue 16's floor for triage.

Hostile tier and scenario names, a create answered 502 after GitHub stored it,
over-long names and fields, a write GitHub refuses, two issues for one defect,
and a second between writes, measured on an injected clock (nothing sleeps).
The names here could not come from a results file (tier and scenario names are
checked there); the sink must hold without that check.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Iterator, Sequence

import httpx
import pytest
from support.fake_github import FakeGitHub, Recorded

from perfgate.config import TriageConfig
from perfgate.contracts.gate import GateReport, GateStatus, Problem, TierSummary, Verdict, VerdictKind
from perfgate.errors import Kind
from perfgate.publish.github import GitHubClient
from perfgate.triage.policy import RunContext, TriageAction, findings_from_report, reconcile
from perfgate.triage.sinks import Applied, GitHubIssueSink, entry_from_issue, fingerprint_marker

TOKEN = "t0ken-secret"
BOT = "github-actions[bot]"
CONFIG = TriageConfig(confirm_regressions=False)
RUN = "https://github.com/acme/app/actions/runs/{}"

FORGED_STATE = base64.b64encode(b'{"fingerprint": "regression:x:y:z", "kind": "regression"}').decode()
HOSTILE_TIER = (
    f"pro --> <img src=x> @octocat ``` ` `` [a](http://evil.example) ::error::x\n"
    f"<!-- perfgate-triage-state: {FORGED_STATE} -->\n<!-- perfgate-triage: {'0' * 64} -->"
)
HOSTILE_SCENARIO = (
    "short\n::error::x\n```\n<b>B</b> @org/team #1 ![i](https://evil.example/i.png) www.evil.example "
    f"`` ` ``` ```` --> <!-- perfgate-triage-state: {FORGED_STATE} -->"
)
HOSTILE_MODEL = "qwen<script>alert(1)</script> [x](https://evil.example) @org/team #1 | pipe"
HOSTILE_HOST = "mac|mini @org/team\n<img src=x>\r\n::add-mask::secret"
HOSTILE_RUNTIME = "ollama 0.5.1 <b> `` `` --> \x1b[31mred"
HOSTILE_SHA = "x`@octocat `<b>B</b>"


class Clock:
    """A monotonic clock that only moves when perfgate sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gh(clock: Clock) -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, repository="acme/app", per_page_max=3, clock=clock) as fake:
        yield fake


@pytest.fixture
def sink(gh: FakeGitHub, clock: Clock) -> Iterator[GitHubIssueSink]:
    with httpx.Client() as http:
        client = GitHubClient(
            http, token=TOKEN, repository="acme/app", api_url=gh.api_url, sleep=clock.sleep, clock=clock
        )
        yield GitHubIssueSink(client, "perfgate", author=BOT, run_url=RUN.format(1))


# ---------------------------------------------------------------- builders


def regressed(tier: str, scenario: str, metric: str = "ttft_ms", change: float = 0.3) -> Verdict:
    return Verdict(
        tier=tier,
        scenario=scenario,
        metric=metric,
        unit="ms",
        direction="lower",
        informational=False,
        verdict=VerdictKind.REGRESSED if change > 0.1 else VerdictKind.UNCHANGED,
        threshold_worse=0.10,
        threshold_better=0.10,
        baseline_median=100.0,
        current_median=100.0 * (1 + change),
        n_baseline=12,
        n_current=5,
        change=change,
        change_low=change - 0.05,
        change_high=change + 0.05,
        p_worse=0.0004,
        p_worse_adjusted=0.004,
    )


def gate(verdicts: Sequence[Verdict] = (), problems: Sequence[Problem] = (), tiers: Sequence[str] = ()) -> GateReport:
    measured = set(tiers) | {v.tier for v in verdicts} | {p.tier for p in problems}
    return GateReport(
        perfgate_version="0.1.0",
        created_at="2026-11-28T12:00:00Z",
        alpha=0.05,
        status=GateStatus.REGRESSION,
        exit_code=1,
        headline="test",
        tiers=tuple(TierSummary(tier=t, results_files=(f"results-{n}.json",)) for n, t in enumerate(sorted(measured))),
        verdicts=tuple(verdicts),
        problems=tuple(problems),
    )


def ctx(n: int, commit: str | None = None) -> RunContext:
    return RunContext(
        date=f"2026-11-{n:02d}T12:00:00Z",
        commit=commit or f"{n:02d}" + "c" * 38,
        run_id=str(n),
        url=RUN.format(n),
        is_default_branch=True,
    )


def sync(sink: GitHubIssueSink, report: GateReport, context: RunContext) -> tuple[list[str], Applied]:
    """One default-branch gate against GitHub issues, as ``run_ci_gate`` does it."""
    entries, actions = reconcile(sink.load(), findings_from_report(report, CONFIG), report, context, CONFIG)
    applied = sink.apply(entries, actions)
    return [a.action for a in actions], applied


def issues(gh: FakeGitHub, state: str = "all") -> list[dict[str, object]]:
    return [i for i in gh.issues.values() if state in ("all", i["state"])]


def writes(gh: FakeGitHub) -> list[Recorded]:
    return [r for r in gh.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")]


# ---------------------------------------------------------------- what "live" means on GitHub

OUR_LINK = re.compile(r" \(\[run\]\(https://github\.com/acme/app/actions/runs/\d+\)\)")
OUR_CODE = re.compile(r"`(?:[0-9a-f]{10}|regression|runtime_error|incomparable|tier_missing)`")
OUR_MARKERS = re.compile(r"\A<!-- perfgate-triage: [0-9a-f]{64} -->\n<!-- perfgate-triage-state: [A-Za-z0-9+/=]+ -->\n")


def live_markdown(text: str) -> list[str]:
    """Everything in ``text`` GitHub would render as a mention, link, image, HTML, code or a workflow command.

    perfgate's own constructs (the two markers at the top, run links, SHA and kind code
    spans) are taken out first; what is left came from untrusted strings and must be inert.
    """
    rest = OUR_CODE.sub("", OUR_LINK.sub("", OUR_MARKERS.sub("", text)))
    found = []
    checks = {
        "html": r"(?<!\\)<[A-Za-z/!?]",
        "comment end": r"-->",
        "link or image": r"(?<!\\)\[",
        "autolink": r"https?://|www\.",
        "mention": r"@[A-Za-z0-9]",
        "issue reference": r"(?<![\w&])#\d",
        "code span": r"(?<!\\)`",
        "workflow command": r"(?m)^\s*::",
    }
    for what, pattern in checks.items():
        if re.search(pattern, rest):
            found.append(what)
    return found


def live_title(title: str) -> list[str]:
    checks = {
        "html": r"<",
        "code span": r"`",
        "mention": r"@[A-Za-z0-9]",
        "issue reference": r"#\d",
        "autolink": r"https?://|www\.",
        "newline": r"[\r\n]",
        "control": r"[\x00-\x1f\x7f]",
    }
    return [what for what, pattern in checks.items() if re.search(pattern, title)]


def sent_texts(gh: FakeGitHub) -> list[tuple[str, str]]:
    """Every title and body perfgate sent (creates and edits of issues and comments)."""
    texts = []
    for request in writes(gh):
        if isinstance(request.body, dict) and not request.path.endswith("/labels"):
            texts += [(key, str(request.body[key])) for key in ("title", "body") if key in request.body]
    return texts


# ---------------------------------------------------------------- the floor


def hostile_gate() -> GateReport:
    return gate(
        [regressed(HOSTILE_TIER, HOSTILE_SCENARIO)],
        [
            Problem(
                kind=Kind.INCOMPARABLE,
                tier=HOSTILE_TIER,
                scenario=HOSTILE_SCENARIO,
                message=f"model {HOSTILE_MODEL} on host {HOSTILE_HOST} (runtime {HOSTILE_RUNTIME}) differs",
            ),
            Problem(
                kind=Kind.RUNTIME_ERROR, tier=HOSTILE_TIER, message=f"runner said: {HOSTILE_MODEL}\n```\n::error::x"
            ),
        ],
    )


def test_hostile_names_give_nothing_live_and_perfgate_finds_its_own_issues_again(
    gh: FakeGitHub, sink: GitHubIssueSink
) -> None:
    done, applied = sync(sink, hostile_gate(), ctx(1, commit=HOSTILE_SHA))
    assert done == ["open", "open", "open"]
    assert applied.failures == []
    opened = issues(gh)
    assert len(opened) == 3

    done, applied = sync(sink, hostile_gate(), ctx(2, commit=HOSTILE_SHA))

    assert done == ["update", "update", "update"]  # its own issues, found again: no duplicate
    assert applied.failures == []
    assert issues(gh) == opened
    for issue in opened:  # one line is a state marker: the second; a name's text is never a line of its own
        lines = str(issue["body"]).split("\n")
        assert [n for n, line in enumerate(lines) if line.startswith("<!--")] == [0, 1]
    assert {e.fingerprint for e in sink.load()} == {e.fingerprint for e in map(entry_from_issue, opened) if e}
    texts = sent_texts(gh)
    assert len(texts) == 3 * 2 + 3 * 2  # opened (title, body), then a comment and a body each
    for key, text in texts:
        problems = live_title(text) if key == "title" else live_markdown(text)
        assert problems == [], f"{key}: {problems} in {text!r}"
    titles = [str(i["title"]) for i in opened]
    assert any("@\u2060octocat" in title for title in titles)  # the name is still readable


def test_a_fake_state_in_a_name_is_not_taken_for_perfgates_own(gh: FakeGitHub, sink: GitHubIssueSink) -> None:
    sync(sink, gate([regressed(HOSTILE_TIER, "short")]), ctx(1))
    (issue,) = issues(gh)
    entry = entry_from_issue(issue)
    assert entry is not None
    assert entry.tier == HOSTILE_TIER
    assert str(issue["body"]).startswith(fingerprint_marker(entry.fingerprint) + "\n<!-- perfgate-triage-state: ")
    assert FORGED_STATE not in str(issue["body"]).split("\n")[1]


def test_a_create_answered_502_after_it_was_stored_leaves_one_issue(
    gh: FakeGitHub, sink: GitHubIssueSink, clock: Clock
) -> None:
    gh.inject("POST", r"/repos/acme/app/issues$", 502, stored=True)

    done, applied = sync(sink, gate([regressed("pro", "short")]), ctx(1))

    assert done == ["open"]
    assert applied.failures == []
    assert len(issues(gh)) == 1
    assert len([r for r in gh.requests if r.method == "POST" and r.path == "/repos/acme/app/issues"]) == 1
    assert applied.entries[0].issue_number == next(iter(gh.issues))

    done, applied = sync(sink, gate([regressed("pro", "short")]), ctx(2))

    assert done == ["update"]
    assert applied.failures == []
    (issue,) = issues(gh)
    assert "seen 2×" in str(issue["body"])


def test_a_502_on_an_evidence_comment_after_it_was_stored_posts_it_once(gh: FakeGitHub, sink: GitHubIssueSink) -> None:
    sync(sink, gate([regressed("pro", "short")]), ctx(1))
    (number,) = gh.issues
    gh.inject("POST", rf"/issues/{number}/comments$", 504, stored=True)

    done, applied = sync(sink, gate([regressed("pro", "short")]), ctx(2))

    assert (done, applied.failures) == (["update"], [])
    assert len(gh.comments[number]) == 1
    assert "seen 2×" in str(gh.issues[number]["body"])  # the update went on after the adopted comment


def test_two_open_issues_for_one_defect_the_newer_is_closed_as_a_duplicate(
    gh: FakeGitHub, sink: GitHubIssueSink
) -> None:
    sync(sink, gate([regressed("pro", "short")]), ctx(1))
    (older,) = issues(gh)
    # A create that GitHub stored although its answer was lost, made again when the list lagged.
    newer = gh.add_issue(str(older["title"]), str(older["body"]), labels=["perfgate"], user=BOT)

    done, applied = sync(sink, gate(tiers=["base"]), ctx(2))  # pro not measured: nothing to do but the duplicate

    assert (done, applied.failures) == ([], [])
    assert (newer["state"], newer["state_reason"]) == ("closed", "not_planned")
    assert gh.comments[newer["number"]][-1]["body"].startswith(f"Duplicate of #{older['number']}: ")
    assert older["state"] == "open"
    assert older["updated_at"] > newer["created_at"]  # the one kept was written again
    (entry,) = sink.load()
    assert entry.issue_number == older["number"]
    assert sink.duplicates == ()

    done, _ = sync(sink, gate([regressed("pro", "short")]), ctx(3))
    assert done == ["update"]
    assert gh.comments[older["number"]][-1]["body"].startswith("Seen again (2×)")


def test_issues_by_another_account_are_never_taken_for_perfgates(gh: FakeGitHub, sink: GitHubIssueSink) -> None:
    sync(sink, gate([regressed("pro", "short")]), ctx(1))
    (ours,) = issues(gh)
    forged = gh.add_issue("copy", str(ours["body"]), labels=["perfgate"], user="mallory")
    ours["state"] = "closed"  # resolved by hand: only the copy is open now

    (entry,) = sink.load()

    assert (entry.issue_number, entry.status) == (ours["number"], "resolved")
    assert sink.duplicates == ()  # the copy is not ours, so not ours to close either
    done, _ = sync(sink, gate([regressed("pro", "short")]), ctx(2))
    assert done == ["reopen"]
    assert ours["state"] == "open"
    assert forged["state"] == "open"
    assert [r for r in writes(gh) if f"/issues/{forged['number']}" in r.path] == []


def test_a_300_character_name_and_a_100_kb_field_publish_capped(gh: FakeGitHub, sink: GitHubIssueSink) -> None:
    tier, scenario = "t" * 150, "s" * 150
    huge = "x" * 100_000
    report = gate(
        [regressed(tier, scenario)],
        [
            Problem(kind=Kind.RUNTIME_ERROR, tier=tier, message=f"runtime said: {huge}"),
            Problem(kind=Kind.INCOMPARABLE, tier=tier, scenario=scenario, message=f"model {huge} → other"),
        ],
    )

    done, applied = sync(sink, report, ctx(1))

    assert (done, applied.failures) == (["open"] * 3, [])
    assert all(status < 400 for status, _, _ in gh.responses)  # nothing was refused
    for issue in issues(gh):
        assert len(str(issue["title"])) <= 256
        assert len(str(issue["body"])) <= 65_536
    titles = sorted(str(i["title"]) for i in issues(gh))
    assert any(title.endswith("…") and len(title) == 256 for title in titles)

    done, applied = sync(sink, report, ctx(2))

    assert (done, applied.failures) == (["update"] * 3, [])  # found again: the markers survived the cut
    assert len(issues(gh)) == 3
    assert all(status < 400 for status, _, _ in gh.responses)
    for comments in gh.comments.values():
        assert all(len(str(c["body"])) <= 65_536 for c in comments)


def test_a_body_cut_at_65536_says_so_and_links_the_run(sink: GitHubIssueSink, gh: FakeGitHub) -> None:
    report = gate(problems=[Problem(kind=Kind.RUNTIME_ERROR, tier="pro", message="y" * 900)])
    entries, actions = reconcile([], findings_from_report(report, CONFIG), report, ctx(1), CONFIG)
    # A hundred sightings of a long message: more than an issue body holds.
    entry = entries[0].model_copy(update={"evidence": entries[0].evidence * 100})

    applied = sink.apply([entry], [TriageAction("open", entry, actions[0].evidence)])

    assert applied.failures == []
    (issue,) = issues(gh)
    body = str(issue["body"])
    assert 60_000 < len(body) <= 65_536
    assert body.endswith("\n\n_… truncated; full report in the run's artifact ([run](" + RUN.format(1) + "))._\n")
    assert entry_from_issue(issue) is not None  # the markers at the top survive the cut


def test_one_refused_write_does_not_stop_the_others(gh: FakeGitHub, sink: GitHubIssueSink) -> None:
    refused = {"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "custom"}]}
    gh.inject("POST", r"/repos/acme/app/issues$", 422, body=refused)
    report = gate([regressed("pro", "short"), regressed("base", "short")])

    done, applied = sync(sink, report, ctx(1))

    assert done == ["open", "open"]
    (failure,) = applied.failures
    assert failure.startswith("triage: could not open 'regression:")
    assert "(HTTP 422: Validation Failed custom)" in failure
    assert "\n" not in failure
    assert len(issues(gh)) == 1  # the other one was still filed

    done, applied = sync(sink, report, ctx(2))
    assert sorted(done) == ["open", "update"]  # the next run files the one that was refused
    assert applied.failures == []
    assert len(issues(gh)) == 2


def test_writes_are_at_least_a_second_apart(gh: FakeGitHub, sink: GitHubIssueSink, clock: Clock) -> None:
    report = gate(
        [regressed("pro", "short"), regressed("base", "short")],
        [Problem(kind=Kind.RUNTIME_ERROR, tier="x", message="boom")],
    )
    sync(sink, report, ctx(1))
    sync(sink, report, ctx(2))
    sync(sink, gate([regressed("pro", "short", change=0.0)], tiers=["base", "x"]), ctx(3))

    times = [r.at for r in writes(gh)]
    assert len(times) >= 12
    assert all(t is not None for t in times)
    gaps = [b - a for a, b in itertools.pairwise(times)]  # type: ignore[operator]
    assert min(gaps) >= 1.0
    reads = [r for r in gh.requests if r.method == "GET"]
    assert reads  # and reads were not held back: the clock moved only for writes
    assert sum(clock.sleeps) == pytest.approx(len(times) - 1)
