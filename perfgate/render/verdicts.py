"""The verdict table: one per tier and scenario, for a terminal or for Markdown.

The terminal (``gate_text``), the compare Markdown (``gate_markdown``) and the
PR comment (``gate_summary``) show the same rows and columns; a ``TableStyle``
says only how one output draws them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tabulate import tabulate

from perfgate.contracts.gate import Verdict
from perfgate.markdown_escape import name
from perfgate.render.cells import MARKS, escape, fmt_change, fmt_notes, fmt_value, verdict_word
from perfgate.stdio import one_line

_COLALIGN = ("left", "right", "right", "right", "right", "left", "left")
# Control characters switch tabulate into its multiline, ANSI-colour or separator-line handling;
# a table with any of them is left to tabulate itself.
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class TableStyle:
    """How one output draws a verdict table."""

    tablefmt: str  # tabulate's table format: "simple" or "github" (laid out by _lay_out), else tabulate's
    marks: bool  # a coloured mark before the verdict word
    escape: Callable[[str], str]  # applied to text from outside perfgate (notes)
    name: Callable[[str], str]  # applied to tier, scenario and metric names
    heading: str  # "{tier}" and "{scenario}" are filled in, escaped


MARKDOWN = TableStyle(tablefmt="github", marks=True, escape=escape, name=name, heading="#### {tier} / {scenario}\n\n")
# A terminal (and a CI log): each value on its own line, as it is; the console makes the lines log-safe.
TERMINAL = TableStyle(tablefmt="simple", marks=False, escape=one_line, name=one_line, heading="{tier} / {scenario}\n")


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
        style.name(v.metric),
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


def _lay_out(cells: Sequence[Sequence[str]], headers: Sequence[str], tablefmt: str) -> str:
    """What ``tabulate(cells, headers, tablefmt, colalign=_COLALIGN, disable_numparse=True)`` returns.

    For stripped single-line text cells in the "simple" and "github" formats only, which
    is all a verdict table has; tabulate's general path (type sniffing of every cell, ANSI
    stripping, alignment by format strings) cost a gate of 200 tables a tenth of a
    second. ``tests/unit/test_verdicts.py`` holds the two to byte equality.
    """
    widths = [max(len(header) + 2, *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]

    def line(row: Sequence[str]) -> list[str]:
        return [
            cell.ljust(width) if align == "left" else cell.rjust(width)
            for cell, width, align in zip(row, widths, _COLALIGN, strict=True)
        ]

    if tablefmt == "simple":
        lines = [line(headers), ["-" * width for width in widths], *map(line, cells)]
        return "\n".join("  ".join(parts).rstrip() for parts in lines)
    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    body = ["| " + " | ".join(line(row)) + " |" for row in (headers, *cells)]
    return "\n".join([body[0], rule, *body[1:]])


class RowTable:
    """One verdict table's rows, each formatted and prepared once, laid out for any subset of them.

    The PR comment shows a table with all its rows, then (trimming to GitHub's limit)
    without the informational or the unchanged ones: each subset is laid out from the
    same prepared cells. Column widths follow the rows shown, as tabulate's would.
    """

    def __init__(self, rows: Sequence[Sequence[str]], style: TableStyle, *, interval: str = "interval") -> None:
        self.rows = [list(row) for row in rows]
        self.style = style
        self.headers = ["metric", "baseline", "current", f"change [{interval}]", "n b/c", "verdict", "notes"]
        plain = (
            style.tablefmt in {"simple", "github"}
            and all(len(row) == len(self.headers) for row in self.rows)
            and not any(_CONTROL.search(cell) for row in self.rows for cell in row)
        )
        # tabulate strips every cell unless told not to; None: cells only tabulate itself lays out right.
        self._cells = [[cell.strip() for cell in row] for row in self.rows] if plain else None

    def lay_out(self, shown: Sequence[int] | None = None) -> str:
        """The table of the rows at indices ``shown`` (default: all), in their order."""
        picked = range(len(self.rows)) if shown is None else shown
        if self._cells is not None and picked:
            return _lay_out([self._cells[i] for i in picked], self.headers, self.style.tablefmt)
        return tabulate(
            [self.rows[i] for i in picked],
            headers=self.headers,
            tablefmt=self.style.tablefmt,
            colalign=_COLALIGN,
            disable_numparse=True,
        )


def table_of_rows(rows: Sequence[Sequence[str]], style: TableStyle, *, interval: str = "interval") -> str:
    """Rows from ``verdict_row`` laid out as a table; ``interval`` names the change column's interval."""
    return RowTable(rows, style, interval=interval).lay_out()


def verdict_table(verdicts: Sequence[Verdict], style: TableStyle, *, interval: str = "interval") -> str:
    """One table of verdicts; ``interval`` names the change column's interval (e.g. ``90 % interval``)."""
    return table_of_rows([verdict_row(v, style) for v in verdicts], style, interval=interval)


def verdict_tables(verdicts: Iterable[Verdict], style: TableStyle, *, interval: str = "interval") -> list[str]:
    """A headed table per tier and scenario."""
    return [
        scenario_heading(tier, scenario, style) + verdict_table(group, style, interval=interval)
        for (tier, scenario), group in by_scenario(verdicts).items()
    ]
