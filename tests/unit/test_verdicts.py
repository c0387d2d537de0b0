"""The one verdict table behind the terminal, the compare Markdown and the PR comment."""

from __future__ import annotations

from test_summary import regression_report, verdict

from perfgate.contracts.gate import VerdictKind
from perfgate.render.cells import interval_level
from perfgate.render.markdown import gate_markdown
from perfgate.render.summary import gate_summary
from perfgate.render.text import gate_text
from perfgate.render.verdicts import MARKDOWN, TERMINAL, by_scenario, verdict_row, verdict_table, verdict_tables


def test_terminal_and_markdown_rows_differ_only_in_the_mark_and_escaping() -> None:
    v = verdict("pro", "ttft_ms", VerdictKind.REGRESSED, change=0.31, notes=("noisy <b>current</b> @team",))
    terminal, markdown = verdict_row(v, TERMINAL), verdict_row(v, MARKDOWN)
    assert terminal[:5] == markdown[:5]
    assert terminal[5] == "regressed (suspected)"
    assert markdown[5] == "🔴 regressed (suspected)"
    assert terminal[6] == "noisy <b>current</b> @team"
    assert "<b>" not in markdown[6]
    assert "\\<b\\>" in markdown[6]


def test_one_table_per_tier_and_scenario_in_first_seen_order() -> None:
    report = regression_report()
    groups = by_scenario(report.verdicts)
    assert list(groups) == [("base", "short-explain"), ("pro", "short-explain")]
    assert sum(len(g) for g in groups.values()) == len(report.verdicts)
    terminal = verdict_tables(report.verdicts, TERMINAL)
    markdown = verdict_tables(report.verdicts, MARKDOWN)
    assert [t.splitlines()[0] for t in terminal] == ["base / short-explain", "pro / short-explain"]
    assert [t.splitlines()[0] for t in markdown] == ["#### base / short-explain", "#### pro / short-explain"]


def test_every_output_draws_its_tables_with_the_shared_function() -> None:
    report = regression_report()
    pro = [v for v in report.verdicts if v.tier == "pro"]
    assert verdict_table(pro, TERMINAL) in gate_text(report)
    assert verdict_table(pro, MARKDOWN) in gate_markdown(report)
    interval = f"{interval_level(report.alpha)} interval"
    assert verdict_table(pro, MARKDOWN, interval=interval) in gate_summary(report)
