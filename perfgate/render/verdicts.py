"""The verdict table: one per tier and scenario, for a terminal or for Markdown.

The terminal (``gate_text``), the compare Markdown (``gate_markdown``) and the
PR comment (``gate_summary``) show the same rows and columns; a ``TableStyle``
says only how one output draws them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tabulate import tabulate

from perfgate.contracts.gate import Verdict
from perfgate.render.cells import MARKS, escape, fmt_change, fmt_notes, fmt_value, verdict_word

_COLALIGN = ("left", "right", "right", "right", "right", "left", "left")


def _verbatim(text: str) -> str:
    return text


@dataclass(frozen=True)
class TableStyle:
    """How one output draws a verdict table."""

    tablefmt: str  # tabulate's table format
    marks: bool  # a coloured mark before the verdict word
    escape: Callable[[str], str]  # applied to text from outside perfgate (notes, tier and scenario names)
    heading: str  # "{tier}" and "{scenario}" are filled in, escaped


MARKDOWN = TableStyle(tablefmt="github", marks=True, escape=escape, heading="#### {tier} / {scenario}\n\n")
TERMINAL = TableStyle(tablefmt="simple", marks=False, escape=_verbatim, heading="{tier} / {scenario}\n")


def by_scenario(verdicts: Iterable[Verdict]) -> dict[tuple[str, str], list[Verdict]]:
    """Verdicts grouped by (tier, scenario), in the order each pair first appears."""
    groups: dict[tuple[str, str], list[Verdict]] = {}
    for verdict in verdicts:
        groups.setdefault((verdict.tier, verdict.scenario), []).append(verdict)
    return groups


def verdict_row(v: Verdict, style: TableStyle) -> list[str]:
    """The cells of one verdict's row."""
    word = verdict_word(v)
    return [
        v.metric,  # perfgate's own names, safe as they are
        fmt_value(v.baseline_median, v.unit),
        fmt_value(v.current_median, v.unit),
        fmt_change(v),
        f"{v.n_baseline}/{v.n_current}",
        f"{MARKS[v.verdict]} {word}" if style.marks else word,
        style.escape(fmt_notes(v)),
    ]


def scenario_heading(tier: str, scenario: str, style: TableStyle) -> str:
    """The line above a table, with the separator that follows it."""
    return style.heading.format(tier=style.escape(tier), scenario=style.escape(scenario))


def table_of_rows(rows: Sequence[Sequence[str]], style: TableStyle, *, interval: str = "interval") -> str:
    """Rows from ``verdict_row`` laid out as a table; ``interval`` names the change column's interval."""
    return tabulate(
        rows,
        headers=["metric", "baseline", "current", f"change [{interval}]", "n b/c", "verdict", "notes"],
        tablefmt=style.tablefmt,
        colalign=_COLALIGN,
        disable_numparse=True,
    )


def verdict_table(verdicts: Sequence[Verdict], style: TableStyle, *, interval: str = "interval") -> str:
    """One table of verdicts; ``interval`` names the change column's interval (e.g. ``90 % interval``)."""
    return table_of_rows([verdict_row(v, style) for v in verdicts], style, interval=interval)


def verdict_tables(verdicts: Iterable[Verdict], style: TableStyle, *, interval: str = "interval") -> list[str]:
    """A headed table per tier and scenario."""
    return [
        scenario_heading(tier, scenario, style) + verdict_table(group, style, interval=interval)
        for (tier, scenario), group in by_scenario(verdicts).items()
    ]
