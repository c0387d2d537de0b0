"""``perfgate report``: the performance report document (the seed's sections) from results files.

Stages: collect results files (as ``compare`` does) → copy them beside the
report (``--copy-raw``) → compare with baselines when given, else triage from
what the results show → render the Markdown → write it (or print it). A report
of nothing (no sample at all, or nothing compared with the baselines) is still
written, and exits 3.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from perfgate.commands import Console, Outcome
from perfgate.commands.compare import collect_and_say, compare, split_list
from perfgate.config import PerfgateConfig
from perfgate.contracts.results import LoadedResults
from perfgate.decide.coverage import compared_anything, problems_from_results
from perfgate.errors import UsageError
from perfgate.files import write_text_atomic
from perfgate.render.report import ReportInput, report_markdown
from perfgate.render.triage_table import triage_rows
from perfgate.triage.policy import (
    RunContext,
    findings_from_problems,
    findings_from_report,
)


def copy_raw(loaded: Sequence[LoadedResults], directory: Path) -> list[Path]:
    """Copy each results file beside the report as ``perf-<tier>-<YYYYmmdd-HHMMSS>.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    copied = []
    for item in loaded:
        stamp = item.result.created_at.replace("-", "").replace(":", "").replace("T", "-").rstrip("Z")[:15]
        target = directory / f"perf-{item.result.tier}-{stamp}.json"
        try:
            shutil.copyfile(item.path, target)
        except OSError as exc:
            raise UsageError(f"{target}: cannot copy raw results: {exc.strerror or exc}") from exc
        copied.append(target)
    return copied


def build_report(
    loaded: Sequence[LoadedResults],
    config: PerfgateConfig,
    *,
    title: str,
    baselines_dir: Path | None,
    expect_tiers: Sequence[str],
    raw_paths: Sequence[str],
    generated: str,
) -> str:
    """The report document: compare with baselines when given, triage from what was seen."""
    text, _ = report_document(
        loaded,
        config,
        title=title,
        baselines_dir=baselines_dir,
        expect_tiers=expect_tiers,
        raw_paths=raw_paths,
        generated=generated,
    )
    return text


def report_document(
    loaded: Sequence[LoadedResults],
    config: PerfgateConfig,
    *,
    title: str,
    baselines_dir: Path | None,
    expect_tiers: Sequence[str],
    raw_paths: Sequence[str],
    generated: str,
) -> tuple[str, str | None]:
    """The report document, and why it shows nothing (no sample, or nothing compared), if it does not."""
    context = RunContext(date=generated)
    gate = None
    nothing = None
    if not any(scenario.samples for item in loaded for scenario in item.result.scenarios):
        nothing = "nothing measured: no results file holds a sample; the report says why"
    if baselines_dir is not None:
        gate = compare(loaded, config, baselines_dir=baselines_dir, expect_tiers=expect_tiers)
        findings = findings_from_report(gate, config.triage)
        if nothing is None and not compared_anything(gate):
            why = gate.problems[0].message if gate.problems else "no gating metric in both results and baselines"
            nothing = f"nothing compared: {why}"
    else:
        findings = findings_from_problems(problems_from_results(loaded, expect_tiers), config.triage)
    rows = triage_rows(findings, [], [], context, config.triage, filing=False)
    return report_markdown(
        ReportInput(
            title=title,
            generated=generated,
            loaded=loaded,
            raw_paths=raw_paths,
            gate=gate,
            triage=rows,
            expected_tiers=expect_tiers,
            memory_interval_ms=config.memory_interval_ms,
        )
    ), nothing


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    loaded = collect_and_say([Path(p) for p in args.results], console)
    out = Path(args.out) if args.out else None
    raw = [str(p) for p in copy_raw(loaded, Path(args.copy_raw))] if args.copy_raw else [str(i.path) for i in loaded]
    if out is not None:
        # Paths in the report are relative to it, so the report and its raw files move together.
        raw = [_relative_to(Path(p), out.parent) for p in raw]
    text, nothing = report_document(
        loaded,
        config,
        title=args.title,
        baselines_dir=Path(args.baselines_dir) if args.baselines_dir else None,
        expect_tiers=split_list(args.expect_tiers),
        raw_paths=raw,
        generated=args.date or datetime.now(UTC).date().isoformat(),
    )
    if out is None:
        console.say(text, end="")
    else:
        write_text_atomic(out, text)
        console.say(f"report written to {out}")
    if nothing is not None:
        console.fail(nothing)
    return Outcome(could_not_measure=nothing is not None)


def _relative_to(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
