"""``perfgate history record | drift | push``: the default branch's runs kept, and drift found in them.

- ``record``: results files (or directories of them: a backfill) → one entry per file in the store;
  the gate does the same on its own for every default-branch run when ``history.store`` is set.
- ``drift``: read the store → series per tier × scenario × metric → change points and the drift
  since each tier's baseline → table or JSON → a ``drift`` triage entry per series that drifted
  for the worse → exit 1 when one did, 3 when nothing could be compared (never "no drift" on an
  empty store).
- ``push``: commit the store's new entries on a branch of the repository and push, retrying a race.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic_core import from_json

from perfgate.commands import Console, Outcome
from perfgate.commands.triage import default_ledger
from perfgate.config import HistoryConfig, PerfgateConfig
from perfgate.contracts.baseline import baseline_path, load_baseline
from perfgate.contracts.collect import RESULTS_KIND
from perfgate.contracts.gate import GATE_SCHEMA_VERSION, GateReport
from perfgate.contracts.history import HistoryEntry
from perfgate.contracts.results import LoadedResults, load_results
from perfgate.errors import CouldNotMeasure, UsageError
from perfgate.files import read_model, read_text_limited
from perfgate.history.drift import BaselineLevel, DriftSettings, analyse, compared_any, outdated_baselines
from perfgate.history.gitstore import push_store
from perfgate.history.series import series_from_entries
from perfgate.history.store import RunInfo, read_store, record
from perfgate.provenance import utc_now_iso
from perfgate.triage.drift import drift_findings, file_drift
from perfgate.triage.policy import RunContext
from perfgate.triage.sinks import LedgerSink


def _store(args: argparse.Namespace, config: PerfgateConfig) -> Path:
    where = args.store or config.history.store
    if not where:
        raise UsageError("name the history store: --store DIR, or set history.store in the config")
    return Path(where)


# ---------------------------------------------------------------- record


def _is_results(path: Path) -> bool:
    try:
        parsed: object = from_json(read_text_limited(path, "results"))
    except (UsageError, ValueError):
        return False
    return isinstance(parsed, dict) and parsed.get("kind") == RESULTS_KIND


def results_to_record(paths: Sequence[Path]) -> list[LoadedResults]:
    """Named results files as given; every results file under a named directory (gate.json and the like passed over)."""
    loaded: list[LoadedResults] = []
    for path in paths:
        if path.is_dir():
            loaded += [load_results(f) for f in sorted(path.rglob("*.json")) if f.is_file() and _is_results(f)]
        elif path.exists():
            loaded.append(load_results(path))
        else:
            raise UsageError(f"{path}: no such file or directory")
    if not loaded:
        raise UsageError(f"no results files found in {', '.join(str(p) for p in paths)}")
    return loaded


def run_info(environ: Mapping[str, str], **given: str | None) -> RunInfo:
    """This run's identity: flags first, then GitHub Actions' environment."""
    run_id = given.get("run_id") or environ.get("GITHUB_RUN_ID") or None
    server, repo = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    url = f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None
    return RunInfo(
        recorded_at=utc_now_iso(),
        branch=given.get("branch") or environ.get("GITHUB_REF_NAME") or None,
        run_id=run_id,
        run_url=given.get("run_url") or url,
        commit=given.get("commit"),
    )


def execute_record(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    store = _store(args, config)
    loaded = results_to_record([Path(p) for p in args.results])
    if args.commit and len(loaded) > 1:
        raise UsageError("--commit names the commit of one results file; record files of other commits one by one")
    report = (
        read_model(Path(args.gate), GateReport, what="gate report", current_version=GATE_SCHEMA_VERSION)
        if args.gate
        else None
    )
    info = run_info(os.environ, branch=args.branch, run_id=args.run_id, commit=args.commit)
    written = record(store, loaded, info, report)
    console.say(f"recorded {len(written)} history entr{'y' if len(written) == 1 else 'ies'} in {store}")
    return Outcome()


def record_gate_run(
    history: HistoryConfig,
    loaded: Sequence[LoadedResults],
    report: GateReport,
    environ: Mapping[str, str],
    *,
    default_branch: bool,
) -> list[str]:
    """A default-branch gate's runs into ``history.store`` (when set); a one-line problem, never fatal, if not."""
    if history.store is None or not default_branch:
        return []
    try:
        record(Path(history.store), loaded, run_info(environ), report)
    except UsageError as exc:
        return [f"history not recorded: {exc}"]
    return []


