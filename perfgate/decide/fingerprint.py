"""Comparability: environment vs treatment, and how stale a baseline is.

A fingerprint field that ``must_match`` names and that differs from the
baseline refuses the comparison (``incomparable``): by default only the
environment (chip, RAM, OS major), since numbers from another machine say
nothing about the change; a must-match fact unreadable on both sides is
refused too ("unknown" never matches "unknown"). A treatment field (runtime,
model, digest, quantization, the runtime's settings, a scenario's prompt,
options or command) is what a pull request changes: it is compared, and
listed as a ``Change`` under "What changed".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from perfgate import __version__
from perfgate.config import FINGERPRINT_FIELDS, TREATMENT_FIELDS, GateConfig
from perfgate.contracts.baseline import Baseline
from perfgate.contracts.gate import Change, Problem
from perfgate.contracts.results import Fingerprint, RunResult, ScenarioFingerprint
from perfgate.errors import Kind

# Fields held per scenario, by their must_match name.
SCENARIO_FIELDS = {
    "prompt": "prompt_sha256",
    "scenario_options": "options_sha256",
    "command": "command",
    "app_model": "app_model",
}
RUN_FIELDS = tuple(f for f in FINGERPRINT_FIELDS if f not in SCENARIO_FIELDS)
HASH_FIELDS = ("prompt", "scenario_options")
LONGEST_VALUE = 80  # characters of a command or name shown before it is cut
UNKNOWN = "unknown"  # a fact that could not be read


@dataclass(frozen=True)
class FieldDiff:
    """One fingerprint field that differs; ``scenario`` is set for a scenario's own field."""

    field: str
    scenario: str | None
    old: str | None
    new: str | None

    def describe(self) -> str:
        return f"{self.field} ({show_change(self.field, self.old, self.new)})"


def same_model(a: str, b: str) -> bool:
    """Whether two model names are one model (Ollama reads a name without a tag as ``name:latest``)."""
    return a.removesuffix(":latest") == b.removesuffix(":latest")


def show_value(name: str, value: str | None) -> str:
    """A fingerprint value as a person reads it: hashes short, long commands cut."""
    if value is None:
        return "—"
    if name in HASH_FIELDS:
        return value[:8]
    if name == "model_digest":
        return value.removeprefix("sha256:")[:12]
    return value if len(value) <= LONGEST_VALUE else value[: LONGEST_VALUE - 1] + "…"


def show_change(name: str, old: str | None, new: str | None, quote: Callable[[str], str] = str) -> str:
    """``old → new`` as a person reads it (``sha256 1a2b3c4d → 5e6f7a8b`` for a hash); ``quote`` escapes each value."""
    prefix = "sha256 " if name in HASH_FIELDS else ""
    return f"{prefix}{quote(show_value(name, old))} → {quote(show_value(name, new))}"


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return f"{value:g}" if isinstance(value, float) else str(value)


def _settings_diff(old: dict[str, str] | None, new: dict[str, str] | None) -> tuple[str, str] | None:
    """The settings that differ, as ``K=v`` lists; None when equal or one side never recorded them."""
    if old is None or new is None:
        return None  # a file from before perfgate read the settings: not a change
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if not keys:
        return None
    return (
        ", ".join(f"{k}={old.get(k, UNKNOWN)}" for k in keys),
        ", ".join(f"{k}={new.get(k, UNKNOWN)}" for k in keys),
    )


def _unknown_both(name: str, baseline: Fingerprint, current: Fingerprint) -> bool:
    """Whether a field is unreadable on both sides: "unknown" never matches "unknown"."""
    old, new = getattr(baseline, name), getattr(current, name)
    if name == "runtime_settings":
        return any(v == UNKNOWN for v in (old or {}).values()) and any(v == UNKNOWN for v in (new or {}).values())
    return old is None and new is None


