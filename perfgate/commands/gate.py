"""``perfgate gate``: the CI gate over every tier's results, then the PR comment and triage.

Stages: collect every results file under ``--results-dir`` (``contracts.collect``:
a missing directory is exit 2, no results exit 3, stale files left out) → compare with each
tier's baseline → write ``gate.json`` → triage findings (reconcile with the
store) → Markdown summary → job summary → apply triage → sticky PR comment.

Order matters: the report, ``gate.json``, the Markdown summary and the job
summary are written **before** anything talks to GitHub, so a GitHub outage
never loses the gate's result; a publishing failure is returned as a one-line
message and never changes the exit code, which reflects performance only.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from perfgate.commands import Console, Outcome, collector_paused
from perfgate.commands.baseline import changed_baselines
from perfgate.commands.compare import compare, split_list
from perfgate.commands.triage import load_confirmations, open_store, with_ab_status, with_confirmations
from perfgate.config import PerfgateConfig
from perfgate.contracts.collect import collect_results_dir, require_results
from perfgate.contracts.confirmation import Confirmation
from perfgate.contracts.gate import GateReport
from perfgate.contracts.results import LoadedResults
from perfgate.contracts.triage import TriageEntry
from perfgate.errors import ConfigError, PerfgateError, PublishError
from perfgate.files import write_model, write_text_atomic
from perfgate.publish.actions import load_event, pr_number, run_context
from perfgate.publish.comment import upsert_sticky_comment
from perfgate.publish.github import GitHubClient
from perfgate.render.baseline_diff import diff_markdown
from perfgate.render.summary import gate_summary
from perfgate.render.triage_table import triage_rows
from perfgate.triage.policy import TriageAction, findings_from_report, reconcile


@dataclass(frozen=True)
class GateOptions:
    results_dir: Path
    baselines_dir: Path
    expect_tiers: tuple[str, ...] = ()
    summary_out: Path | None = None
    comment: bool = False
    triage: bool = False
    triage_ledger: Path | None = None
    pr: int | None = None
    repository: str | None = None
    base_ref: str | None = None
    confirmations: tuple[tuple[str, Confirmation], ...] = ()  # --confirmations: A/B re-measures, read


@dataclass
class GateOutcome:
    report: GateReport
    summary: str
    summary_path: Path
    publish_errors: list[str] = field(default_factory=list)


def _github(
    options: GateOptions, environ: Mapping[str, str], http: httpx.Client | None, errors: list[str]
) -> GitHubClient | None:
    """The GitHub client, only when this gate publishes there.

    A GitHub setting that does not validate (a token without GITHUB_REPOSITORY, say) is a
    publishing problem: it must not fail a gate that asked for no GitHub at all, nor lose
    the gate's result.
    """
    if http is None or not (options.comment or (options.triage and options.triage_ledger is None)):
        return None
    try:
        return GitHubClient.from_env(http, environ, repository=options.repository)
    except ConfigError as exc:
        errors.append(f"not publishing to GitHub: {exc}")
        return None


def _baseline_diff(options: GateOptions, environ: Mapping[str, str], errors: list[str]) -> str | None:
    base = environ.get("GITHUB_BASE_REF")
    ref = options.base_ref or (f"origin/{base}" if base else None)
    if ref is None:
        return None
    try:
        diffs = changed_baselines(options.baselines_dir, ref)
    except PerfgateError as exc:
        errors.append(f"baseline diff unavailable: {exc}")
        return None
    return diff_markdown(diffs) if diffs else None


def run_ci_gate(
    options: GateOptions,
    config: PerfgateConfig,
    loaded: Sequence[LoadedResults],
    *,
    environ: Mapping[str, str],
    http: httpx.Client | None,
) -> GateOutcome:
    """Compare every tier, write the outputs, then publish; returns what happened (``http`` None: no publishing)."""
    event = load_event(None, environ)
    report = compare(
        loaded,
        config,
        baselines_dir=options.baselines_dir,
        expect_tiers=options.expect_tiers,
    )
    write_model(options.results_dir / "gate.json", report)  # first: nothing below can lose the verdict
    context = run_context(environ, event)
    findings = findings_from_report(report, config.triage)
    errors: list[str] = []
    findings = with_confirmations(findings, options.confirmations, report, errors)
    github = _github(options, environ, http, errors)
    sink = open_store(config, github, options.triage_ledger) if options.triage else None
    entries: list[TriageEntry] = []
    actions: list[TriageAction] = []
    if sink is not None:
        try:
            entries, actions = reconcile(sink.load(), findings, report, context, config.triage)
        except PublishError as exc:
            errors.append(f"triage not updated: {exc}")
            sink = None
    rows = with_ab_status(
        triage_rows(findings, actions, entries, context, config.triage, filing=sink is not None), findings
    )
    summary = gate_summary(report, rows, _baseline_diff(options, environ, errors), site_url=config.history.site_url)

    summary_path = options.summary_out or options.results_dir / "summary.md"
    write_text_atomic(summary_path, summary)
    step_summary = environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with Path(step_summary).open("a", encoding="utf-8") as handle:
                handle.write(summary)
        except OSError as exc:
            errors.append(f"job summary not written: {exc.strerror or exc}")

    if sink is not None and actions:
        try:
            sink.apply(entries, actions)
        except PublishError as exc:
            errors.append(f"triage not updated: {exc}")
    if options.comment:
        number = options.pr or pr_number(event)
        if github is None:
            if not environ.get("GITHUB_TOKEN", "").strip():
                errors.append("no PR comment: GITHUB_TOKEN is not set")
        elif number is None:
            errors.append("no PR comment: not a pull request (pass --pr N)")
        else:
            try:
                upsert_sticky_comment(github, number, summary)
            except PublishError as exc:
                errors.append(f"PR comment not posted: {exc}")
    return GateOutcome(report, summary, summary_path, errors)


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    from perfgate.render.text import gate_text  # noqa: PLC0415

    options = GateOptions(
        results_dir=Path(args.results_dir),
        baselines_dir=Path(args.baselines_dir or config.baselines_dir),
        expect_tiers=tuple(split_list(args.expect_tiers)),
        summary_out=Path(args.summary_out) if args.summary_out else None,
        comment=args.comment,
        triage=args.triage,
        triage_ledger=Path(args.triage_ledger) if args.triage_ledger else None,
        pr=args.pr,
        repository=args.repository,
        base_ref=args.base_ref,
        confirmations=tuple(load_confirmations([Path(p) for p in args.confirmations or ()])),
    )
    # The directory must exist (a mistyped one is exit 2, and is not created); each file passed
    # over is one line. With no results, only --expect-tiers gives a gate to write (each tier missing).
    found = collect_results_dir(options.results_dir)
    for skipped in found.skipped:
        console.fail(skipped.line)
    loaded = list(found.loaded) if options.expect_tiers else require_results(found, [options.results_dir])
    # Only a gate that may publish talks to GitHub; making the client loads a CA bundle (about 0.1 s).
    with (
        collector_paused(),
        httpx.Client() if options.comment or options.triage else nullcontext() as http,
    ):
        outcome = run_ci_gate(options, config, loaded, environ=dict(os.environ), http=http)
        console.say(gate_text(outcome.report))
    console.say(f"\ngate.json and {outcome.summary_path.name} written to {outcome.summary_path.parent}")
    for problem in outcome.report.problems:
        console.fail(problem.message)
    for message in outcome.publish_errors:
        console.fail(message)
    return Outcome(report=outcome.report)
