"""``perfgate triage list``, and the one choice of triage store that ``gate`` shares.

Stages: choose the store (GitHub issues with a token, else the local ledger)
→ load its entries → print the open ones (or all).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig
from perfgate.publish.github import GitHubClient
from perfgate.triage.sinks import GitHubIssueSink, LedgerSink, TriageSink

LEDGER_NAME = "triage-ledger.json"


def default_ledger(config: PerfgateConfig) -> Path:
    """Where the local ledger lives unless ``--triage-ledger`` says otherwise: ``<results_dir>/triage-ledger.json``."""
    return Path(config.results_dir) / LEDGER_NAME


def open_store(config: PerfgateConfig, github: GitHubClient | None, ledger: Path | None) -> TriageSink:
    """GitHub issues when there is a client and no explicit ledger; otherwise the local ledger."""
    if ledger is None and github is not None:
        return GitHubIssueSink(github, config.triage.label)
    return LedgerSink(ledger or default_ledger(config))


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
