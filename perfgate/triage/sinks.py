"""Where triage entries live: a local JSON ledger, or GitHub issues.

Both sinks give the same lifecycle (``perfgate.triage.reconcile`` decides it;
a sink only stores it). On GitHub each entry is one issue carrying the
``perfgate`` label and two hidden markers: the fingerprint (so an entry is
found again and never duplicated) and the entry's state (base64 JSON, so a
message containing ``-->`` cannot break the comment).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from perfgate.contracts.triage import LEDGER_SCHEMA_VERSION, Evidence, TriageEntry, TriageLedger
from perfgate.files import read_model, write_model
from perfgate.markdown_escape import escape
from perfgate.publish.github import GitHubClient
from perfgate.triage.policy import TriageAction

FINGERPRINT_MARKER = "<!-- perfgate-triage: {} -->"
_STATE_RE = re.compile(r"<!-- perfgate-triage-state: ([A-Za-z0-9+/=]+) -->")


class TriageSink(Protocol):
    def load(self) -> list[TriageEntry]: ...

    def apply(self, entries: Sequence[TriageEntry], actions: Sequence[TriageAction]) -> list[TriageEntry]: ...


class LedgerSink:
    """A JSON file with every entry, open and resolved."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[TriageEntry]:
        if not self.path.exists():
            return []
        ledger = read_model(self.path, TriageLedger, what="triage ledger", current_version=LEDGER_SCHEMA_VERSION)
        return list(ledger.entries)

    def apply(self, entries: Sequence[TriageEntry], actions: Sequence[TriageAction]) -> list[TriageEntry]:
        del actions  # the ledger stores the whole new state at once
        ordered = sorted(entries, key=lambda e: (e.status != "open", e.first_seen.date, e.fingerprint))
        write_model(self.path, TriageLedger(entries=tuple(ordered)))
        return list(ordered)


def _evidence_line(evidence: Evidence) -> str:
    where = f" at `{evidence.commit[:10]}`" if evidence.commit else ""
    link = f" ([run]({evidence.url}))" if evidence.url and evidence.url.startswith("https://") else ""
    return f"{evidence.date}{where}: {escape(evidence.summary)}{link}"


def issue_body(entry: TriageEntry) -> str:
    state = base64.b64encode(entry.model_dump_json(exclude={"issue_number"}).encode("utf-8")).decode("ascii")
    lines = [
        FINGERPRINT_MARKER.format(entry.fingerprint),
        f"<!-- perfgate-triage-state: {state} -->",
        f"**{entry.severity}** · owner **{escape(entry.owner)}** · {entry.status} · "
        f"seen {entry.occurrences}× (first {entry.first_seen.date}, last {entry.last_seen.date})",
        "",
        f"**Impact:** {escape(entry.impact)}",
        "",
        "**Recent evidence**",
        "",
        *[f"- {_evidence_line(e)}" for e in entry.evidence],
        "",
        "_Kept by perfgate: updated on recurrence, closed when a later run on the default branch is clean._",
    ]
    return "\n".join(lines) + "\n"


def entry_from_issue(issue: dict[str, Any]) -> TriageEntry | None:
    """The entry an issue carries, or None when it is not a perfgate triage issue (or is damaged)."""
    match = _STATE_RE.search(str(issue.get("body") or ""))
    if match is None:
        return None
    try:
        data = json.loads(base64.b64decode(match.group(1), validate=True))
        entry = TriageEntry.model_validate(data)
    except (binascii.Error, ValueError, ValidationError):
        return None  # someone edited the marker; the entry is treated as new
    status = "open" if issue.get("state") == "open" else "resolved"
    return entry.model_copy(update={"issue_number": int(issue["number"]), "status": status})


class GitHubIssueSink:
    """One GitHub issue per entry, found again by its hidden fingerprint marker."""

    def __init__(self, client: GitHubClient, label: str) -> None:
        self.client = client
        self.label = label

    def load(self) -> list[TriageEntry]:
        found: dict[str, TriageEntry] = {}
        issues = sorted(self.client.list_issues(labels=self.label, state="all"), key=lambda i: int(i["number"]))
        for issue in issues:
            entry = entry_from_issue(issue)
            if entry is not None:
                found.setdefault(entry.fingerprint, entry)  # the oldest issue wins if a race made two
        return list(found.values())

    def apply(self, entries: Sequence[TriageEntry], actions: Sequence[TriageAction]) -> list[TriageEntry]:
        numbers = {e.fingerprint: e.issue_number for e in entries}
        labelled = False
        for action in actions:
            entry = action.entry.model_copy(update={"issue_number": numbers.get(action.entry.fingerprint)})
            number = entry.issue_number
            if action.action == "open" or number is None:
                if not labelled:
                    self.client.ensure_label(self.label, "d93f0b", "Performance triage kept by perfgate")
                    labelled = True
                created = self.client.create_issue(entry.title, issue_body(entry), [self.label])
                numbers[entry.fingerprint] = int(created["number"])
                continue
            line = _evidence_line(action.evidence)
            if action.action == "resolve":
                self.client.create_issue_comment(number, f"Resolved: {line}")
                self.client.update_issue(number, body=issue_body(entry), state="closed", state_reason="completed")
            elif action.action == "reopen":
                self.client.create_issue_comment(number, f"Seen again, reopening: {line}")
                self.client.update_issue(number, body=issue_body(entry), state="open")
            else:
                self.client.create_issue_comment(number, f"Seen again ({entry.occurrences}×): {line}")
                self.client.update_issue(number, body=issue_body(entry))
        return [e.model_copy(update={"issue_number": numbers.get(e.fingerprint)}) for e in entries]
