"""Where triage entries live: a local JSON ledger, or GitHub issues.

Both sinks give the same lifecycle (``perfgate.triage.reconcile`` decides it;
a sink only stores it). On GitHub each entry is one issue carrying the
``perfgate`` label and two hidden markers, each alone on its line at the top
of the body: the fingerprint marker (the SHA-256 of the fingerprint, so no tier
or scenario text is ever inside an HTML comment) and the state marker (the
entry as base64 JSON). Only those two lines are read back, and only from
issues the configured bot account opened, so nothing a results file says, and
nothing another account writes, can pass for perfgate's state. The readable
part of the body is escaped, and the title and body are cut below GitHub's
limits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from perfgate.contracts.triage import LEDGER_SCHEMA_VERSION, Evidence, TriageEntry, TriageLedger
from perfgate.errors import PublishError
from perfgate.files import clip, read_model, write_model
from perfgate.markdown_escape import escape, escape_title
from perfgate.publish.github import DEFAULT_BOT_LOGIN, GitHubClient, authored_by
from perfgate.publish.limits import fit_body, fit_title, safe_run_url
from perfgate.triage.policy import TriageAction

FINGERPRINT_MARKER = "<!-- perfgate-triage: {} -->"
STATE_MARKER = "<!-- perfgate-triage-state: {} -->"
_STATE_RE = re.compile(r"<!-- perfgate-triage-state: ([A-Za-z0-9+/=]+) -->")
_SHA = re.compile(r"[0-9a-f]{7,40}")
TEXT_KEPT = 1_000  # characters of a message kept in an issue (the run's artifact has all of it)
STATE_MAX = 40_000  # the state marker's budget: it must survive the body's cut at 65,536
LABEL_COLOR = "d93f0b"


class TriageSink(Protocol):
    def load(self) -> list[TriageEntry]: ...

    def apply(self, entries: Sequence[TriageEntry], actions: Sequence[TriageAction]) -> Applied: ...

    @property
    def duplicates(self) -> Sequence[tuple[int, int]]:
        """Issues to close as duplicates, each with the older one kept (GitHub only)."""
        ...


@dataclass(frozen=True)
class Applied:
    """What a sink stored, and one line per write that failed (the others were still made)."""

    entries: list[TriageEntry]
    failures: list[str] = field(default_factory=list)


class LedgerSink:
    """A JSON file with every entry, open and resolved."""

    duplicates: Sequence[tuple[int, int]] = ()

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[TriageEntry]:
        if not self.path.exists():
            return []
        ledger = read_model(self.path, TriageLedger, what="triage ledger", current_version=LEDGER_SCHEMA_VERSION)
        return list(ledger.entries)

    def apply(self, entries: Sequence[TriageEntry], actions: Sequence[TriageAction]) -> Applied:
        del actions  # the ledger stores the whole new state at once
        ordered = sorted(entries, key=lambda e: (e.status != "open", e.first_seen.date, e.fingerprint))
        write_model(self.path, TriageLedger(entries=tuple(ordered)))
        return Applied(list(ordered))


# ---------------------------------------------------------------- the issue's text


def marker_key(fingerprint: str) -> str:
    """What the fingerprint marker carries: the fingerprint's SHA-256 (hex), so no raw text is inside it."""
    return hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()


def fingerprint_marker(fingerprint: str) -> str:
    return FINGERPRINT_MARKER.format(marker_key(fingerprint))


def _evidence_line(evidence: Evidence) -> str:
    commit = evidence.commit
    if commit and _SHA.fullmatch(commit):
        where = f" at `{commit[:10]}`"
    else:
        where = f" at {escape(clip(commit, 40))}" if commit else ""
    url = safe_run_url(evidence.url)
    link = f" ([run]({url}))" if url else ""
    return f"{escape(evidence.date)}{where}: {escape(clip(evidence.summary, TEXT_KEPT))}{link}"


def _slim_evidence(evidence: Evidence | None, kept: int) -> Evidence | None:
    if evidence is None:
        return None
    return evidence.model_copy(
        update={
            "summary": clip(evidence.summary, kept),
            "commit": clip(evidence.commit, 64) if evidence.commit else evidence.commit,
            "run_id": clip(evidence.run_id, 64) if evidence.run_id else evidence.run_id,
            "url": evidence.url if safe_run_url(evidence.url) else None,
            "date": clip(evidence.date, 64),
        }
    )