def fingerprint_diffs(baseline: Fingerprint, current: Fingerprint, must_match: Sequence[str] = ()) -> list[FieldDiff]:
    """Every field that differs: run-level ones, then each scenario present in both.

    A ``must_match`` field unreadable on both sides (``None``, or a setting
    ``unknown``) is a difference too: two unknowns say nothing about whether
    the machines match.
    """
    diffs: list[FieldDiff] = []
    for name in RUN_FIELDS:
        if name in must_match and _unknown_both(name, baseline, current):
            diffs.append(FieldDiff(name, None, UNKNOWN, UNKNOWN))
        elif name == "runtime_settings":
            changed = _settings_diff(baseline.runtime_settings, current.runtime_settings)
            if changed is not None:
                diffs.append(FieldDiff(name, None, *changed))
        elif getattr(baseline, name) != getattr(current, name):
            diffs.append(FieldDiff(name, None, _text(getattr(baseline, name)), _text(getattr(current, name))))
    for scenario, cur in current.scenarios.items():
        base = baseline.scenarios.get(scenario)
        if base is None:
            continue  # a new scenario has no baseline: reported as missing, not as a change
        diffs.extend(_scenario_diffs(scenario, base, cur))
    return diffs


def _scenario_diffs(scenario: str, base: ScenarioFingerprint, cur: ScenarioFingerprint) -> list[FieldDiff]:
    return [
        FieldDiff(name, scenario, getattr(base, attr), getattr(cur, attr))
        for name, attr in SCENARIO_FIELDS.items()
        if getattr(base, attr) != getattr(cur, attr) and not _unrecorded(name, base, cur)
    ]


def _unrecorded(name: str, base: ScenarioFingerprint, cur: ScenarioFingerprint) -> bool:
    # A baseline from before perfgate recorded the app's model has none; a scenario that
    # stopped (or started) running an app shows as a changed command instead.
    return name == "app_model" and (base.app_model is None or cur.app_model is None)


def _add(found: dict[tuple[str | None, str], FieldDiff], diffs: Sequence[FieldDiff]) -> None:
    for diff in diffs:
        found.setdefault((diff.scenario, diff.field), diff)


@dataclass(frozen=True)
class Comparability:
    """How one tier's results relate to its baseline."""

    tier: str
    refused: tuple[FieldDiff, ...] = ()  # must-match fields that differ from the baseline
    mixed: tuple[FieldDiff, ...] = ()  # treatment fields on which the pooled results files disagree
    changes: tuple[Change, ...] = ()

    def blocked(self, scenario: str) -> list[str]:
        """The fields that keep ``scenario`` from being compared (run-level ones block every scenario)."""
        names = [d.field for d in (*self.refused, *self.mixed) if d.scenario in (None, scenario)]
        return list(dict.fromkeys(names))

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        run = [d for d in self.refused if d.scenario is None]
        if run:
            described = ", ".join(d.describe() for d in run)
            out.append(
                Problem(
                    kind=Kind.INCOMPARABLE,
                    tier=self.tier,
                    message=f"baseline and results differ in {described}; update the baseline",
                )
            )
        for scenario in dict.fromkeys(d.scenario for d in self.refused if d.scenario is not None):
            described = ", ".join(d.describe() for d in self.refused if d.scenario == scenario)
            out.append(
                Problem(
                    kind=Kind.INCOMPARABLE,
                    tier=self.tier,
                    scenario=scenario,
                    message=f"scenario {scenario!r} changed ({described}) since the baseline; update the baseline",
                )
            )
        for among in dict.fromkeys(d.scenario for d in self.mixed):
            described = ", ".join(d.describe() for d in self.mixed if d.scenario == among)
            where = f"scenario {among!r} of the results files" if among else "the results files"
            out.append(
                Problem(
                    kind=Kind.INCOMPARABLE,
                    tier=self.tier,
                    scenario=among,
                    message=f"{where} differ among themselves in {described}; measure a tier on one setup",
                )
            )
        return out


