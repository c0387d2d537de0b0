"""``perfgate history site``: the history store's trend page, written to a directory (docs/history-site.md).

Stages: read the store's entries → one series per tier × scenario × metric →
change points (the drift detector's) → baseline bands (the committed
baselines') → render the page → write its files. The page is static and
self-contained: publish the directory as it is (GitHub Pages, an artifact).
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from perfgate.commands import Console, Outcome
from perfgate.commands.history import settings_of
from perfgate.config import HistoryConfig, PerfgateConfig
from perfgate.contracts.baseline import Baseline, baseline_path, load_baseline
from perfgate.contracts.history import HistoryEntry
from perfgate.errors import UsageError
from perfgate.files import write_text_atomic
from perfgate.history.bands import Band, baseline_bands
from perfgate.history.series import ChangePoint, Point, SeriesKey, series_from_entries
from perfgate.history.store import read_store
from perfgate.render.trend_chart import safe_url
from perfgate.render.trend_site import INDEX, render_site

Series = Mapping[SeriesKey, Sequence[Point]]
# Change points per series; the default is the drift detector's (``perfgate.history.drift``).
ChangePointFinder = Callable[[Series], Mapping[SeriesKey, Sequence[ChangePoint]]]
DRIFT_MODULE = "perfgate.history.drift"


def drift_change_points(
    series: Series, note: Callable[[str], None], history: HistoryConfig | None = None
) -> dict[SeriesKey, list[ChangePoint]]:
    """The drift detector's change points per series; none (and one line saying so) when it is not installed."""
    try:
        drift: Any = importlib.import_module(DRIFT_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != DRIFT_MODULE:
            raise
        note("change points not marked: drift detection (perfgate.history.drift) is not in this build")
        return {}
    # The config's settings ([tool.perfgate.history]), as `history drift` reads them.
    settings = drift.DriftSettings() if history is None else settings_of(history)
    return {key: list(drift.change_points(key, points, settings)) for key, points in series.items()}


def tier_baselines(baselines_dir: Path | None, tiers: Sequence[str]) -> dict[str, Baseline]:
    """The committed baseline of each tier that has one (a tier without one is drawn without a band)."""
    if baselines_dir is None:
        return {}
    return {
        tier: load_baseline(baseline_path(baselines_dir, tier))
        for tier in tiers
        if baseline_path(baselines_dir, tier).is_file()
    }


def build_site(
    entries: Sequence[HistoryEntry],
    config: PerfgateConfig,
    *,
    baselines_dir: Path | None,
    repo_url: str | None,
    title: str,
    find_change_points: ChangePointFinder,
) -> tuple[dict[str, str], Series, Mapping[SeriesKey, Sequence[ChangePoint]]]:
    """The site's files, with the series and change points drawn (for the command's one-line summary)."""
    series = series_from_entries(entries)
    change_points = find_change_points(series)
    baselines = tier_baselines(baselines_dir, sorted({key.tier for key in series}))
    bands: dict[SeriesKey, Band] = baseline_bands(baselines, config)
    files = render_site(series, change_points, bands, title=title, repo_url=repo_url)
    return files, series, change_points


def write_site(files: Mapping[str, str], out: Path) -> list[Path]:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the site's directory: {exc.strerror or exc}") from exc
    written = []
    for name, text in files.items():
        write_text_atomic(out / name, text)
        written.append(out / name)
    return written


def _repo_url(given: str | None, environ: Mapping[str, str]) -> str | None:
    """--repo-url, else the GitHub Actions run's repository (GITHUB_SERVER_URL/GITHUB_REPOSITORY)."""
    if given is not None:
        if safe_url(given) is None:
            raise UsageError(
                f"--repo-url {given[:80]!r}: expected an http(s) URL such as https://github.com/OWNER/NAME"
            )
        return given
    server, repository = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    return safe_url(f"{server.rstrip('/')}/{repository}") if server and repository else None


def execute(
    args: argparse.Namespace,
    config: PerfgateConfig,
    console: Console,
    *,
    find_change_points: ChangePointFinder | None = None,
) -> Outcome:
    store = args.store or config.history.store
    if store is None:
        raise UsageError("no history store: pass --store DIR or set [tool.perfgate.history] store")
    contents = read_store(Path(store))
    for line in contents.skipped:
        console.fail(line)
    entries = list(contents.entries)
    if args.baselines is not None and not Path(args.baselines).is_dir():
        raise UsageError(f"{args.baselines}: baselines directory not found")
    # By default the committed baselines, when the page is built in the repository; else no band.
    default = Path(config.baselines_dir)
    baselines_dir = Path(args.baselines) if args.baselines is not None else (default if default.is_dir() else None)
    finder = find_change_points or (lambda series: drift_change_points(series, console.fail, config.history))
    files, series, change_points = build_site(
        entries,
        config,
        baselines_dir=baselines_dir,
        repo_url=_repo_url(args.repo_url, os.environ),
        title=args.title,
        find_change_points=finder,
    )
    out = Path(args.out)
    write_site(files, out)
    marked = sum(len(change_points.get(key, ())) for key in series)
    console.say(
        f"trend page written to {out / INDEX}: {len(series)} charts from {len(entries)} history entries, "
        f"{marked} change points"
    )
    return Outcome()
