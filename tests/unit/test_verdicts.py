"""The one verdict table behind the terminal, the compare Markdown and the PR comment."""

from __future__ import annotations

import random

import pytest
from tabulate import tabulate
from test_summary import regression_report, verdict

from perfgate.contracts.gate import VerdictKind
from perfgate.render.cells import interval_level
from perfgate.render.markdown import gate_markdown
from perfgate.render.summary import gate_summary
from perfgate.render.text import gate_text
from perfgate.render.verdicts import (
    _COLALIGN,
    MARKDOWN,
    TERMINAL,
    RowTable,
    TableStyle,
    by_scenario,
    table_of_rows,
    verdict_row,
    verdict_table,
    verdict_tables,
)


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


# ---------------------------------------------------------------- the layout is tabulate's, byte for byte

_PIECES = [
    "",
    " ",
    "ttft_ms",
    "1,234 ms",
    "−12.5 % [−20.1, +3.4]",
    "+3",
    "-5",
    "1e5",
    "True",
    "nan",
    "15/10",
    "🔴 regressed (suspected)",
    "⚪ unchanged",
    "模型",
    "e\u0301",
    "a | b",
    "\\|",
    "  padded  ",
    "\u00a0nbsp\u2003",
    "x" * 40,
]


def _random_rows(rng: random.Random) -> list[list[str]]:
    return [
        ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 3))) for _ in range(7)]
        for _ in range(rng.randint(1, 9))
    ]


@pytest.mark.parametrize("style", [TERMINAL, MARKDOWN], ids=["simple", "github"])
def test_verdict_tables_are_laid_out_exactly_as_tabulate_would(style: TableStyle) -> None:
    rng = random.Random(20_261_203)
    for _ in range(2000):
        rows = _random_rows(rng)
        interval = rng.choice(["interval", "90 % interval", "99.8 % interval"])
        headers = ["metric", "baseline", "current", f"change [{interval}]", "n b/c", "verdict", "notes"]
        expected = tabulate(rows, headers=headers, tablefmt=style.tablefmt, colalign=_COLALIGN, disable_numparse=True)
        assert table_of_rows(rows, style, interval=interval) == expected, rows
        # A subset laid out from the same prepared cells, as the PR comment's trimming does.
        shown = sorted(rng.sample(range(len(rows)), rng.randint(1, len(rows))))
        subset = tabulate(
            [rows[i] for i in shown],
            headers=headers,
            tablefmt=style.tablefmt,
            colalign=_COLALIGN,
            disable_numparse=True,
        )
        assert RowTable(rows, style, interval=interval).lay_out(shown) == subset, (rows, shown)


@pytest.mark.parametrize("cell", ["two\nlines", "\x1b[31mred\x1b[0m", "\x01", "tab\there"])
def test_cells_with_control_characters_are_left_to_tabulate(monkeypatch: pytest.MonkeyPatch, cell: str) -> None:
    import perfgate.render.verdicts  # noqa: PLC0415 -- the module whose tabulate is watched

    seen: list[object] = []
    monkeypatch.setattr(perfgate.render.verdicts, "tabulate", lambda *a, **k: seen.append(a) or "tabulated")
    rows = [["ttft_ms", "1 ms", "2 ms", "+1 %", "15/10", "unchanged", cell]]
    assert table_of_rows(rows, TERMINAL) == "tabulated"
    assert len(seen) == 1
    plain = [["ttft_ms", "1 ms", "2 ms", "+1 %", "15/10", "unchanged", "fine"]]
    assert table_of_rows(plain, TERMINAL) != "tabulated"  # the laid-out path, tabulate untouched
    assert len(seen) == 1
