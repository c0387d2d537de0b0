"""Every number in docs/statistics.md's paired-rule example, recomputed from the code."""

from __future__ import annotations

from pathlib import Path

from perfgate.decide.paired import PairedTest, decide_paired

DOC = (Path(__file__).resolve().parents[2] / "docs" / "statistics.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## The paired rule") :]
A = (318.2, 320.5, 317.9, 321.4, 319.0, 322.3, 318.8, 320.1)
B = (377.5, 380.9, 376.2, 382.0, 379.4, 383.1, 378.0, 381.2)
A_SLOW = (343.1, 344.0, 342.5, 345.2, 343.8, 342.9, 344.6, 343.3)
B_SLOW = (344.2, 343.1, 343.6, 344.9, 342.7, 344.0, 343.5, 345.1)


def pct(x: float) -> str:
    text = f"{x * 100:+.1f}"
    return ("+0.0" if text == "-0.0" else text).replace("-", "−") + " %"


def four_metrics(a: tuple[float, ...], b: tuple[float, ...]):
    """The example's scenario: 4 gating metrics with these pairs, threshold 5 %."""
    return decide_paired([PairedTest(a, b, "lower", 0.05)] * 4)[0]


def test_the_doc_shows_the_pairs_it_decides():
    for values in (A, B, A_SLOW, B_SLOW):
        assert " ".join(f"{v:.1f}" for v in values) in SECTION


def test_the_slower_commit_is_confirmed_with_the_documented_figures():
    d = four_metrics(A, B)
    assert d.outcome == "confirmed"
    assert f"1/2⁸ = **{d.p_worse:.4f}**" in SECTION
    assert f"**{d.p_worse_adjusted:.4f}** < 0.05" in SECTION
    assert f"Change **{pct(d.change)}**" in SECTION
    assert f"**[{pct(d.change_low)}, {pct(d.change_high)}]**" in SECTION


def test_the_slow_session_is_not_confirmed_with_the_documented_figures():
    d = four_metrics(A_SLOW, B_SLOW)
    assert d.outcome == "within_threshold"
    assert f"change **{pct(d.change)}**" in SECTION
    assert f"**[{pct(d.change_low)}, {pct(d.change_high)}]**" in SECTION
    assert f"p = **{d.p_worse:.2f}**" in SECTION


def test_the_critical_value_and_the_reach_of_eight_pairs():
    assert "10/256 ≤ 0.05 < P(T⁺ ≤ 6) = 14/256" in SECTION
    assert 2**-8 * 12 < 0.05 <= 2**-8 * 13
