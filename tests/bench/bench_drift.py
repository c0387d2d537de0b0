"""Drift detection on simulated histories (issue 19's floor): `nox -s bench -- drift`.

Prints, for perfgate's E-divisive detector with its default settings (docs/history.md):
- a single +15 % step in 200 commits at CV 5 %: found within ±2 commits in what share of series;
- ten +2.5 % steps: reported as a cumulative drift past the 10 % threshold in what share of series;
- flat series: the false change-point rate per series.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from drift_series import COMMITS, CV, baseline_median, creep_series, flat_series, step_series

from perfgate.config import PerfgateConfig
from perfgate.history.drift import BaselineLevel, DriftSettings, analyse, change_points
from perfgate.history.series import Point, SeriesKey

KEY = SeriesKey("sim", "short", "ttft_ms")
STEP_SERIES = 200
CREEP_SERIES = 100
FLAT_SERIES = 1000


def as_points(values) -> list[Point]:
    return [
        Point(f"{i:04d}".ljust(40, "a"), f"2026-01-01T00:00:{i:03d}Z", float(v), 5, None, None)
        for i, v in enumerate(values)
    ]


def main() -> None:
    settings = DriftSettings()
    print(
        f"E-divisive means, permutation test: p <= {settings.max_p} ({settings.permutations} shuffles), "
        f"min magnitude {settings.min_magnitude:.0%}, {settings.min_size}+ runs a side; "
        f"{COMMITS} commits, CV {CV:.0%}"
    )
    started = time.perf_counter()
    found = extra = 0
    for seed in range(STEP_SERIES):
        values, at = step_series(seed)
        cps = change_points(KEY, as_points(values), settings)
        found += any(abs(cp.index - at) <= 2 for cp in cps)
        extra += sum(abs(cp.index - at) > 2 for cp in cps)
    print(
        f"single +15 % step:  found within ±2 commits in {found}/{STEP_SERIES} series ({found / STEP_SERIES:.1%}); "
        f"{extra} other change points"
    )

    config = PerfgateConfig()
    flagged = 0
    changes: list[float] = []
    for seed in range(CREEP_SERIES):
        values, _ = creep_series(seed)
        level = BaselineLevel("sim", None, "2025-12-31T00:00:00Z", {("short", "ttft_ms"): baseline_median(seed)})
        [drift] = analyse({KEY: as_points(values)}, config, {"sim": level}, settings=settings)
        flagged += drift.cumulative_worse
        assert drift.cumulative is not None
        changes.append(drift.cumulative.change)
    changes.sort()
    print(
        f"ten +2.5 % steps:   cumulative drift past 10 % in {flagged}/{CREEP_SERIES} series "
        f"({flagged / CREEP_SERIES:.1%}); "
        f"median cumulative {changes[len(changes) // 2]:+.1%} (min {changes[0]:+.1%})"
    )

    false = 0
    for seed in range(FLAT_SERIES):
        false += bool(change_points(KEY, as_points(flat_series(seed)), settings))
    print(f"flat series:        a false change point in {false}/{FLAT_SERIES} series ({false / FLAT_SERIES:.2%})")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
