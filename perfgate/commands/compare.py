"""``perfgate compare``: results against their tiers' baselines, decided as one gate.

Stages: collect results files (``contracts.collect``: parsed, copies and stale
files left out, none at all is exit 3) → load each tier's baseline → decide
(pure, ``perfgate.decide``) → write ``--gate-out`` → print text, Markdown or JSON.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from perfgate.commands import Console, Outcome, collector_paused
from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import load_baselines
from perfgate.contracts.gate import GateReport, Problem
from perfgate.contracts.results import LoadedResults
from perfgate.provenance import utc_now_iso


def compare(
    loaded: Sequence[LoadedResults],
    config: PerfgateConfig,
    *,
    baselines_dir: Path,
    expect_tiers: Sequence[str] = (),
    now: datetime | None = None,
    look_alpha: float | None = None,
    refuse_per_tier: bool = False,
    refused: Sequence[Problem] = (),
) -> GateReport:
    """Every results file against its tier's baseline (read from ``baselines_dir``), decided as one gate.

    ``refuse_per_tier`` (the gate): a baseline that cannot be read is its tier's
    ``bad_input`` problem, not an error; ``refused`` are the results files' ones.
    """
    # The gate's modules stay out of `perfgate run`'s process until it compares: its RSS is measured.
    from perfgate.decide.gate import compare_results  # noqa: PLC0415

    tiers = sorted({item.result.tier for item in loaded})
    baselines = load_baselines(tiers, baselines_dir, refuse_per_tier=refuse_per_tier)
    return compare_results(
        loaded,
        baselines,
        config,
        created_at=utc_now_iso(),
        now=now or datetime.now(UTC),
        expect_tiers=expect_tiers,
        look_alpha=look_alpha,
        refused=refused,
    )


def split_list(value: str | None) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]`` (a comma-separated flag such as ``--expect-tiers``)."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


# Under the text tables: every abbreviation they use, said once.
GATE_LEGEND = (
    "legend: change = current vs baseline (Hodges–Lehmann ratio) [its interval]; n b/c = runs in the baseline / "
    "in the current results;\n        (info) = shown, never fails the gate; inconclusive = the interval is wider "
    "than the threshold; α = the false-alarm rate\n        of the whole gate (Holm-adjusted over every metric); "
    "docs/statistics.md explains the rule"
)


def compare_and_print(
    args: argparse.Namespace, config: PerfgateConfig, loaded: Sequence[LoadedResults], console: Console
) -> GateReport:
    """Compare, write ``--gate-out``, print the report in ``--format``, and each problem on stderr."""
    from perfgate.files import dumps_model, write_model  # noqa: PLC0415
    from perfgate.render.markdown import gate_markdown  # noqa: PLC0415
    from perfgate.render.text import gate_text  # noqa: PLC0415
    from perfgate.stdio import json_for_log  # noqa: PLC0415

    baselines_dir = Path(args.baselines_dir or config.baselines_dir)
    report = compare(loaded, config, baselines_dir=baselines_dir, expect_tiers=split_list(args.expect_tiers))
    if args.gate_out:
        write_model(Path(args.gate_out), report)
    fmt = getattr(args, "format", "text")
    if fmt == "json":
        console.say(json_for_log(dumps_model(report)), end="")
    elif fmt == "md":
        console.say(gate_markdown(report), end="")
    else:
        console.say(gate_text(report))
        if report.tiers:
            console.say(GATE_LEGEND)
    for problem in report.problems:
        console.fail(problem.message)
    return report


def collect_and_say(paths: Sequence[Path], console: Console) -> list[LoadedResults]:
    """The results files named (or found in named directories); each file passed over is one line on stderr.

    No results at all is could-not-measure (exit 3): nothing measured never passes.
    """
    from perfgate.contracts.collect import find_results, require_results  # noqa: PLC0415

    found = find_results(paths)
    for skipped in found.skipped:
        console.fail(skipped.line)
    return require_results(found, paths)


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    with collector_paused():
        loaded = collect_and_say([Path(p) for p in args.results], console)
        return Outcome(report=compare_and_print(args, config, loaded, console))
