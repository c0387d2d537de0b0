"""The A/B re-measure as a person reads it: one aligned table per scenario, then one line that says what it found."""

from __future__ import annotations

from tabulate import tabulate

from perfgate.contracts.confirmation import (
    Confirmation,
    ConfirmationStatus,
    PairedOutcome,
    PairedVerdict,
    ScenarioConfirmation,
)
from perfgate.decide.ab import paired_change
from perfgate.render.cells import fmt_number, interval_level
from perfgate.stdio import one_line

HEADERS = ("metric", "A median", "B median", "change [interval]", "p (Holm)", "verdict", "notes")
_COLALIGN = ("left", "right", "right", "right", "right", "left", "left")


def outcome_words(v: PairedVerdict) -> str:
    if v.outcome is PairedOutcome.MISSING:
        return "missing"
    if v.informational:
        return f"{'worse' if v.outcome is PairedOutcome.CONFIRMED else 'not worse'} (info)"
    if v.outcome is PairedOutcome.CONFIRMED:
        return "confirmed regression"
    return f"not confirmed ({v.outcome.value.replace('_', ' ')})"


def _value(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{fmt_number(value)} {unit}".rstrip()


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.2g}"


def scenario_table(scenario: ScenarioConfirmation) -> str:
    rows = [
        [
            v.metric,
            _value(v.a_median, v.unit),
            _value(v.b_median, v.unit),
            paired_change(v),
            _p(v.p_worse_adjusted),
            outcome_words(v),
            "; ".join(v.notes),
        ]
        for v in scenario.verdicts
    ]
    warm = f"{scenario.warmups} warm-up{'' if scenario.warmups == 1 else 's'} each"
    pairs = f"{len(scenario.pairs)}/{scenario.pairs_planned} pairs, {warm}"
    heading = f"{scenario.scenario}  ({pairs})"
    if not rows:
        return f"{heading}\n  nothing to decide: no pair was measured"
    table = tabulate(rows, headers=HEADERS, tablefmt="simple", colalign=_COLALIGN, disable_numparse=True)
    return f"{heading}\n{table}"


def _sha(sha: str | None) -> str:
    return sha[:10] if sha else "(no commit)"


def headline(confirmation: Confirmation) -> str:
    """The finding in one line: what is confirmed, or that nothing is."""
    confirmed = [
        f"{v.metric} {paired_change(v)} on {confirmation.tier}/{s.scenario}"
        for s in confirmation.scenarios
        for v in s.verdicts
        if v.confirmed
    ]
    if confirmed:
        more = f" (and {len(confirmed) - 1} more)" if len(confirmed) > 1 else ""
        return f"A/B re-measure confirms a regression: {confirmed[0]}{more}"
    if confirmation.status is ConfirmationStatus.COULD_NOT_MEASURE:
        return "A/B re-measure could not measure: " + "; ".join(one_line(f.message) for f in confirmation.failures[:1])
    return "A/B re-measure: not confirmed, no gating metric of the current commit is worse past its threshold"


def confirmation_text(confirmation: Confirmation) -> str:
    """Everything ``perfgate confirm`` prints on stdout."""
    base, current = confirmation.base, confirmation.current
    local = " + local changes" if current.dirty else ""
    level = interval_level(confirmation.interval_alpha)
    lines = [
        f"A/B re-measure · tier {confirmation.tier} · A = {_sha(base.git_sha)} ({base.source}) · "
        f"B = {_sha(current.git_sha)}{local} ({current.source})",
        f"pairs in turn A B, B A, … in one session; change = B/A − 1 with its {level} signed-rank interval",
        "",
    ]
    for scenario in confirmation.scenarios:
        lines += [scenario_table(scenario), ""]
    if confirmation.not_remeasured:
        shown = ", ".join(confirmation.not_remeasured[:5])
        lines += [f"not re-measured (not app scenarios): {shown}", ""]
    lines.append(headline(confirmation))
    return "\n".join(lines)
