"""Old vs new baselines side by side: what a reviewer reads before approving a move."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from perfgate.contracts.baseline import Baseline
from perfgate.decide.baseline import BaselineDiff, MetricDiff
from perfgate.markdown_escape import INVALID_SHA, code, is_sha
from perfgate.metrics import unit_of
from perfgate.render.cells import escape, fmt_number
from perfgate.stdio import one_line

HEADERS = ["scenario", "metric", "old median", "new median", "change", "old cv", "new cv", "n old/new"]


def _cv(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _row(row: MetricDiff) -> list[str]:
    unit = unit_of(row.metric)
    old = "—" if row.old_median is None else f"{fmt_number(row.old_median)} {unit}"
    new = "—" if row.new_median is None else f"{fmt_number(row.new_median)} {unit}"
    change = "—" if row.change is None else f"{row.change * 100:+.1f} %"
    return [row.scenario, row.metric, old, new, change, _cv(row.old_cv), _cv(row.new_cv), f"{row.old_n}/{row.new_n}"]


def _provenance(baseline: Baseline | None) -> str:
    if baseline is None:
        return "none"
    p = baseline.provenance
    sha = "?" if not p.git_sha else p.git_sha[:10] if is_sha(p.git_sha) else INVALID_SHA
    return (
        f"measured {p.measured_at} on {p.host.label} ({p.host.chip or '?'}) at {sha}, "
        f"runtime {p.runtime_version or '?'}, model digest {(p.model_digest or '?')[:12]}, "
        f"perfgate {p.perfgate_version}"
    )


def _status(diff: BaselineDiff) -> str:
    if diff.old is None:
        return "new"
    if diff.new is None:
        return "deleted"
    return "changed"


def diff_text(diffs: Sequence[BaselineDiff]) -> str:
    parts = []
    for diff in diffs:
        rows = [[one_line(c) for c in _row(r)] for r in diff.metrics]
        table = tabulate(rows, headers=HEADERS, disable_numparse=True)
        parts.append(
            f"{diff.path} ({_status(diff)}, tier {diff.tier})\n"
            f"  old: {one_line(_provenance(diff.old))}\n  new: {one_line(_provenance(diff.new))}\n{table}"
        )
    return "\n\n".join(parts) + "\n"


def diff_markdown(diffs: Sequence[BaselineDiff]) -> str:
    parts = ["### Baseline changes (old vs new)"]
    for diff in diffs:
        rows = [[escape(c) for c in _row(r)] for r in diff.metrics]
        table = tabulate(rows, headers=HEADERS, tablefmt="github", disable_numparse=True)
        parts.append(
            f"#### {code(diff.path)} — {_status(diff)}\n\n"
            f"- old: {escape(_provenance(diff.old))}\n- new: {escape(_provenance(diff.new))}\n\n{table}"
        )
    return "\n\n".join(parts) + "\n"
