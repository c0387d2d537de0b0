"""The history store on disk: one ``HistoryEntry`` file per (run, tier), written atomically, read all at once.

``<store>/<tier>/<YYYYMMDDTHHMMSSZ>-<commit[:12]>-<run>.json``: the time first, so a
directory listing is the series' order; ``<run>`` is the CI run id, else a digest of
what it measured, so two writers never pick the same name and recording the same
results twice (a backfill run again) writes the same file.
A file is written to a temp file next to it and renamed over, so a reader never sees
half of one. A store read as a whole skips a damaged file with a one-line warning
naming it (one bad file must not hide years of history) but refuses a file written by
a newer perfgate: that is this perfgate being too old, and its series would be cut.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfgate import __version__
from perfgate.contracts.gate import GateReport
from perfgate.contracts.history import HISTORY_SCHEMA_VERSION, HistoryEntry, MetricSummary
from perfgate.contracts.results import LoadedResults, metric_values
from perfgate.errors import BadFileError, NewerSchemaError, UsageError
from perfgate.files import dumps_model, read_model, write_text_atomic

WHAT = "history entry"
_RUN_ID = re.compile(r"[^A-Za-z0-9._-]+")


def _compact_time(iso: str) -> str:
    """``2026-11-28T22:37:13Z`` as ``20261128T223713Z``: sortable, and no ``:`` in a file name."""
    return re.sub(r"[-:]", "", iso.split(".", maxsplit=1)[0].removesuffix("Z").split("+")[0]) + "Z"


def entry_file_name(entry: HistoryEntry) -> str:
    """The entry's file name inside its tier's directory."""
    run = _RUN_ID.sub("-", entry.run_id)[:40] if entry.run_id else None
    if not run:
        # What was measured, not when it was written down: recording the same results twice is one file.
        measured = entry.model_dump_json(exclude={"recorded_at", "perfgate_version", "branch", "run_url"})
        run = "local-" + hashlib.sha256(measured.encode("utf-8")).hexdigest()[:10]
    return f"{_compact_time(entry.measured_at)}-{entry.commit[:12]}-{run}.json"


def entry_path(store: Path, entry: HistoryEntry) -> Path:
    return store / entry.tier / entry_file_name(entry)


def write_entry(store: Path, entry: HistoryEntry) -> Path:
    """Write one entry (atomically: temp file + rename); returns its path. The same entry again is a no-op."""
    path = entry_path(store, entry)
    write_text_atomic(path, dumps_model(entry))
    return path


def read_entry(path: Path) -> HistoryEntry:
    """One entry; a newer schema is refused ("upgrade perfgate"), a bad file names itself and the field."""
    return read_model(path, HistoryEntry, what=WHAT, current_version=HISTORY_SCHEMA_VERSION)


@dataclass(frozen=True)
class StoreContents:
    entries: tuple[HistoryEntry, ...]
    skipped: tuple[str, ...] = ()  # one line per damaged file left out
    files: tuple[Path, ...] = field(default=(), repr=False)


def entry_files(store: Path) -> list[Path]:
    """Every entry file of the store (temp files of writers at work are not entries)."""
    if not store.is_dir():
        raise UsageError(f"{store}: history store not found (a directory of <tier>/<entry>.json files)")
    return sorted(p for p in store.glob("*/*.json") if not p.name.startswith(".") and p.is_file())


def read_store(store: Path) -> StoreContents:
    """Every readable entry, oldest first; damaged files skipped (named), newer ones refused."""
    entries: list[HistoryEntry] = []
    skipped: list[str] = []
    files = entry_files(store)
    for path in files:
        try:
            entry = read_entry(path)
        except NewerSchemaError:
            raise
        except BadFileError as exc:
            skipped.append(f"warning: skipped {exc}")
            continue
        if entry.tier != path.parent.name:
            skipped.append(f"warning: skipped {path}: entry of tier {entry.tier!r} in directory {path.parent.name!r}")
            continue
        entries.append(entry)
    entries.sort(key=lambda e: (e.measured_at, e.commit))
    return StoreContents(tuple(entries), tuple(skipped), tuple(files))


# ---------------------------------------------------------------- entries from results files


@dataclass(frozen=True)
class RunInfo:
    """Where the run came from: CI's own identity when there is one."""

    recorded_at: str
    branch: str | None = None
    run_id: str | None = None
    run_url: str | None = None
    commit: str | None = None  # overrides the results files' git_sha (a backfill of files that lack one)


def _verdicts(report: GateReport | None, tier: str) -> Mapping[tuple[str, str], str]:
    if report is None:
        return {}
    return {(v.scenario, v.metric): v.verdict.value for v in report.verdicts if v.tier == tier}


def entry_from_results(loaded: LoadedResults, info: RunInfo, report: GateReport | None = None) -> HistoryEntry:
    """One run's summary as a history entry (the gate's verdicts on it when ``report`` is given)."""
    result = loaded.result
    commit = info.commit or result.git_sha
    if not commit:
        raise UsageError(
            f"{loaded.path}: results file has no git_sha (measured outside a git checkout); "
            "name its commit with --commit SHA"
        )
    verdicts = _verdicts(report, result.tier)
    scenarios: dict[str, dict[str, MetricSummary]] = {}
    for scenario in result.scenarios:
        metrics: dict[str, MetricSummary] = {}
        for metric, summary in scenario.summaries.items():
            values = tuple(metric_values(scenario.samples, metric))
            metrics[metric] = MetricSummary(
                n=summary.n, median=summary.median, values=values, verdict=verdicts.get((scenario.name, metric))
            )
        if metrics:
            scenarios[scenario.name] = metrics
    if not scenarios:
        raise UsageError(f"{loaded.path}: results file has no measured values to record")
    return HistoryEntry(
        tier=result.tier,
        commit=commit,
        branch=info.branch,
        measured_at=result.created_at,
        recorded_at=info.recorded_at,
        run_id=info.run_id,
        run_url=info.run_url,
        perfgate_version=__version__,
        fingerprint=result.fingerprint,
        scenarios=scenarios,
    )


def record(
    store: Path, results: Sequence[LoadedResults], info: RunInfo, report: GateReport | None = None
) -> list[Path]:
    """Every results file as an entry in ``store``; all are built (and checked) before one is written."""
    entries = [entry_from_results(loaded, info, report) for loaded in results]
    return [write_entry(store, entry) for entry in entries]
