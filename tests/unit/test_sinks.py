"""The GitHub issue's text (perfgate.triage.sinks): markers that carry no raw text, the state's budget, old issues."""

from __future__ import annotations

import base64
import hashlib

import pytest

from perfgate.contracts.triage import Evidence, TriageEntry
from perfgate.errors import Kind, PublishError
from perfgate.triage.policy import fingerprint_of
from perfgate.triage.sinks import (
    FINGERPRINT_MARKER,
    STATE_MARKER,
    STATE_MAX,
    entry_from_issue,
    fingerprint_marker,
    issue_body,
    issue_title,
)

RUN = "https://github.com/acme/app/actions/runs/3"


def entry(tier: str = "pro", scenario: str | None = "short", summary: str = "TTFT", **update: object) -> TriageEntry:
    seen = Evidence(run_id="3", commit="ab" * 20, date="2026-11-03T12:00:00Z", url=RUN, summary=summary)
    made = TriageEntry(
        fingerprint=fingerprint_of(Kind.REGRESSION, tier, scenario, "ttft_ms"),
        kind=Kind.REGRESSION,
        tier=tier,
        scenario=scenario,
        metric="ttft_ms",
        severity="P1",
        owner="QA",
        title=f"Performance regression: TTFT on {tier}/{scenario}",
        impact="Users see slower responses.",
        status="open",
        first_seen=seen,
        last_seen=seen,
        occurrences=1,
        evidence=(seen,),
    )
    return made.model_copy(update=update)


def as_issue(body: str, number: int = 4, state: str = "open") -> dict[str, object]:
    return {"number": number, "state": state, "body": body, "user": {"login": "github-actions[bot]"}}


def test_the_fingerprint_marker_is_the_digest_of_the_fingerprint() -> None:
    fingerprint = "regression:pro --> <img>:short:ttft_ms"
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()
    assert fingerprint_marker(fingerprint) == f"<!-- perfgate-triage: {digest} -->"


def test_a_body_round_trips_to_its_entry() -> None:
    made = entry()
    found = entry_from_issue(as_issue(issue_body(made, RUN)))
    assert found == made.model_copy(update={"issue_number": 4})
    closed = entry_from_issue(as_issue(issue_body(made), state="closed"))
    assert closed is not None
    assert closed.status == "resolved"


def test_github_line_endings_are_read() -> None:
    made = entry()
    assert entry_from_issue(as_issue(issue_body(made).replace("\n", "\r\n"))) is not None


def test_an_issue_written_by_earlier_perfgate_is_still_found() -> None:
    made = entry()
    state = base64.b64encode(made.model_dump_json(exclude={"issue_number"}).encode()).decode()
    legacy = f"{FINGERPRINT_MARKER.format(made.fingerprint)}\n{STATE_MARKER.format(state)}\n**P1** · owner …\n"
    found = entry_from_issue(as_issue(legacy))
    assert found is not None
    assert found.fingerprint == made.fingerprint


def test_markers_count_only_on_the_first_two_lines() -> None:
    made = entry()
    marker_lines = "\n".join(issue_body(made).split("\n")[:2])
    assert entry_from_issue(as_issue(f"Someone's note\n{marker_lines}\n")) is None
    assert entry_from_issue(as_issue(f"> {marker_lines}")) is None


def test_a_state_copied_under_another_marker_is_not_taken() -> None:
    mine, other = entry(), entry(tier="base")
    state_line = issue_body(other).split("\n")[1]
    assert entry_from_issue(as_issue(f"{fingerprint_marker(mine.fingerprint)}\n{state_line}\n")) is None


def test_a_hostile_tier_stays_on_its_line_and_out_of_the_markers() -> None:
    tier = "pro -->\n<!-- perfgate-triage-state: AAAA -->\n<img src=x> @octocat"
    made = entry(tier=tier)
    body = issue_body(made)
    first, second, *rest = body.split("\n")
    assert first == fingerprint_marker(made.fingerprint)
    assert second.startswith("<!-- perfgate-triage-state: ")
    assert not any(line.startswith("<!--") for line in rest)
    assert "-->" not in "\n".join(rest)
    assert entry_from_issue(as_issue(body)) == made.model_copy(update={"issue_number": 4})
    assert "\n" not in issue_title(made)
    assert "<" not in issue_title(made)


def test_a_long_message_is_cut_in_the_state_and_the_body() -> None:
    made = entry(summary="m" * 100_000)
    body = issue_body(made, RUN)
    assert len(body) <= 65_536
    assert len(body.split("\n")[1]) <= STATE_MAX + 40
    found = entry_from_issue(as_issue(body))
    assert found is not None
    assert found.fingerprint == made.fingerprint
    assert found.evidence[-1].summary.endswith("…")


def test_an_entry_whose_key_alone_is_too_long_fails_alone() -> None:
    with pytest.raises(PublishError, match=r"too long to keep in a GitHub issue"):
        issue_body(entry(scenario="s" * 60_000))


def test_a_commit_that_is_not_a_sha_is_escaped_not_put_in_a_code_span() -> None:
    seen = Evidence(date="2026-11-03T12:00:00Z", commit="x`@octocat `<b>B</b>", summary="s", url=RUN)
    body = issue_body(entry(evidence=(seen,)))
    assert "`x" not in body
    assert "@octocat" not in body
    assert "<b>" not in body


@pytest.mark.parametrize(
    ("one", "two"),
    [
        (("pro:short", "x"), ("pro", "short:x")),
        (("pro", "-"), ("pro", None)),
        (("a%3Ab", "c"), ("a:b", "c")),
    ],
)
def test_fingerprints_of_different_keys_differ(one: tuple[str, str | None], two: tuple[str, str | None]) -> None:
    assert fingerprint_of(Kind.REGRESSION, *one) != fingerprint_of(Kind.REGRESSION, *two)


def test_usual_names_keep_their_fingerprint() -> None:
    assert fingerprint_of(Kind.REGRESSION, "pro", "short-explain", "ttft_ms") == "regression:pro:short-explain:ttft_ms"
    assert fingerprint_of(Kind.TIER_MISSING, "base") == "tier_missing:base:-:-"
