"""``perfgate history drift``'s output: a short aligned table, or the same facts as JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tabulate import tabulate

from perfgate.history.drift import SeriesDrift, refresh_command
from perfgate.history.series import ChangePoint
from perfgate.triage.drift import bisect_range, range_text

HEADERS = ("series", "runs", "change points", "since baseline", "threshold", "status")


def _pct(change: float) -> str:
    return f"{change * 100:+.1f} %"


def _point(cp: ChangePoint) -> str:
    return f"{_pct(cp.change)} @ {cp.commit_after[:7]} (p {cp.p_value:.2g})"


def _status(drift: SeriesDrift) -> str:
    if drift.drifted:
        good, bad = bisect_range(drift)
        return f"DRIFT: bisect {range_text(good, bad)}"
    if not drift.searched and drift.cumulative is None:
        return f"too few runs ({len(drift.points)})"
    if drift.threshold is None:
        return "not gated"
    if not drift.gating:
        return "informational"
    return "ok"


def _row(drift: SeriesDrift) -> list[str]:
    key = drift.key
    points = ", ".join(_point(cp) for cp in drift.change_points) or ("-" if drift.searched else "not searched")
    since = (
        f"{_pct(drift.cumulative.change)} (last {drift.cumulative.recent_runs})"
        if drift.cumulative is not None
        else "-"
    )
    threshold = f"{drift.threshold * 100:g} %" if drift.threshold is not None else "-"
    return [f"{key.tier}/{key.scenario}/{key.metric}", str(len(drift.points)), points, since, threshold, _status(drift)]


def drift_text(drifts: Sequence[SeriesDrift], outdated: Mapping[str, Sequence[str]], *, show_all: bool = False) -> str:
    """The table (series that moved, or every series with ``show_all``), then what to do about the baselines."""
    shown = [d for d in drifts if show_all or d.drifted or d.change_points or d.baseline_outdated]
    lines: list[str] = []
    if shown:
        lines.append(tabulate([_row(d) for d in shown], headers=HEADERS, disable_numparse=True))
    drifted = sum(d.drifted for d in drifts)
    lines.append(
        f"{len(drifts)} series, {sum(len(d.change_points) for d in drifts)} change points, "
        f"{drifted} drifted past their threshold"
    )
    for tier, reasons in outdated.items():
        lines.append(
            f"baseline of tier {tier!r} no longer describes the default branch ({'; '.join(reasons)}): "
            f"refresh it with `{refresh_command(tier)}` and commit it for review"
        )
    return "\n".join(lines)


def drift_json(drifts: Sequence[SeriesDrift], outdated: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Every series' change points and cumulative drift, and the baselines to refresh."""
    series: list[dict[str, Any]] = []
    for d in drifts:
        c = d.cumulative
        good, bad = bisect_range(d) if d.drifted else (None, None)
        series.append(
            {
                "tier": d.key.tier,
                "scenario": d.key.scenario,
                "metric": d.key.metric,
                "runs": len(d.points),
                "threshold": d.threshold,
                "gating": d.gating,
                "drifted": d.drifted,
                "bisect": {"good": good, "bad": bad} if bad is not None else None,
                "change_points": [
                    {
                        "index": cp.index,
                        "commit_before": cp.commit_before,
                        "commit_after": cp.commit_after,
                        "mean_before": cp.mean_before,
                        "mean_after": cp.mean_after,
                        "change": cp.change,
                        "p_value": cp.p_value,
                        "past_threshold": cp in d.flagged_points,
                    }
                    for cp in d.change_points
                ],
                "cumulative": None
                if c is None
                else {
                    "baseline_median": c.baseline_median,
                    "recent_median": c.recent_median,
                    "recent_runs": c.recent_runs,
                    "change": c.change,
                    "baseline_commit": c.baseline_commit,
                    "last_commit": c.last_commit,
                    "past_threshold": d.cumulative_worse,
                },
            }
        )
    return {
        "drifted": any(d.drifted for d in drifts),
        "series": series,
        "refresh": [
            {"tier": tier, "reasons": list(reasons), "command": refresh_command(tier)}
            for tier, reasons in outdated.items()
        ],
    }
