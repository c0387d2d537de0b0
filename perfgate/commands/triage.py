"""``perfgate triage list``, and what ``gate`` shares for triage: the store, and the A/B confirmation files.

Stages: choose the store (GitHub issues with a token, else the local ledger)
→ load its entries → print the open ones (or all).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from pydantic_core import from_json

from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig
from perfgate.contracts.confirmation import CONFIRMATION_KIND, Confirmation, load_confirmation
from perfgate.contracts.gate import GateReport
from perfgate.errors import UsageError
from perfgate.files import read_text_limited
from perfgate.publish.github import GitHubClient
from perfgate.render.summary import TriageRow
from perfgate.triage.ab import apply_confirmations
from perfgate.triage.policy import Finding
from perfgate.triage.sinks import GitHubIssueSink, LedgerSink, TriageSink

LEDGER_NAME = "triage-ledger.json"


def default_ledger(config: PerfgateConfig) -> Path:
    """Where the local ledger lives unless ``--triage-ledger`` says otherwise: ``<results_dir>/triage-ledger.json``."""
    return Path(config.results_dir) / LEDGER_NAME


def open_store(
    config: PerfgateConfig, github: GitHubClient | None, ledger: Path | None, *, run_url: str | None = None
) -> TriageSink:
    """GitHub issues when there is a client and no explicit ledger; otherwise the local ledger."""
    if ledger is None and github is not None:
        return GitHubIssueSink(github, config.triage.label, author=config.github.bot_login, run_url=run_url)
    return LedgerSink(ledger or default_ledger(config))


def _is_confirmation(path: Path) -> bool:
    """A JSON file that says it is a confirmation (anything else in a results directory is not ours to read)."""
    try:
        parsed: object = from_json(read_text_limited(path, "confirmation"))
    except (UsageError, ValueError):
        return False
    return isinstance(parsed, dict) and parsed.get("kind") == CONFIRMATION_KIND


def load_confirmations(paths: Sequence[Path]) -> list[tuple[str, Confirmation]]:
    """Confirmation files named, or found under named directories; a named file that is not one is exit 2."""
    loaded: list[tuple[str, Confirmation]] = []
    for path in paths:
        if path.is_dir():
            for file in sorted(path.rglob("*.json")):
                if file.is_file() and _is_confirmation(file):
                    loaded.append((str(file), load_confirmation(file)))
        elif path.exists():
            loaded.append((str(path), load_confirmation(path)))
        else:
            raise UsageError(f"--confirmations {path}: no such file or directory")
    return loaded


def with_confirmations(
    findings: Sequence[Finding],
    confirmations: Sequence[tuple[str, Confirmation]],
    report: GateReport,
    notes: list[str],
) -> list[Finding]:
    """The findings, the regressions an A/B re-measure looked at marked by it; a file that cannot apply is a note."""
    if not confirmations:
        return list(findings)
    applied = apply_confirmations(findings, confirmations, report)
    notes.extend(applied.notes)
    return applied.findings


def with_ab_status(rows: Sequence[TriageRow], findings: Sequence[Finding]) -> list[TriageRow]:
    """The Defect Triage rows, each regression an A/B re-measure refuted saying so (it is never filed)."""
    refuted = {f.summary: f.refuted for f in findings if f.refuted is not None}
    return [
        dataclasses.replace(row, status=f"Not filed: {refuted[row.defect]}") if row.defect in refuted else row
        for row in rows
    ]


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    import httpx  # noqa: PLC0415 -- only when GitHub may be asked

    from perfgate.render.text import triage_text  # noqa: PLC0415

    ledger = Path(args.triage_ledger) if args.triage_ledger else None
    with httpx.Client() as http:
        github = None if ledger else GitHubClient.from_env(http, dict(os.environ), repository=args.repository)
        entries = open_store(config, github, ledger).load()
    shown = entries if args.all else [e for e in entries if e.status == "open"]
    console.say(triage_text(shown))
    return Outcome()
