"""The gate's output: verdicts, problems and the GateReport written as gate.json."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from perfgate.contracts.results import Frozen
from perfgate.errors import ProblemKind

GATE_SCHEMA_VERSION = 3  # 2: the 'changed' verdict; tiers' own look levels; 3: the 'bad_input' status and problem
# The tier of a file refused before its tier could be read (too large, not a valid tier name): never a tier's name,
# which has no parentheses or spaces (``perfgate.files.NAME_PATTERN``).
UNKNOWN_TIER = "(unknown tier)"


class VerdictKind(StrEnum):
    REGRESSED = "regressed"
    IMPROVED = "improved"
    CHANGED = "changed"  # a significant change not shown to be past the threshold: passes
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"
    MISSING = "missing"
    INCOMPARABLE = "incomparable"
    ERROR = "error"


class Verdict(Frozen):
    """The decision on one (tier, scenario, metric)."""

    tier: str
    scenario: str
    metric: str
    unit: str
    direction: Literal["lower", "higher"]
    informational: bool
    verdict: VerdictKind
    threshold_worse: float
    threshold_better: float
    baseline_median: float | None = None
    current_median: float | None = None
    n_baseline: int = 0
    n_current: int = 0
    change: float | None = Field(default=None, description="current/baseline - 1 (Hodges–Lehmann on logs).")
    change_low: float | None = None
    change_high: float | None = None
    p_worse: float | None = None
    p_worse_adjusted: float | None = Field(default=None, description="Holm-adjusted across the whole gate.")
    baseline_cv: float | None = None
    current_cv: float | None = None
    runs_needed: int | None = Field(default=None, description="Extra current runs likely to settle 'inconclusive'.")
    confirmed: bool = Field(
        default=False, description="A regression seen at two consecutive looks of a sequential run."
    )
    notes: tuple[str, ...] = Field(default=(), description="Noise warnings and reasons, short phrases.")


class Problem(Frozen):
    """Something that kept the gate from measuring or comparing."""

    kind: ProblemKind
    tier: str
    scenario: str | None = None
    metric: str | None = None
    message: str


class Change(Frozen):
    """A treatment field that differs from the baseline: compared, and shown under "What changed"."""

    tier: str
    scenario: str | None = Field(default=None, description="Set for a scenario's own field (prompt, options, command).")
    field: str = Field(description="The fingerprint field, as `gate.must_match` names it (model, prompt, ...).")
    old: str | None = Field(description="The baseline's value (a full hash for prompt and options).")
    new: str | None = Field(description="The results' value.")


class TierSummary(Frozen):
    """What the gate knew about one tier."""

    tier: str
    results_files: tuple[str, ...] = ()
    baseline_file: str | None = None
    host_label: str | None = None
    chip: str | None = None
    runtime: str | None = Field(default=None, description="kind and version")
    model: str | None = None
    model_digest: str | None = None
    git_sha: str | None = None
    simulated: bool = False
    baseline_created_at: str | None = None
    baseline_git_sha: str | None = None
    baseline_sessions: int | None = Field(default=None, description="Measuring sessions the baseline was made from.")
    look_alpha: float | None = Field(
        default=None, description="The share of alpha this tier's regressions were tested at (a sequential run's look)."
    )
    warnings: tuple[str, ...] = Field(default=(), description="Staleness and comparability warnings.")


class GateStatus(StrEnum):
    PASS = "pass"
    REGRESSION = "regression"
    COULD_NOT_MEASURE = "could_not_measure"
    INCONCLUSIVE = "inconclusive"
    BAD_INPUT = "bad_input"  # a results or baseline file was refused (exit 2); the other tiers were still decided


class GateReport(Frozen):
    """``gate.json``: every verdict of one gate and its overall status."""

    schema_version: int = GATE_SCHEMA_VERSION
    kind: Literal["perfgate-gate"] = "perfgate-gate"
    perfgate_version: str
    created_at: str
    alpha: float
    look_alpha: float | None = Field(
        default=None,
        description="The smallest share of alpha a tier was tested at (each tier: `tiers[].look_alpha`).",
    )
    interval_tail: float | None = Field(
        default=None,
        description="Each tail of the change intervals (`gate.interval_tail`); None in files written before it was "
        "recorded, whose intervals had `alpha` in each tail.",
    )
    status: GateStatus
    exit_code: int
    headline: str
    tiers: tuple[TierSummary, ...]
    verdicts: tuple[Verdict, ...]
    problems: tuple[Problem, ...] = ()
    changes: tuple[Change, ...] = Field(
        default=(), description="Treatment fields that differ from the baselines (compared, not refused)."
    )
