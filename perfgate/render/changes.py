"""The "What changed" section: treatment fields that differ from the baseline, old → new.

These were compared, not refused (a new model, prompt, runtime or app command is
the change under test), so a reader sees next to the verdicts what moved them.
The same change on several tiers is one line naming them all.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfgate.contracts.gate import Change
from perfgate.decide.fingerprint import show_change
from perfgate.markdown_escape import name
from perfgate.render.cells import escape
from perfgate.stdio import one_line

MAX_LINES = 20  # a PR comment lists the first ones; gate.json holds every change
NOTE = "Compared as the change under test; the baseline moves only through a reviewed commit."


def _lines(changes: Sequence[Change], *, markdown: bool) -> list[str]:
    grouped: dict[tuple[str | None, str, str | None, str | None], list[str]] = {}
    for c in changes:
        grouped.setdefault((c.scenario, c.field, c.old, c.new), []).append(c.tier)
    quote = escape if markdown else one_line
    label = name if markdown else one_line
    lines = []
    for (scenario, field, old, new), tiers in grouped.items():
        where = ", ".join(f"{t}/{scenario}" if scenario else t for t in tiers)
        lines.append(f"{label(field)}: {show_change(field, old, new, quote)} ({quote(where)})")
    return lines


def _capped(lines: list[str]) -> tuple[list[str], int]:
    if len(lines) <= MAX_LINES:
        return lines, 0
    return lines[:MAX_LINES], len(lines) - MAX_LINES


def changes_markdown(changes: Sequence[Change], heading: str = "####") -> str | None:
    """The section in Markdown (untrusted values escaped), or None when nothing changed."""
    if not changes:
        return None
    shown, more = _capped(_lines(changes, markdown=True))
    bullets = [f"- {line}" for line in shown] + ([f"- _{more} more in gate.json._"] if more else [])
    return f"{heading} What changed\n\n_{NOTE}_\n\n" + "\n".join(bullets)


def changes_text(changes: Sequence[Change]) -> str | None:
    """The section for a terminal, or None when nothing changed."""
    if not changes:
        return None
    shown, more = _capped(_lines(changes, markdown=False))
    lines = [f"  {line}" for line in shown] + ([f"  ... {more} more in the JSON report"] if more else [])
    return "what changed since the baseline (compared as the change under test)\n" + "\n".join(lines)