def _state(entry: TriageEntry) -> str:
    """The state marker's payload: the entry as base64 JSON, its free text cut to stay within STATE_MAX.

    The fingerprint (and the tier, scenario and metric it is made of) is never cut:
    it is how the entry is found again. An entry whose key alone is too long fails
    on its own, and the others are still written.
    """
    for kept, evidence_kept in ((TEXT_KEPT, None), (200, 1)):
        evidence = entry.evidence if evidence_kept is None else entry.evidence[-evidence_kept:]
        slim = entry.model_copy(
            update={
                "title": clip(entry.title, 300),
                "impact": clip(entry.impact, kept),
                "owner": clip(entry.owner, 100),
                "severity": clip(entry.severity, 20),
                "first_seen": _slim_evidence(entry.first_seen, kept),
                "last_seen": _slim_evidence(entry.last_seen, kept),
                "resolved_at": _slim_evidence(entry.resolved_at, kept),
                "evidence": tuple(e for e in (_slim_evidence(x, kept) for x in evidence) if e is not None),
            }
        )
        text = base64.b64encode(slim.model_dump_json(exclude={"issue_number"}).encode("utf-8")).decode("ascii")
        if len(text) <= STATE_MAX:
            return text
    raise PublishError(
        f"triage entry {clip(entry.fingerprint, 60)!r} is too long to keep in a GitHub issue "
        f"(its tier, scenario and metric alone take {len(entry.fingerprint)} characters)"
    )


def issue_title(entry: TriageEntry) -> str:
    return fit_title(escape_title(entry.title))


def issue_body(entry: TriageEntry, run_url: str | None = None) -> str:
    where = [f"kind `{entry.kind.value}`", f"tier **{escape(entry.tier)}**"]
    where += [f"scenario **{escape(entry.scenario)}**"] if entry.scenario else []
    where += [f"metric **{escape(entry.metric)}**"] if entry.metric else []
    lines = [
        fingerprint_marker(entry.fingerprint),
        STATE_MARKER.format(_state(entry)),
        f"**{escape(entry.severity)}** · owner **{escape(entry.owner)}** · {entry.status} · "
        f"seen {entry.occurrences}× (first {escape(entry.first_seen.date)}, last {escape(entry.last_seen.date)})",
        "",
        f"**Where:** {' · '.join(where)}",
        "",
        f"**Impact:** {escape(clip(entry.impact, TEXT_KEPT))}",
        "",
        "**Recent evidence**",
        "",
        *[f"- {_evidence_line(e)}" for e in entry.evidence],
        "",
        "_Kept by perfgate: updated on recurrence, closed when a later run on the default branch is clean._",
    ]
    return fit_body("\n".join(lines) + "\n", run_url)


def _first_lines(body: str) -> list[str]:
    return [line.strip() for line in body.replace("\r\n", "\n").split("\n", 2)[:2]]


def entry_from_issue(issue: Mapping[str, Any]) -> TriageEntry | None:
    """The entry an issue carries, or None when it is not a perfgate triage issue (or is damaged).

    Only the body's first two lines count: the fingerprint marker, then the state
    marker. The fingerprint marker must be the digest of the state's own fingerprint
    (or that fingerprint in clear, as earlier perfgate wrote it: such an issue is
    adopted and rewritten), so a state copied into another issue, or one a hostile
    name tried to fake, is not taken.
    """
    lines = _first_lines(str(issue.get("body") or ""))
    match = _STATE_RE.fullmatch(lines[1]) if len(lines) == 2 else None
    if match is None:
        return None
    try:
        data = json.loads(base64.b64decode(match.group(1), validate=True))
        entry = TriageEntry.model_validate(data)
    except (binascii.Error, ValueError, ValidationError):
        return None  # someone edited the marker; the entry is treated as new
    if lines[0] not in (fingerprint_marker(entry.fingerprint), FINGERPRINT_MARKER.format(entry.fingerprint)):
        return None
    status = "open" if issue.get("state") == "open" else "resolved"
    return entry.model_copy(update={"issue_number": int(issue["number"]), "status": status})


# ---------------------------------------------------------------- the GitHub sink


