"""The confirmation file: an A/B re-measure of app scenarios, base commit against current, in one session.

``perfgate confirm`` (and ``perfgate run --ab-confirm``) writes it; ``perfgate
gate --triage --confirmations`` reads it, so that an app scenario's regression
is filed only when the re-measure confirmed it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field

from perfgate.contracts.results import Failure, Frozen, HostInfo, RuntimeInfo, Sample
from perfgate.files import SafeName, read_model

CONFIRMATION_SCHEMA_VERSION = 1
CONFIRMATION_KIND = "perfgate-confirmation"


class PairedOutcome(StrEnum):
    CONFIRMED = "confirmed"  # worse past the threshold, beyond doubt
    WITHIN_THRESHOLD = "within_threshold"  # the whole interval lies short of the threshold for the worse
    INCONCLUSIVE = "inconclusive"
    MISSING = "missing"  # no pair holds both values


class PairedVerdict(Frozen):
    """The paired decision on one metric of one scenario (``perfgate.decide.paired``)."""

    metric: str
    unit: str
    direction: Literal["lower", "higher"]
    informational: bool = Field(description="Decided and shown, outside the Holm family, never confirming.")
    threshold_worse: float
    outcome: PairedOutcome
    n_pairs: int = Field(default=0, description="Pairs holding both values of this metric.")
    a_median: float | None = Field(default=None, description="Median of the base commit's values (A).")
    b_median: float | None = Field(default=None, description="Median of the current commit's values (B).")
    change: float | None = Field(default=None, description="B/A - 1: Hodges–Lehmann on the pairs' log ratios.")
    change_low: float | None = Field(default=None, description="Signed-rank interval of `change` (null: unbounded).")
    change_high: float | None = None
    p_worse: float | None = Field(default=None, description="One-sided exact signed-rank p-value against no change.")
    p_worse_adjusted: float | None = Field(
        default=None, description="Holm-adjusted over the scenario's gating metrics."
    )
    notes: tuple[str, ...] = ()

    @property
    def confirmed(self) -> bool:
        """A gating metric confirmed worse past its threshold."""
        return self.outcome is PairedOutcome.CONFIRMED and not self.informational


class MeasuredPair(Frozen):
    """One pair: a run of the base commit's app (A) and one of the current's (B), back to back."""

    index: int = Field(description="0-based.")
    order: Literal["AB", "BA"] = Field(description="Which side ran first (the pairs alternate: A B, B A, ...).")
    a: Sample
    b: Sample


class ScenarioConfirmation(Frozen):
    """Every pair of one app scenario and the verdict on each metric."""

    scenario: SafeName
    command: str = Field(description="The scenario's command, shell-quoted, run in both checkouts.")
    pairs_planned: int
    warmups: int = Field(description="Warm-up runs of each side discarded before the pairs.")
    pairs: tuple[MeasuredPair, ...]
    flagged: tuple[str, ...] = Field(
        default=(), description="The gating metrics the gate report found regressed or suspected (why it was run)."
    )
    verdicts: tuple[PairedVerdict, ...] = ()

    @property
    def confirmed(self) -> bool:
        return any(v.confirmed for v in self.verdicts)


class Checkout(Frozen):
    """One side of the A/B: which commit, and where it ran."""

    git_sha: str | None = Field(description="The commit (None outside a git checkout).")
    source: str = Field(description="How it was chosen: `--base REF`, the tier's baseline provenance, or HEAD.")
    dirty: bool = Field(default=False, description="The current checkout had uncommitted changes to tracked files.")


class ConfirmationStatus(StrEnum):
    CONFIRMED = "confirmed"  # a gating metric of a scenario is confirmed worse
    NOT_CONFIRMED = "not_confirmed"
    COULD_NOT_MEASURE = "could_not_measure"


class Confirmation(Frozen):
    """``confirmation-<tier>.json``: an A/B re-measure of one tier's app scenarios."""

    schema_version: int = CONFIRMATION_SCHEMA_VERSION
    kind: Literal["perfgate-confirmation"] = "perfgate-confirmation"
    perfgate_version: str
    created_at: str
    command: str
    tier: SafeName
    host: HostInfo
    runtime: RuntimeInfo | None = Field(default=None, description="None when the runtime could not be reached.")
    base: Checkout = Field(description="A: the baseline's commit, checked out in a temporary git worktree.")
    current: Checkout = Field(description="B: the working directory perfgate was run in.")
    design: Literal["ABBA"] = Field(
        default="ABBA",
        description=(
            "Pairs alternate which side runs first (A B, B A, A B, ...), so a drift within the session or an "
            "effect of running second weighs on both sides alike."
        ),
    )
    alpha: float
    interval_alpha: float = Field(description="Each tail of the change interval (0.05: a 90 % interval).")
    status: ConfirmationStatus
    exit_code: int
    scenarios: tuple[ScenarioConfirmation, ...]
    not_remeasured: tuple[str, ...] = Field(
        default=(), description="Regressions of the gate report that are not app scenarios, so not re-measured."
    )
    failures: tuple[Failure, ...] = ()


def load_confirmation(path: Path) -> Confirmation:
    return read_model(path, Confirmation, what="confirmation", current_version=CONFIRMATION_SCHEMA_VERSION)
