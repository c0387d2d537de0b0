"""The one line a reviewer reads first, and how a verdict's change is written.

Every stage that words a verdict for people (the headline, triage titles, the
renderers' tables) takes the change's wording from here, so they agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from perfgate.contracts.gate import GateStatus, Problem, Verdict, VerdictKind
from perfgate.metrics import label


def signed_percent(change: float) -> str:
    return f"{change * 100:+.0f} %"


def _pct(value: float) -> str:
    if math.isinf(value):
        return "+∞" if value > 0 else "−∞"
    text = f"{value * 100:+.1f}"
    if text in ("+0.0", "-0.0"):
        return "±0.0"
    return text.replace("-", "−")


def fmt_change(verdict: Verdict) -> str:
    """``+23.4 % [+18.0, +29.1]``: the estimate and its interval, in percent."""
    if verdict.change is None:
        return "—"
    text = f"{_pct(verdict.change)} %"
    if verdict.change_low is not None and verdict.change_high is not None:
        if math.isinf(verdict.change_high) or verdict.change_low <= -1:
            text += " [unbounded]"
        else:
            text += f" [{_pct(verdict.change_low)}, {_pct(verdict.change_high)}]"
    return text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def headline(status: GateStatus, verdicts: Sequence[Verdict], problems: Sequence[Problem], tiers: Sequence[str]) -> str:
    gating = [v for v in verdicts if not v.informational]
    regressed = [v for v in gating if v.verdict is VerdictKind.REGRESSED]
    if regressed:
        worst = max(regressed, key=lambda v: abs(v.change or 0))
        suspected = "" if all(v.confirmed for v in regressed) else "suspected "
        count = f"{len(regressed)} {suspected}regression{'' if len(regressed) == 1 else 's'}"
        text = f"{count}: {label(worst.metric)} {signed_percent(worst.change or 0)} on {worst.tier}/{worst.scenario}"
        if len(regressed) > 1:
            text += f" (and {len(regressed) - 1} more)"
        return text
    if problems:
        kinds = sorted({p.kind.value.replace("_", " ") for p in problems})
        tiers_hit = sorted({p.tier for p in problems})
        lead = "Inputs refused" if status is GateStatus.BAD_INPUT else "Could not measure"
        return f"{lead}: {', '.join(kinds)} on {', '.join(tiers_hit)}"
    if not tiers:
        return "Could not measure: no results"
    inconclusive = sum(1 for v in gating if v.verdict is VerdictKind.INCONCLUSIVE)
    improved = [v for v in gating if v.verdict is VerdictKind.IMPROVED]
    changed = sum(1 for v in gating if v.verdict is VerdictKind.CHANGED)
    text = f"No regressions on {_plural(len(tiers), 'tier')}"
    extras = []
    if improved:
        extras.append(_plural(len(improved), "improvement"))
    if changed:
        extras.append(f"{changed} changed within threshold")
    if inconclusive:
        extras.append(f"{inconclusive} inconclusive")
    if status is GateStatus.INCONCLUSIVE:
        return f"Inconclusive: {_plural(inconclusive, 'gating metric')} need more runs"
    return text + (f" ({', '.join(extras)})" if extras else "")
