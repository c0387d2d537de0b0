"""Finding the results files a command reads: by parsing each file, never by sniffing its first bytes.

A results directory holds more than results: ``gate.json``, ``summary.md``, the
triage ledger, whatever else a job put there, and results files left by earlier
runs. Every ``*.json`` in it is read (up to ``MAX_RESULTS_BYTES``) and parsed:

- ``"kind": "perfgate-results"`` (or no ``kind`` in a file named ``results*``, as
  hand-made files are) is a results file, validated as ever: a bad one is an error
  naming the file and the field; the gate (``refuse_per_tier``) takes it as a
  ``bad_input`` problem of the tier the file names (``Refused``) and decides the
  other tiers;
- a file over ``MAX_RESULTS_BYTES`` may be a results file and is not read: it is
  refused the same way, its tier unknown; so is a file named ``results*`` that
  cannot be read as JSON (a truncated write);
- perfgate's other files (``"kind": "perfgate-gate"``...) are passed over quietly;
- anything else (not UTF-8, not JSON, another tool's JSON) is *skipped*, with the
  reason, for the command to print as one line.

Then the results found in directories are checked against each other
(``_left_out``); a file named on the command line is always read as given:

- a copy of another file (the same run, e.g. a ``report --copy-raw`` copy) is left
  out, so no sample counts twice;
- a file measured on another commit than the newest results file (``git_sha``) is
  *stale*: left out. When either file does not know its commit, a file measured
  more than ``STALE_AFTER`` before the newest is stale.

``docs/troubleshooting.md`` ("Results files left out") says what to do about each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import from_json

from perfgate.contracts.gate import UNKNOWN_TIER, Problem
from perfgate.contracts.migrate import migrate_results
from perfgate.contracts.results import RESULTS_SCHEMA_VERSION, LoadedResults, RunResult, load_results
from perfgate.errors import BadFileError, CouldNotMeasure, Kind, UsageError
from perfgate.files import MAX_JSON_BYTES, name_problem, parse_model, size_text

RESULTS_KIND = "perfgate-results"
# The most any JSON file perfgate reads may hold (``perfgate.files.MAX_JSON_BYTES``): a larger
# file in a results directory is refused by its size, never read into memory.
MAX_RESULTS_BYTES = MAX_JSON_BYTES
# Runs without a commit (outside a git checkout) are told apart by age alone; a CI workflow's
# tiers run within hours of each other, a reused local directory holds files days apart.
STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Skipped:
    """A file read and not used, and why (printed by the command as one line)."""

    path: Path
    reason: str

    @property
    def line(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Refused:
    """A results file (or a file too large to tell) that could not be read: a ``bad_input`` problem of its tier."""

    path: Path
    tier: str | None  # the tier the file names, when that is a tier name (never a path: checked)
    error: BadFileError  # names the file and what is wrong

    @property
    def problem(self) -> Problem:
        return Problem(kind=Kind.BAD_INPUT, tier=self.tier or UNKNOWN_TIER, message=self.error.message)


@dataclass(frozen=True)
class Collected:
    """The results files to use, every file passed over with its reason, and the files refused."""

    loaded: tuple[LoadedResults, ...]
    skipped: tuple[Skipped, ...] = ()
    refused: tuple[Refused, ...] = ()  # only with ``refuse_per_tier``: otherwise the first one is raised


def find_results(paths: Sequence[Path], *, recursive: bool = False, refuse_per_tier: bool = False) -> Collected:
    """Results files named directly, and every results file inside a named directory (may be none).

    A path that does not exist is a usage error (a mistyped name), never "no results".
    A results file found in a directory that cannot be read raises its ``BadFileError``,
    or with ``refuse_per_tier`` is returned in ``refused`` (the gate fails that tier).
    """
    loaded: list[LoadedResults] = []
    found: list[LoadedResults] = []  # from directories: checked against each other
    skipped: list[Skipped] = []
    refused: list[Refused] = []
    for path in paths:
        if path.is_dir():
            files = sorted(path.rglob("*.json") if recursive else path.glob("*.json"))
            for file in (f for f in files if f.is_file()):
                item = _read_candidate(file)
                if isinstance(item, Refused):
                    if not refuse_per_tier:
                        raise item.error
                    refused.append(item)
                elif isinstance(item, Skipped):
                    skipped.append(item)
                elif item is not None:
                    found.append(item)
        elif path.exists():
            loaded.append(load_results(path))
        else:
            raise UsageError(f"{path}: no such file or directory")
    kept, left_out = _left_out(loaded, found)
    return Collected(tuple(kept), (*skipped, *left_out), tuple(refused))


def collect_results_dir(directory: Path) -> Collected:
    """Every results file under ``directory`` (artifact downloads nest one folder per tier); may be none.

    The directory must exist: a gate pointed at a mistyped path says so, and creates nothing.
    A results file that cannot be read is ``refused``, for the gate to fail its tier alone.
    """
    if not directory.is_dir():
        what = "not a directory" if directory.exists() else "no such directory"
        raise UsageError(f"{directory}: {what}; --results-dir names the directory the runs wrote results files to")
    return find_results([directory], recursive=True, refuse_per_tier=True)


def require_results(collected: Collected, paths: Iterable[Path]) -> list[LoadedResults]:
    """The results found, or CouldNotMeasure: no results is nothing measured, never a pass."""
    if not collected.loaded:
        where = ", ".join(str(p) for p in paths)
        raise CouldNotMeasure(
            f'{where}: no results files (*.json with "kind": "{RESULTS_KIND}"); '
            "nothing was measured, so nothing can pass: run perfgate run first"
        )
    return list(collected.loaded)


def collect_results(paths: Sequence[Path]) -> list[LoadedResults]:
    """Results files named directly, or every ``*.json`` results file inside a named directory; at least one."""
    collected = find_results(paths)
    if not collected.loaded:
        raise UsageError(f"no results files found in {', '.join(str(p) for p in paths)}")
    return list(collected.loaded)


def _read_candidate(path: Path) -> LoadedResults | Skipped | Refused | None:
    """A results file, a file skipped with its reason, one refused, or None for another perfgate file."""
    raw = _read_text(path)
    if isinstance(raw, Skipped | Refused):
        return _claimed(raw)
    # A results file of the current version is parsed and validated in one pass (the gate's usual case).
    try:
        fast = RunResult.model_validate_json(raw)
    except ValidationError:
        pass
    else:
        if "schema_version" in fast.model_fields_set and fast.schema_version == RESULTS_SCHEMA_VERSION:
            return LoadedResults(path, fast)
    try:
        parsed: object = from_json(raw)
    except ValueError as exc:  # pydantic-core's parser: bad JSON, or nested too deeply
        return _claimed(Skipped(path, f"skipped: not a results file (not JSON: {exc})"))
    kind = parsed.get("kind") if isinstance(parsed, dict) else None
    if kind == RESULTS_KIND or (kind is None and isinstance(parsed, dict) and path.name.startswith("results")):
        return _parse_results(path, raw, parsed)
    if isinstance(kind, str) and kind.startswith("perfgate-"):
        return None  # gate.json, the triage ledger...: perfgate's own files share the directory
    return Skipped(path, f'skipped: not a results file (no "kind": "{RESULTS_KIND}")')


def _claimed(skipped: Skipped | Refused) -> Skipped | Refused:
    """A file named ``results*`` is claimed as a results file: one that cannot be read (a truncated
    write, say) is refused, never skipped, so its tier cannot go unchecked."""
    if isinstance(skipped, Refused) or not skipped.path.name.startswith("results"):
        return skipped
    detail = skipped.reason.removeprefix("skipped: ").removeprefix("not a results file ").strip("()")
    return Refused(skipped.path, None, BadFileError(f"{skipped.path}: results file refused: {detail}"))


def _parse_results(path: Path, raw: str, parsed: object) -> LoadedResults | Refused:
    """A results file of another version, or a broken one: read as ever (migrated, or refused naming the field)."""
    try:
        result = parse_model(
            raw, str(path), RunResult, what="results", current_version=RESULTS_SCHEMA_VERSION, migrate=migrate_results
        )
    except BadFileError as exc:
        return Refused(path, _named_tier(parsed), exc)
    return LoadedResults(path, result)


def _named_tier(parsed: object) -> str | None:
    """The tier a broken results file names, when it is a tier name (a file's ``../x`` is no tier)."""
    tier = parsed.get("tier") if isinstance(parsed, dict) else None
    return tier if isinstance(tier, str) and name_problem(tier) is None else None


def _read_text(path: Path) -> str | Skipped | Refused:
    """The file's text, or why it cannot be read as a results file (too large, unreadable, not UTF-8)."""
    try:
        size = path.stat().st_size
        if size > MAX_RESULTS_BYTES:
            # It may be a results file, whose tier would then go unchecked: refused, never skipped.
            return Refused(
                path,
                None,
                BadFileError(
                    f"{path}: {size_text(size)}, over the {size_text(MAX_RESULTS_BYTES)} perfgate reads: refused "
                    "unread; remove it from the results directory or check that it is the right file"
                ),
            )
        data = path.read_bytes()
    except OSError as exc:
        return Skipped(path, f"skipped: cannot read it: {exc.strerror or exc}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(path, f"skipped: not a results file (not UTF-8: byte {exc.start} is 0x{data[exc.start]:02x})")


def _left_out(named: list[LoadedResults], found: list[LoadedResults]) -> tuple[list[LoadedResults], list[Skipped]]:
    """Copies of a run and stale files found in directories, left out; named files are kept as given."""
    everything = [*named, *found]
    if not everything:
        return [], []
    newest = max(everything, key=lambda item: item.result.created_at)
    reference = max(
        (item for item in everything if item.result.git_sha),
        key=lambda item: item.result.created_at,
        default=None,
    )
    kept: list[LoadedResults] = []
    left: list[Skipped] = []
    for item in everything:
        copy_of = next((k.path for k in kept if _same_run(k.result, item.result)), None)
        if copy_of is not None:
            left.append(Skipped(item.path, f"left out: a copy of {copy_of} (the same run); its samples count once"))
            continue
        reason = None if any(item is n for n in named) else _stale(item, reference, newest)
        if reason is not None:
            left.append(Skipped(item.path, reason))
            continue
        kept.append(item)
    return kept, left


def _same_run(a: RunResult, b: RunResult) -> bool:
    return a.tier == b.tier and a.created_at == b.created_at and a == b


def _stale(item: LoadedResults, reference: LoadedResults | None, newest: LoadedResults) -> str | None:
    """Why a results file found in a directory is not part of the newest measurement, or None."""
    sha = item.result.git_sha
    if sha and reference is not None:
        ref_sha = reference.result.git_sha or ""
        if not (sha.startswith(ref_sha) or ref_sha.startswith(sha)):
            return (
                f"left out: stale, measured on commit {sha[:12]}, the newest results ({reference.path}) on "
                f"{ref_sha[:12]}; delete it or measure again"
            )
        return None
    made, last = _parse_time(item.result.created_at), _parse_time(newest.result.created_at)
    if made is not None and last is not None and last - made > STALE_AFTER:
        hours = (last - made).total_seconds() / 3600
        return (
            f"left out: stale, measured {item.result.created_at}, {hours:.0f} h before the newest results "
            f"({newest.path}); delete it or measure again"
        )
    return None


def _parse_time(text: str) -> datetime | None:
    """An ISO 8601 time (UTC when it names no zone); None when it is not one."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