def check_tier(
    tier: str, baseline: Fingerprint, results: Sequence[Fingerprint], must_match: Sequence[str]
) -> Comparability:
    """Refused fields, disagreements between results files, and the changes under test.

    ``results`` are every measured results file of the tier, newest first: samples
    are pooled across them, so each is checked against the baseline, and the pooled
    files must agree on every treatment field (one file from another model must not
    slip in beside the others).
    """
    if not results:
        return Comparability(tier)
    refused: dict[tuple[str | None, str], FieldDiff] = {}
    mixed: dict[tuple[str | None, str], FieldDiff] = {}
    newest = results[0]
    for current in results:
        _add(refused, [d for d in fingerprint_diffs(baseline, current, must_match) if d.field in must_match])
        among = fingerprint_diffs(newest, current)
        _add(mixed, [d for d in among if d.field in TREATMENT_FIELDS and d.field not in must_match])
    changes = tuple(
        Change(tier=tier, scenario=d.scenario, field=d.field, old=d.old, new=d.new)
        for d in fingerprint_diffs(baseline, newest)
        if d.field in TREATMENT_FIELDS and d.field not in must_match
    )
    return Comparability(tier, tuple(refused.values()), tuple(mixed.values()), changes)


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


def staleness_warnings(
    baseline: Baseline, current: RunResult, config: GateConfig, now: datetime, must_match: Sequence[str]
) -> list[str]:
    """Reasons to re-measure the baseline soon (shown next to the verdicts, never failing).

    A treatment change (a newer runtime, another quantization) is not staleness: it is
    listed under "What changed".
    """
    out: list[str] = []
    made = _parse_time(baseline.provenance.measured_at)
    if made is not None and now - made > timedelta(days=config.max_baseline_age_days):
        out.append(
            f"baseline is {(now - made).days} days old (limit {config.max_baseline_age_days:g}): "
            f"refresh it with `nox -s baseline -- --tier {baseline.tier}`"
        )
    if _version_tuple(baseline.provenance.perfgate_version)[:2] < _version_tuple(__version__)[:2]:
        out.append(f"baseline made by perfgate {baseline.provenance.perfgate_version} (now {__version__})")
    # An OS update a tier chose not to refuse (os_major left out of must_match) is still worth saying.
    if "os_major" not in must_match and baseline.fingerprint.os_major != current.fingerprint.os_major:
        old, new = baseline.fingerprint.os_major, current.fingerprint.os_major
        out.append(f"os_major differs from the baseline ({old} → {new})")
    # Interleaved runs measure memory after every scenario of a group was warmed, blocked ones before.
    made_order, run_order = baseline.provenance.order or "blocked", current.order or "blocked"
    if made_order != run_order:
        out.append(
            f"baseline measured {made_order}, results {run_order}: re-make the baseline to compare like with like"
        )
    return [*out, *runtime_warnings(baseline, current)]


# A runtime started this long before a run had served other requests first (perfgate starts its own
# runtimes seconds before their first request).
ALREADY_SERVING = timedelta(minutes=1)


def serving_before(started_at: str | None, run_at: str) -> timedelta | None:
    """How long a runtime had been running when a run began, when that is past ``ALREADY_SERVING``."""
    started, begun = _parse_time(started_at or ""), _parse_time(run_at)
    if started is None or begun is None or begun - started <= ALREADY_SERVING:
        return None
    return begun - started


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def runtime_warnings(baseline: Baseline, current: RunResult) -> list[str]:
    """Runtime memory that may be inherited: a runtime serving before the run, or the baseline's very process."""
    out: list[str] = []
    rt, prov = current.runtime, baseline.provenance
    if rt.pid is not None and (rt.pid, rt.started_at) == (prov.runtime_pid, prov.runtime_started_at):
        out.append(
            f"results and baseline measured the same runtime process (pid {rt.pid}): its memory carries what the "
            "baseline's requests left; restart the runtime between them"
        )
    for who, started, run_at in (
        ("baseline", prov.runtime_started_at, prov.measured_at),
        ("results", rt.started_at, current.created_at),
    ):
        before = serving_before(started, run_at)
        if before is not None:
            out.append(
                f"{who}: the runtime had been serving for {_span(before)} before the run; its memory may include "
                "what earlier requests left (restart it first, or let perfgate start one: --runtime llamacpp)"
            )
    return out
