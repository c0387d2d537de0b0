"""perfgate's change points against apache-otava's on the same simulated series: `nox -s otava`.

apache-otava is not a dependency of perfgate (it brings BigQuery, Slack and Postgres clients
and pins numpy exactly); this script runs in the `otava` session's own virtualenv. Two of
Otava's detectors are compared, each at its own defaults but for the level:

- ``compute_change_points_orig``: Matteson & James's E-divisive with a permutation test
  (100 shuffles, seeded), the algorithm perfgate implements;
- ``compute_change_points``: Hunter's windowed E-divisive with a Student's t-test and merge
  step (Otava's default analysis; window 50, p <= 0.001).

A change point of one matches one of the other within ±2 commits. Figures per kind of series.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from drift_series import creep_series, flat_series, step_series

from perfgate.history.drift import DriftSettings, change_points
from perfgate.history.series import Point, SeriesKey

try:
    from otava.analysis import compute_change_points, compute_change_points_orig
except ImportError as exc:  # pragma: no cover -- the session installs it
    sys.exit(f"apache-otava cannot be imported here: {exc}")

KEY = SeriesKey("sim", "short", "ttft_ms")
SETTINGS = DriftSettings()
TOLERANCE = 2
COUNTS = {"step": 100, "creep": 50, "flat": 200}


def perfgate_points(values: Sequence[float]) -> list[int]:
    points = [Point(f"{i:04d}".ljust(40, "a"), f"t{i:04d}", float(v), 5, None, None) for i, v in enumerate(values)]
    return [cp.index for cp in change_points(KEY, points, SETTINGS)]


def otava_orig(values: Sequence[float], seed: int) -> list[int]:
    found, _ = compute_change_points_orig(list(values), max_pvalue=SETTINGS.max_p, seed=seed)
    return sorted(int(cp.index) for cp in found)


def otava_hunter(values: Sequence[float], seed: int) -> list[int]:
    del seed  # deterministic
    found, _ = compute_change_points(list(values), max_pvalue=0.001)
    return sorted(int(cp.index) for cp in found)


def matched(ours: Sequence[int], theirs: Sequence[int]) -> int:
    """Pairs within ±TOLERANCE commits, each change point used once (greedy by distance)."""
    pairs = sorted(
        (abs(a - b), i, j) for i, a in enumerate(ours) for j, b in enumerate(theirs) if abs(a - b) <= TOLERANCE
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    for _, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return len(used_a)


def series_of(kind: str, seed: int) -> Sequence[float]:
    if kind == "step":
        return step_series(seed)[0]
    if kind == "creep":
        return creep_series(seed)[0]
    return flat_series(seed)


def compare(name: str, other: Callable[[Sequence[float], int], list[int]]) -> None:
    print(f"perfgate vs otava {name}:")
    for kind, count in COUNTS.items():
        ours_total = theirs_total = both = same = 0
        started = time.perf_counter()
        for seed in range(count):
            values = series_of(kind, seed)
            ours, theirs = perfgate_points(values), other(values, seed)
            pairs = matched(ours, theirs)
            ours_total += len(ours)
            theirs_total += len(theirs)
            both += pairs
            same += len(ours) == len(theirs) == pairs
        union = ours_total + theirs_total - both
        agreement = both / union if union else 1.0
        print(
            f"  {kind:5} ({count} series): perfgate {ours_total} change points, otava {theirs_total}, "
            f"{both} within ±{TOLERANCE} commits ({agreement:.0%} of all found); "
            f"identical sets in {same}/{count} series ({time.perf_counter() - started:.0f} s)"
        )


def main() -> None:
    from importlib.metadata import version  # noqa: PLC0415

    print(
        f"apache-otava {version('apache-otava')}; "
        f"perfgate: p <= {SETTINGS.max_p}, min magnitude {SETTINGS.min_magnitude:.0%}"
    )
    compare("E-divisive + permutation test (compute_change_points_orig)", otava_orig)
    compare("Hunter windowed t-test (compute_change_points)", otava_hunter)


if __name__ == "__main__":
    main()