# ---------------------------------------------------------------- drift


def settings_of(history: HistoryConfig) -> DriftSettings:
    return DriftSettings(
        max_p=history.max_p,
        permutations=history.permutations,
        min_size=history.min_runs,
        min_magnitude=history.min_magnitude,
        recent_runs=history.recent_runs,
        seed=history.seed,
    )


def baseline_levels(baselines_dir: Path, tiers: Sequence[str]) -> dict[str, BaselineLevel]:
    """Each tier's committed baseline as the level of every series (a tier without one is left out)."""
    levels: dict[str, BaselineLevel] = {}
    for tier in tiers:
        path = baseline_path(baselines_dir, tier)
        if not path.is_file():
            continue
        baseline = load_baseline(path)
        medians: dict[tuple[str, str], float] = {}
        for scenario, metrics in baseline.samples.items():
            for metric, values in metrics.items():
                if values:
                    ordered = sorted(values)
                    mid = len(ordered) // 2
                    medians[scenario, metric] = (
                        ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
                    )
        levels[tier] = BaselineLevel(tier, baseline.provenance.git_sha, baseline.provenance.measured_at, medians)
    return levels


def _app_scenarios(entries: Sequence[HistoryEntry]) -> set[tuple[str, str]]:
    return {(e.tier, name) for e in entries for name, fp in e.fingerprint.scenarios.items() if fp.command is not None}


def execute_drift(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    from perfgate.render.drift import drift_json, drift_text  # noqa: PLC0415

    store = _store(args, config)
    contents = read_store(store)
    for line in contents.skipped:
        console.fail(line)
    series = series_from_entries(contents.entries, branch=args.branch)
    tiers = sorted({key.tier for key in series})
    baselines = baseline_levels(Path(args.baselines_dir or config.baselines_dir), tiers)
    drifts = analyse(
        series, config, baselines, app_scenarios=_app_scenarios(contents.entries), settings=settings_of(config.history)
    )
    if not compared_any(drifts):
        where = f" on branch {args.branch!r}" if args.branch else ""
        raise CouldNotMeasure(
            f"{store}: nothing to compare: {len(contents.entries)} entries{where}, no series of "
            f"{2 * config.history.min_runs} runs or more and none with a baseline; record more runs "
            "(perfgate history record) before asking for drift"
        )
    outdated = outdated_baselines(
        drifts, baselines, now=datetime.now(UTC), max_age_days=config.gate.max_baseline_age_days
    )
    if args.format == "json":
        console.say(json.dumps(drift_json(drifts, outdated), indent=2, sort_keys=True))
    else:
        console.say(drift_text(drifts, outdated, show_all=args.all))
    findings = drift_findings(drifts, config.triage)
    if findings and not args.no_triage:
        ledger = Path(args.triage_ledger) if args.triage_ledger else default_ledger(config)
        sink = LedgerSink(ledger)
        latest = contents.entries[-1] if contents.entries else None
        context = RunContext(
            date=utc_now_iso(),
            commit=latest.commit if latest else None,
            run_id=os.environ.get("GITHUB_RUN_ID"),
            is_default_branch=True,
        )
        entries, actions = file_drift(sink.load(), findings, context, config.triage)
        sink.apply(entries, actions)
        console.fail(f"{len(findings)} drift triage entr{'y' if len(findings) == 1 else 'ies'} in {ledger}")
    return Outcome(regression=bool(findings))


# ---------------------------------------------------------------- push


def execute_push(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    store = _store(args, config)
    result = push_store(store, branch=args.branch, remote=args.remote, repo=Path(args.repo) if args.repo else None)
    if not result.added:
        console.say(f"{args.remote} {args.branch} already holds every entry of {store}")
    else:
        raced = f" after {result.attempts - 1} race(s) with another writer" if result.attempts > 1 else ""
        console.say(
            f"pushed {len(result.added)} entr{'y' if len(result.added) == 1 else 'ies'} to "
            f"{args.remote} {args.branch}{raced}"
        )
    return Outcome()
