"""Benchmark (not a test): how often ``perfgate.decide.modes.find_modes`` calls a sample bimodal.

Simulates single sample sets of 5, 8, 10, 15, 20, 30 and 45 values and prints, per
size, the share called bimodal:

* **false detections** on one lognormal mode at CV 3 %, 5 % and 8 % (target
  ≤ 1 % at every size; the rule works on logs, so the CV should not matter),
  and on unimodal shapes the target does not cover: right-skewed runs (the
  baseline times 1 + an exponential of mean 5 %), heavy tails (logs from a
  Student t with 3 degrees of freedom, scaled to CV 5 %), and two quantized
  metrics (a 3 ms TTFT read on a 1 ms timer, CV 20 %; a 5,200 MB peak read in
  whole megabytes, SD 1.5 MB);
* **detections** of a thermally throttled minority: each run independently in
  a slow mode with probability 20 % (10 % for one row), at ×1.25 or ×1.5 the
  fast mode, lognormal CV 3 % or 5 % around each (target: high from 15 values
  at 20 % ×1.25 CV 3 %). Each row also shows the detections among the samples
  that hold a detectable second mode at all (at least ``MIN_MODE_SIZE`` runs
  and ``MIN_MODE_SHARE`` of the sample in each mode; with 15 runs at 20 %,
  one sample in six has 0 or 1 slow run), and, over the detections, the median
  error of the reported upper share and ratio;
* ``mode_shares`` on two samples with the same 20 % ×1.25 mixture (baseline 15,
  current 5 and 15; how often Fisher's test says p < 0.05: at most 5 %) and on
  a current sample with the slow mode at 80 % instead (how often it tells).

Every row has its own seed, so the figures are reproducible. Standard errors:
about ±0.1 point at 1 % with the default 10,000 unimodal samples per cell.
Run: ``nox -s bench -- modes`` or ``python tests/bench/bench_modes.py [--samples N]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
from tabulate import tabulate

from perfgate.decide import modes
from perfgate.decide.modes import find_modes, mode_shares

SIZES = (5, 8, 10, 15, 20, 30, 45)
SEED = 20_260_14
Draw = Callable[[np.random.Generator, int], np.ndarray]


def sigma(cv: float) -> float:
    return math.sqrt(math.log1p(cv * cv))


def lognormal(cv: float) -> Draw:
    return lambda rng, n: 100.0 * np.exp(rng.normal(0.0, sigma(cv), n))


def skewed(rng: np.random.Generator, n: int) -> np.ndarray:
    return 100.0 * (1.0 + rng.exponential(0.05, n))


def heavy_tailed(rng: np.random.Generator, n: int) -> np.ndarray:
    return 100.0 * np.exp(sigma(0.05) / math.sqrt(3.0) * rng.standard_t(3, n))  # t3 has variance 3


def ttft_on_a_ms_timer(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.maximum(1.0, np.round(3.0 * np.exp(rng.normal(0.0, sigma(0.20), n))))


def memory_in_mb(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.round(rng.normal(5200.0, 1.5, n))


def mixture(share: float, ratio: float, cv: float) -> Callable[[np.random.Generator, int], tuple[np.ndarray, int]]:
    """Draw n runs, each slow with probability ``share``; returns the values and how many are slow."""

    def draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, int]:
        slow = rng.random(n) < share
        values = 100.0 * np.exp(rng.normal(0.0, sigma(cv), n) + np.where(slow, math.log(ratio), 0.0))
        return values, int(slow.sum())

    return draw


def detectable(n: int, slow: int) -> bool:
    """Whether a sample of n with `slow` runs in the slow mode has a second mode the rule could see."""
    least = max(modes.MIN_MODE_SIZE, math.ceil(modes.MIN_MODE_SHARE * n - 1e-9))
    return least <= slow <= n - least


def called(values: np.ndarray) -> bool:
    return find_modes([float(v) for v in values]).bimodal


NULLS: dict[str, Draw] = {
    "lognormal CV 3 %": lognormal(0.03),
    "lognormal CV 5 %": lognormal(0.05),
    "lognormal CV 8 %": lognormal(0.08),
    "right-skewed: 1 + Exp(5 %)": skewed,
    "heavy tails: t3 logs, CV 5 %": heavy_tailed,
    "TTFT 3 ms on a 1 ms timer": ttft_on_a_ms_timer,
    "memory in whole MB": memory_in_mb,
}
TARGETED = {"lognormal CV 3 %", "lognormal CV 5 %", "lognormal CV 8 %"}
MIXTURES = {
    "20 % at ×1.25, CV 3 %": (0.20, 1.25, 0.03),
    "20 % at ×1.25, CV 5 %": (0.20, 1.25, 0.05),
    "20 % at ×1.5, CV 5 %": (0.20, 1.5, 0.05),
    "10 % at ×1.25, CV 3 %": (0.10, 1.25, 0.03),
}


def false_detections(samples: int) -> None:
    rows = []
    for index, (name, draw) in enumerate(NULLS.items()):
        row = [name]
        for size in SIZES:
            rng = np.random.default_rng([SEED, index, size])
            rate = sum(called(draw(rng, size)) for _ in range(samples)) / samples
            mark = (" ✓" if rate <= 0.01 else " ✗") if name in TARGETED else ""
            row.append(f"{rate * 100:.2f} %{mark}")
        rows.append(row)
    print(f"False detections: one mode, share called bimodal ({samples:,} samples a cell; target ≤ 1 % on lognormal)\n")
    print(tabulate(rows, headers=["unimodal sample", *(f"n = {n}" for n in SIZES)], disable_numparse=True))
    print()


def detections(samples: int) -> None:
    rows, errors = [], []
    for index, (name, (share, ratio, cv)) in enumerate(MIXTURES.items()):
        row, error_row = [name], [name]
        for size in SIZES:
            rng = np.random.default_rng([SEED, 100 + index, size])
            found = found_detectable = count_detectable = 0
            share_errors, ratio_errors = [], []
            draw = mixture(share, ratio, cv)
            for _ in range(samples):
                values, slow = draw(rng, size)
                result = find_modes([float(v) for v in values])
                found += result.bimodal
                if detectable(size, slow):
                    count_detectable += 1
                    found_detectable += result.bimodal
                if result.bimodal and result.upper_share is not None and result.ratio is not None:
                    share_errors.append(abs(result.upper_share - slow / size))
                    ratio_errors.append(abs(result.ratio / ratio - 1))
            among = f"{found_detectable / count_detectable * 100:.1f}" if count_detectable else "–"
            row.append(f"{found / samples * 100:.1f} % ({among})")
            if share_errors:
                median_share = statistics.median(share_errors) * 100
                median_ratio = statistics.median(ratio_errors) * 100
                error_row.append(f"{median_share:.1f} · {median_ratio:.1f}")
            else:
                error_row.append("–")
        rows.append(row)
        errors.append(error_row)
    headers = ["slow mode", *(f"n = {n}" for n in SIZES)]
    print(
        f"Detections: share called bimodal, all samples (among those with a detectable second mode); "
        f"{samples:,} samples a cell\n"
    )
    print(tabulate(rows, headers=headers, disable_numparse=True))
    print("\nOver the detections: median error of the upper share (points) · of the ratio (%)\n")
    print(tabulate(errors, headers=headers, disable_numparse=True))
    print()


def shares(samples: int) -> None:
    same, slow_mode = mixture(0.20, 1.25, 0.03), mixture(0.80, 1.25, 0.03)
    rows = []
    for index, (label, current_draw, current_n) in enumerate(
        [
            ("same mixture, current 5", same, 5),
            ("same mixture, current 15", same, 15),
            ("current 80 % slow, 5", slow_mode, 5),
            ("current 80 % slow, 15", slow_mode, 15),
        ]
    ):
        rng = np.random.default_rng([SEED, 200 + index])
        asked = told = 0
        for _ in range(samples):
            baseline, _ = same(rng, 15)
            current, _ = current_draw(rng, current_n)
            found = find_modes([float(v) for v in baseline])
            if not found.bimodal:
                continue
            asked += 1
            told += mode_shares(list(baseline), list(current), found).p_value < 0.05
        rows.append([label, f"{asked / samples * 100:.1f} %", f"{told / max(asked, 1) * 100:.1f} %"])
    print(f"mode_shares: baseline 15 runs, 20 % at ×1.25, CV 3 %, modes found on the baseline ({samples:,} pairs)\n")
    headers = ["current sample", "baseline bimodal", "shares differ (p < 0.05)"]
    print(tabulate(rows, headers=headers, disable_numparse=True))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000, help="unimodal samples a cell (mixtures: a fifth)")
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"Rule: separation ≥ max({modes.SEPARATION_FLOOR}, {modes.SMALL_SAMPLE_SCALE} / (n − 3)); "
        f"modes of ≥ {modes.MIN_MODE_SIZE} values and ≥ {modes.MIN_MODE_SHARE:.0%}; "
        f"gap > {modes.RESOLUTION_STEPS} × the smallest step\n"
    )
    false_detections(args.samples)
    detections(max(1, args.samples // 5))
    shares(max(1, args.samples // 5))
    print(f"wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
