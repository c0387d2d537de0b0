"""History stores built in code, and the trend page's charts counted from its HTML (or a browser's DOM).

- ``make_entries`` / ``write_store``: a store directory of ``HistoryEntry`` files, one per
  (run, tier), with a +15 % step in the TTFT series at a chosen run (``STEP``), and
  ``step_change_points``, the change points a detector should find in it;
- ``load_store``: every entry of a store (the tests' own reader: the store module is
  another part of issue 19);
- ``count_charts``: per chart, the points and change-point markers an HTML parser (or a
  browser's serialised DOM) finds, by the page's ``data-*`` attributes.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from perfgate.contracts.history import HistoryEntry, MetricSummary
from perfgate.history.series import ChangePoint, Point, SeriesKey
from support.synthetic import fingerprint

BASE = {"ttft_ms": 120.0, "decode_tok_s": 45.0}
STEP = 18  # the run TTFT steps up at, in the tests' stores


def commit_of(index: int) -> str:
    return hashlib.sha1(f"commit {index}".encode(), usedforsecurity=False).hexdigest()


def make_entries(
    *,
    runs: int,
    tiers: tuple[str, ...] = ("pro", "sim"),
    scenarios: tuple[str, ...] = ("short-explain", "prefill"),
    step_at: int | None = None,
    seed: int = 7,
) -> list[HistoryEntry]:
    """``runs`` default-branch runs per tier; TTFT 15 % slower from run ``step_at`` on."""
    rng = np.random.default_rng(seed)
    entries = []
    for tier in tiers:
        for run in range(runs):
            summaries = {}
            for scenario in scenarios:
                metrics = {}
                for metric, base in BASE.items():
                    level = base * (1.15 if metric == "ttft_ms" and step_at is not None and run >= step_at else 1.0)
                    values = tuple(float(v) for v in level * np.exp(rng.normal(0.0, 0.02, 5)))
                    verdict = "regressed" if metric == "ttft_ms" and step_at is not None and run == step_at else None
                    metrics[metric] = MetricSummary(
                        n=5, median=float(np.median(values)), values=values, verdict=verdict or "unchanged"
                    )
                summaries[scenario] = metrics
            day, minute = divmod(run, 60)
            entries.append(
                HistoryEntry(
                    tier=tier,
                    commit=commit_of(run),
                    branch="main",
                    measured_at=f"2026-03-{1 + day:02d}T10:{minute:02d}:00Z",
                    recorded_at=f"2026-03-{1 + day:02d}T10:{minute:02d}:30Z",
                    run_id=str(1000 + run),
                    run_url=f"https://github.com/acme/app/actions/runs/{1000 + run}",
                    perfgate_version="0.0.0-test",
                    fingerprint=fingerprint(tier, scenarios=scenarios),
                    scenarios=summaries,
                )
            )
    return entries


def step_change_points(series: Mapping[SeriesKey, Sequence[Point]]) -> dict[SeriesKey, list[ChangePoint]]:
    """The change point a detector should report: TTFT's +15 % step at run STEP."""
    out = {}
    for key, points in series.items():
        if key.metric == "ttft_ms":
            before = statistics.fmean(p.value for p in points[:STEP])
            after = statistics.fmean(p.value for p in points[STEP:])
            out[key] = [
                ChangePoint(
                    key, STEP, points[STEP - 1].commit, points[STEP].commit, before, after, after / before - 1, 1e-3
                )
            ]
    return out


def write_store(root: Path, entries: list[HistoryEntry]) -> Path:
    """``<root>/<tier>/<measured_at>-<commit12>-<run_id>.json``, as the store lays them out."""
    for entry in entries:
        stamp = entry.measured_at.replace(":", "").replace("-", "")
        path = root / entry.tier / f"{stamp}-{entry.commit[:12]}-{entry.run_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry.model_dump_json(indent=2), encoding="utf-8")
    return root


def load_store(root: Path) -> list[HistoryEntry]:
    return [HistoryEntry.model_validate_json(p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.json"))]


@dataclass
class Chart:
    """One ``<figure class="chart">`` as found: what it says it holds and what is drawn in it."""

    declared_points: int
    declared_change_points: int
    attrs: dict[str, str] = field(default_factory=dict)  # the figure's own attributes
    points: list[str] = field(default_factory=list)  # data-commit of each drawn point
    change_points: list[int] = field(default_factory=list)  # data-change-point of each marker
    bands: int = 0
    links: list[str] = field(default_factory=list)  # every href inside the figure
    table_rows: int = 0


class _ChartParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: dict[str, Chart] = {}
        self._current: Chart | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "figure" and "chart" in found.get("class", "").split():
            self._current = Chart(int(found["data-points"]), int(found["data-change-points"]), found)
            self.charts[found["id"]] = self._current
        chart = self._current
        if chart is None:
            return
        if tag == "circle" and "data-point" in found:
            chart.points.append(found["data-commit"])
        elif tag == "g" and "data-change-point" in found:
            chart.change_points.append(int(found["data-change-point"]))
        elif tag == "g" and "data-band" in found:
            chart.bands += 1
        elif tag == "a" and "href" in found:
            chart.links.append(found["href"])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            chart.table_rows += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._current = None
        elif tag == "tbody":
            self._in_body = False


def count_charts(html: str) -> dict[str, Chart]:
    """Every chart on the page by its id (``tier--scenario--metric``)."""
    parser = _ChartParser()
    parser.feed(html)
    parser.close()
    return parser.charts
