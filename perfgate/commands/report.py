"""perfgate report: the performance report document from results files."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from perfgate.commands.compare import compare
from perfgate.config import PerfgateConfig
from perfgate.contracts.results import LoadedResults
from perfgate.decide.gate import problems_from_results
from perfgate.errors import UsageError
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
    context = RunContext(date=generated)
    gate = None
    if baselines_dir is not None:
        gate = compare(loaded, config, baselines_dir=baselines_dir, expect_tiers=expect_tiers)
        findings = findings_from_report(gate, config.triage)
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
    )
