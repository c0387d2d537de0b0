"""``perfgate gate``: the CI gate over every tier's results, then the PR comment and triage.

Stages: collect every results file under ``--results-dir`` (``contracts.collect``:
a missing directory is exit 2, no results exit 3, stale files left out, a file that
cannot be read refused as its tier's ``bad_input`` problem) → compare with each
tier's baseline (one that cannot be read: the same) → write ``gate.json`` → triage
findings (reconcile with the store) → Markdown summary → job summary → apply
triage → sticky PR comment. A refused file fails the gate (exit 2) and hides
nothing of the other tiers: they are decided, summarised, commented and triaged.

Order matters: the report, ``gate.json``, the Markdown summary and the job
summary are written **before** anything talks to GitHub, so a GitHub outage
never loses the gate's result. Each GitHub write that fails is one line, and
the others are still made; the exit code is the performance verdict's when
that is not a pass, else 5 (publishing failed) when a write failed.

Which event publishes what: a push or ``workflow_dispatch`` run of the default
branch reconciles triage (opens, updates, closes issues); a pull request's run
comments (and files only what ``triage.file_on_pr`` allows, by default nothing);
``--comment`` on a run with no pull request does nothing, silently.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from perfgate.commands import Console, Outcome, collector_paused
from perfgate.commands.baseline import changed_baselines
from perfgate.commands.compare import compare, split_list
from perfgate.commands.history import record_gate_run
from perfgate.commands.triage import load_confirmations, open_store, with_ab_status, with_confirmations
from perfgate.config import PerfgateConfig
from perfgate.contracts.collect import collect_results_dir, require_results
from perfgate.contracts.confirmation import Confirmation
from perfgate.contracts.gate import GateReport, Problem
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
    refused: tuple[Problem, ...] = ()  # results files that could not be read: bad_input problems of their tiers


@dataclass
class GateOutcome:
    report: GateReport
    summary: str
    summary_path: Path
    publish_errors: list[str] = field(default_factory=list)  # GitHub writes (or reads) that failed: exit 5
    notes: list[str] = field(default_factory=list)  # said once, change nothing (no baseline diff, say)


@dataclass(frozen=True)
class Pacing:
    """The sleeper and clock the GitHub client paces and backs off with (tests inject fakes)."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def _github(
    options: GateOptions,
    environ: Mapping[str, str],
    http: httpx.Client | None,
    pacing: Pacing,
    errors: list[str],
    *,
    wanted: bool,
) -> GitHubClient | None:
    """The GitHub client, only when this gate publishes there.

    A GitHub setting that does not validate (a token without GITHUB_REPOSITORY, say) is a
    publishing problem: it must not fail a gate that asked for no GitHub at all, nor lose
    the gate's result.
    """
    if http is None or not wanted:
        return None
    try:
        return GitHubClient.from_env(
            http, environ, repository=options.repository, sleep=pacing.sleep, clock=pacing.clock
        )
    except ConfigError as exc:
        errors.append(f"not publishing to GitHub: {exc}")
        return None


def _baseline_diff(options: GateOptions, environ: Mapping[str, str], notes: list[str]) -> str | None:
    base = environ.get("GITHUB_BASE_REF")
    ref = options.base_ref or (f"origin/{base}" if base else None)
    if ref is None:
        return None
    try:
        diffs = changed_baselines(options.baselines_dir, ref)
    except PerfgateError as exc:
        notes.append(f"baseline diff unavailable: {exc}")
        return None
    return diff_markdown(diffs) if diffs else None


def run_ci_gate(
    options: GateOptions,
    config: PerfgateConfig,
    loaded: Sequence[LoadedResults],
    *,
    environ: Mapping[str, str],
    http: httpx.Client | None,
    pacing: Pacing = Pacing(),
) -> GateOutcome:
    """Compare every tier, write the outputs, then publish; returns what happened (``http`` None: no publishing)."""
    event = load_event(None, environ)
    report = compare(
        loaded,
        config,
        baselines_dir=options.baselines_dir,
        expect_tiers=options.expect_tiers,
        refuse_per_tier=True,
        refused=options.refused,
    )
    write_model(options.results_dir / "gate.json", report)  # first: nothing below can lose the verdict
    context = run_context(environ, event)
    findings = findings_from_report(report, config.triage)
    errors: list[str] = []
    notes: list[str] = []
    # A history not recorded is said and changes nothing (the verdict and the publishing stand).
    notes += record_gate_run(config.history, loaded, report, environ, default_branch=context.is_default_branch)
    findings = with_confirmations(findings, options.confirmations, report, notes)
    # --comment without a pull request (a push, a manual run) has nothing to comment on: no client, no line.
    pr = (options.pr or pr_number(event)) if options.comment else None
    wanted = pr is not None or (options.triage and options.triage_ledger is None)
    github = _github(options, environ, http, pacing, errors, wanted=wanted)
    sink = open_store(config, github, options.triage_ledger, run_url=context.url) if options.triage else None
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
    summary = gate_summary(report, rows, _baseline_diff(options, environ, notes), site_url=config.history.site_url)

    summary_path = options.summary_out or options.results_dir / "summary.md"
    write_text_atomic(summary_path, summary)
    step_summary = environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with Path(step_summary).open("a", encoding="utf-8") as handle:
                handle.write(summary)
        except OSError as exc:
            notes.append(f"job summary not written: {exc.strerror or exc}")

    # Duplicates (one defect filed twice) are closed only by a run that keeps triage.
    if sink is not None and (actions or (context.is_default_branch and sink.duplicates)):
        try:
            errors += sink.apply(entries, actions).failures
        except PublishError as exc:
            errors.append(f"triage not updated: {exc}")
    if pr is not None:
        if github is None:
            if not environ.get("GITHUB_TOKEN", "").strip():
                errors.append("no PR comment: GITHUB_TOKEN is not set")
        else:
            try:
                upsert_sticky_comment(github, pr, summary, author=config.github.bot_login, run_url=context.url)
            except PublishError as exc:
                errors.append(f"PR comment not posted: {exc}")
    return GateOutcome(report, summary, summary_path, errors, notes)


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    from perfgate.render.text import gate_text  # noqa: PLC0415

    # The directory must exist (a mistyped one is exit 2, and is not created); each file passed
    # over is one line. A file that cannot be read fails its tier (exit 2), and the others are gated.
    # With no results, only --expect-tiers or a refused file gives a gate to write.
    results_dir = Path(args.results_dir)
    found = collect_results_dir(results_dir)
    for skipped in found.skipped:
        console.fail(skipped.line)
    loaded = list(found.loaded) if args.expect_tiers or found.refused else require_results(found, [results_dir])
    options = GateOptions(
        results_dir=results_dir,
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
        refused=tuple(refused.problem for refused in found.refused),
    )
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
    for message in (*outcome.notes, *outcome.publish_errors):
        console.fail(message)
    return Outcome(report=outcome.report, publish_failed=bool(outcome.publish_errors))