class GitHubIssueSink:
    """One GitHub issue per entry, found again by its hidden fingerprint marker.

    Only issues by ``author`` (the configured bot account) are read. If two open
    issues carry one marker (a create whose answer was lost, then made again),
    the older is kept and the newer is closed as its duplicate by ``apply``.
    """

    def __init__(
        self, client: GitHubClient, label: str, *, author: str = DEFAULT_BOT_LOGIN, run_url: str | None = None
    ) -> None:
        self.client = client
        self.label = label
        self.author = author
        self.run_url = run_url
        self._duplicates: list[tuple[int, int]] = []
        self._labelled = False

    @property
    def duplicates(self) -> Sequence[tuple[int, int]]:
        return tuple(self._duplicates)

    def load(self) -> list[TriageEntry]:
        issues = sorted(self.client.list_issues(labels=self.label, state="all"), key=lambda i: int(i["number"]))
        groups: dict[str, list[TriageEntry]] = {}
        for issue in issues:
            entry = entry_from_issue(issue) if authored_by(issue, self.author) else None
            if entry is not None:
                groups.setdefault(entry.fingerprint, []).append(entry)
        self._duplicates = []
        found: list[TriageEntry] = []
        for group in groups.values():
            open_ones = [e for e in group if e.status == "open"]
            kept = open_ones[0] if open_ones else group[0]  # the oldest open one, else the oldest
            found.append(kept)
            self._duplicates += [(_number(e), _number(kept)) for e in open_ones if e is not kept]
        return found

    def apply(self, entries: Sequence[TriageEntry], actions: Sequence[TriageAction]) -> Applied:
        """Carry out every action; a write GitHub refuses fails alone, the others are still made."""
        numbers = {e.fingerprint: e.issue_number for e in entries}
        failures: list[str] = []
        touched: set[int] = set()
        for duplicate, kept in self._duplicates:
            try:
                self._comment(duplicate, f"Duplicate of #{kept}: perfgate opened this defect twice; tracked there.")
                self.client.update_issue(duplicate, state="closed", state_reason="not_planned")
            except PublishError as exc:
                failures.append(f"triage: issue #{duplicate} not closed as a duplicate of #{kept}: {exc}")
        for action in actions:
            fingerprint = action.entry.fingerprint
            try:
                touched.add(self._apply(action, numbers))
            except PublishError as exc:
                number = numbers.get(fingerprint)
                what = f"issue #{number}" if number else f"{clip(fingerprint, 60)!r}"
                failures.append(f"triage: could not {action.action} {what}: {exc}")
        by_number = {e.issue_number: e for e in entries if e.issue_number is not None}
        for _, kept in self._duplicates:
            if kept not in touched and kept in by_number:  # the one kept now says what the duplicate said
                try:
                    self.client.update_issue(kept, body=issue_body(by_number[kept], self.run_url))
                    touched.add(kept)
                except PublishError as exc:
                    failures.append(f"triage: could not update issue #{kept}: {exc}")
        self._duplicates = []
        return Applied([e.model_copy(update={"issue_number": numbers.get(e.fingerprint)}) for e in entries], failures)

    def _apply(self, action: TriageAction, numbers: dict[str, int | None]) -> int:
        entry = action.entry.model_copy(update={"issue_number": numbers.get(action.entry.fingerprint)})
        number = entry.issue_number
        if action.action == "open" or number is None:
            if not self._labelled:
                self.client.ensure_label(self.label, LABEL_COLOR, "Performance triage kept by perfgate")
                self._labelled = True
            body = issue_body(entry, self.run_url)
            created = self.client.create_issue(
                issue_title(entry), body, [self.label], find=lambda: self._find_issue(entry.fingerprint)
            )
            numbers[entry.fingerprint] = int(created["number"])
            return int(created["number"])
        line = _evidence_line(action.evidence)
        body = issue_body(entry, self.run_url)
        if action.action == "resolve":
            self._comment(number, f"Resolved: {line}")
            self.client.update_issue(number, body=body, state="closed", state_reason="completed")
        elif action.action == "reopen":
            self._comment(number, f"Seen again, reopening: {line}")
            self.client.update_issue(number, body=body, state="open")
        else:
            self._comment(number, f"Seen again ({entry.occurrences}×): {line}")
            self.client.update_issue(number, body=body)
        return number

    def _comment(self, number: int, text: str) -> None:
        body = fit_body(text, self.run_url)
        self.client.create_issue_comment(number, body, find=lambda: self._find_comment(number, body))

    def _find_comment(self, number: int, body: str) -> dict[str, Any] | None:
        """Our comment with this very text on the issue, if a create whose answer was lost made it."""
        mine = [
            c
            for c in self.client.list_issue_comments(number)
            if authored_by(c, self.author) and str(c.get("body") or "").replace("\r\n", "\n") == body
        ]
        return mine[-1] if mine else None

    def _find_issue(self, fingerprint: str) -> dict[str, Any] | None:
        """The open issue with this entry's marker, if a create whose answer was lost made it."""
        marker = fingerprint_marker(fingerprint)
        return _oldest(
            issue
            for issue in self.client.list_issues(labels=self.label, state="open")
            if authored_by(issue, self.author) and _first_lines(str(issue.get("body") or ""))[0] == marker
        )


def _number(entry: TriageEntry) -> int:
    assert entry.issue_number is not None, "entries read from GitHub carry their issue's number"
    return entry.issue_number


def _oldest(issues: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    return min(issues, key=lambda issue: int(issue["number"]), default=None)
