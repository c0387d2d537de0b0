"""The one line a reviewer reads first."""

from __future__ import annotations

from collections.abc import Sequence

from perfgate.contracts.gate import GateStatus, Problem, Verdict, VerdictKind

LABELS = {
    "ttft_ms": "TTFT",
    "e2e_ms": "end-to-end latency",
    "decode_tok_s": "decode tok/s",
    "client_decode_tok_s": "client decode tok/s",
    "prefill_tok_s": "prefill tok/s",
    "peak_runtime_rss_mb": "runtime RSS",
    "peak_runtime_footprint_mb": "runtime footprint",
    "peak_harness_rss_mb": "harness RSS",
    "peak_combined_rss_mb": "combined RSS",
    "itl_ms_p50": "inter-chunk p50",
    "load_ms": "load time",
}


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def signed_percent(change: float) -> str:
    return f"{change * 100:+.0f} %"


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
        return f"Could not measure: {', '.join(kinds)} on {', '.join(tiers_hit)}"
    inconclusive = sum(1 for v in gating if v.verdict is VerdictKind.INCONCLUSIVE)
    improved = [v for v in gating if v.verdict is VerdictKind.IMPROVED]
    text = f"No regressions on {_plural(len(tiers), 'tier')}"
    extras = []
    if improved:
        extras.append(_plural(len(improved), "improvement"))
    if inconclusive:
        extras.append(f"{inconclusive} inconclusive")
    if status is GateStatus.INCONCLUSIVE:
        return f"Inconclusive: {_plural(inconclusive, 'gating metric')} need more runs"
    return text + (f" ({', '.join(extras)})" if extras else "")
