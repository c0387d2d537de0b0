"""Every number in docs/statistics.md's worked example, recomputed from the code."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from perfgate.config.model import GateConfig
from perfgate.decide.stats import Decision, MetricTest, min_p
from perfgate.decide.stats import decide as decide_any

DOC = (Path(__file__).resolve().parents[2] / "docs" / "statistics.md").read_text(encoding="utf-8")
BASELINE = (101.2, 99.8, 103.5, 100.4, 98.9, 102.7, 100.9, 97.6, 101.8, 99.3, 104.1, 100.2, 98.4, 102.0, 100.6)
SLOW = (126.3, 131.8, 128.4, 133.0, 129.5)
SAME = (102.3, 99.1, 101.6, 103.8, 100.7)
NOISY = (118.0, 96.5, 131.2, 104.9, 125.0)


def decide(tests: list[MetricTest]) -> list[Decision]:
    """As the gate decides: its default interval (``gate.interval_tail``)."""
    return decide_any(tests, interval_alpha=GateConfig().interval_tail)


def pct(x: float) -> str:
    return f"{x * 100:+.1f} %".replace("-", "−")


def a_a_family(n: int) -> list[MetricTest]:
    return [MetricTest(BASELINE, BASELINE[i % 10 : i % 10 + 5], "lower", 0.1, 0.1) for i in range(n)]


def test_the_doc_shows_what_the_code_computes_for_the_slowdown():
    alone = decide([MetricTest(BASELINE, SLOW, "lower", 0.1, 0.1)])[0]
    assert alone.verdict == "regressed"
    assert f"**{pct(alone.change)}**" in DOC
    assert f"**[{pct(alone.change_low)}, {pct(alone.change_high)}]**" in DOC
    assert alone.p_worse == pytest.approx(1 / math.comb(20, 5))
    assert f"{alone.p_worse:.7f}" in DOC
    gate = decide([MetricTest(BASELINE, SLOW, "lower", 0.1, 0.1), *a_a_family(35)])[0]
    assert gate.verdict == "regressed"
    assert f"**{gate.p_worse_adjusted:.5f}**" in DOC


def test_the_doc_shows_what_the_code_computes_for_no_change():
    same = decide([MetricTest(BASELINE, SAME, "lower", 0.1, 0.1)])[0]
    assert same.verdict == "unchanged"
    assert f"**{pct(same.change)}**" in DOC
    assert f"**[{pct(same.change_low)}, {pct(same.change_high)}]**" in DOC
    assert f"p = {same.p_worse:.3f}" in DOC


def test_the_doc_shows_why_holm_matters():
    alone = decide([MetricTest(BASELINE, NOISY, "lower", 0.1, 0.1)])[0]
    assert alone.p_worse < 0.05  # significantly worse...
    assert alone.verdict == "inconclusive"  # ...but not shown past the threshold
    assert "worse, maybe past the threshold" in alone.reasons
    assert f"{pct(alone.change_low).split()[0]} %: it is not *shown* past" in DOC
    assert f"~{alone.runs_needed} more runs" in DOC
    assert f"p = **{alone.p_worse:.4f}**" in DOC
    gate = decide([MetricTest(BASELINE, NOISY, "lower", 0.1, 0.1), *a_a_family(35)])[0]
    assert gate.verdict == "inconclusive"
    assert f"**{gate.p_worse_adjusted:.3f}**" in DOC
    assert "noisy current (CV 12 %)" in gate.reasons
    assert "large change but not significant" in gate.reasons


def test_smallest_p_with_one_run_is_one_in_sixteen():
    assert min_p(1, 15) == pytest.approx(1 / 16)
    assert "1/16" in DOC
