"""Comparability: which fingerprint fields differ, and how stale a baseline is."""

from __future__ import annotations

from datetime import datetime, timedelta

from perfgate import __version__
from perfgate.config import GateConfig
from perfgate.contracts.baseline import Baseline
from perfgate.contracts.results import Fingerprint, RunResult

SCENARIO_FIELDS = {"prompt": "prompt_sha256", "scenario_options": "options_sha256"}


def compare_fingerprints(
    baseline: Fingerprint, current: Fingerprint, must_match: tuple[str, ...]
) -> tuple[list[str], dict[str, list[str]]]:
    """Run-level fields that differ, and per-scenario fields that differ (only those that must match)."""
    run_fields = [f for f in must_match if f not in SCENARIO_FIELDS]
    differ = [f for f in run_fields if getattr(baseline, f) != getattr(current, f)]
    scenarios: dict[str, list[str]] = {}
    for name, cur in current.scenarios.items():
        base = baseline.scenarios.get(name)
        if base is None:
            continue  # a new scenario has no baseline: reported as missing, not incomparable
        fields = [
            f for f, attr in SCENARIO_FIELDS.items() if f in must_match and getattr(base, attr) != getattr(cur, attr)
        ]
        if fields:
            scenarios[name] = fields
    return differ, scenarios


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def staleness_warnings(baseline: Baseline, current: RunResult, config: GateConfig, now: datetime) -> list[str]:
    """Reasons to re-measure the baseline soon (shown next to the verdicts, never failing)."""
    out: list[str] = []
    made = _parse_time(baseline.provenance.measured_at)
    if made is not None and now - made > timedelta(days=config.max_baseline_age_days):
        out.append(f"baseline is {(now - made).days} days old (limit {config.max_baseline_age_days:g})")
    if _version_tuple(baseline.provenance.perfgate_version)[:2] < _version_tuple(__version__)[:2]:
        out.append(f"baseline made by perfgate {baseline.provenance.perfgate_version} (now {__version__})")
    old_rt, new_rt = baseline.fingerprint.runtime_version, current.fingerprint.runtime_version
    if old_rt and new_rt and _version_tuple(old_rt) < _version_tuple(new_rt):
        out.append(f"baseline made with runtime {old_rt} (now {new_rt})")
    for field in ("os_major", "quantization"):
        if field not in config.must_match:
            old, new = getattr(baseline.fingerprint, field), getattr(current.fingerprint, field)
            if old != new:
                out.append(f"{field} differs from the baseline ({old} → {new})")
    return out
