"""The baseline file: a tier's committed raw samples with their provenance; finding and loading it."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from perfgate.contracts.figures import FiniteFigure, figure_problem
from perfgate.contracts.gate import Problem
from perfgate.contracts.migrate import migrate_baseline
from perfgate.contracts.results import Fingerprint, Frozen, HostInfo
from perfgate.errors import BadFileError, BaselineMissing, Kind, UsageError
from perfgate.files import SafeName, clip, name_problem, parse_model, read_model

BASELINE_SCHEMA_VERSION = 3  # 2: decode rate over n - 1 gaps on both clocks; 3: sessions (contracts/migrate.py)


class Provenance(Frozen):
    """Where a baseline's numbers came from."""

    created_at: str = Field(description="When the baseline file was written (ISO 8601 UTC).")
    measured_at: str = Field(description="When the newest results it holds were measured.")
    git_sha: str | None = Field(description="Commit the measurement ran on.")
    perfgate_version: str
    host: HostInfo
    runtime_version: str | None
    model_digest: str | None
    command: str = Field(description="The command that produced the measurements.")
    runs: int = Field(description="Measured runs per scenario.")
    sessions: int = Field(default=1, ge=1, description="Measuring sessions (results files) the samples come from.")
    order: Literal["interleaved", "blocked"] | None = Field(
        default=None, description="How the newest source run ordered its scenarios' runs (None: before perfgate 0.3)."
    )
    source_files: tuple[str, ...] = Field(description="Results files the samples were taken from.")
    runtime_pid: int | None = Field(default=None, description="The runtime process of the newest source run.")
    runtime_started_at: str | None = Field(default=None, description="When that process started (ISO 8601 UTC).")


def _measured(metrics: dict[str, tuple[float, ...]]) -> dict[str, tuple[float, ...]]:
    """Every value is one a measurement can have made (a NaN or a negative TTFT is refused, naming it)."""
    for metric, values in metrics.items():
        for index, value in enumerate(values):
            problem = figure_problem(metric, value)
            if problem is not None:
                raise ValueError(f"value {index} of {problem}; re-make the baseline from good results")
    return metrics


# One scenario's raw values per metric.
ScenarioSamples = Annotated[dict[str, tuple[FiniteFigure, ...]], AfterValidator(_measured)]


class Baseline(Frozen):
    """``baselines/<tier>.json``: raw samples per scenario and metric, committed and reviewed."""

    schema_version: int = BASELINE_SCHEMA_VERSION
    kind: Literal["perfgate-baseline"] = "perfgate-baseline"
    tier: SafeName
    simulated: bool
    fingerprint: Fingerprint
    provenance: Provenance
    samples: dict[SafeName, ScenarioSamples] = Field(
        description="scenario -> metric -> raw per-request values (None values dropped), in the order measured."
    )
    sessions: dict[SafeName, dict[str, tuple[Annotated[int, Field(ge=1)], ...]]] = Field(
        default_factory=dict,
        description="scenario -> metric -> how many of its values, in order, each measuring session gave "
        "(absent: one session). The gate weighs the spread between sessions (docs/statistics.md).",
    )

    @model_validator(mode="after")
    def _sessions_cover_samples(self) -> Baseline:
        for scenario, metrics in self.sessions.items():
            for metric, sizes in metrics.items():
                held = len(self.samples.get(scenario, {}).get(metric, ()))
                if sum(sizes) != held:
                    raise ValueError(
                        f"sessions of {scenario}/{metric} count {sum(sizes)} values but the samples hold {held}"
                    )
        return self


def baseline_path(baselines_dir: Path, tier: str) -> Path:
    """``baselines_dir/<tier>.json``; UsageError for a tier that is not a name (``../x`` would leave the directory).

    Every tier perfgate reads is checked where it comes in (``SafeName``, the flags); this
    is the last check before a name becomes a path.
    """
    problem = name_problem(tier)
    if problem is not None:
        raise UsageError(f"tier {clip(tier)!r} cannot name a baseline file: {problem}")
    return baselines_dir / f"{tier}.json"


def load_baseline(path: Path) -> Baseline:
    baseline = read_model(
        path, Baseline, what="baseline", current_version=BASELINE_SCHEMA_VERSION, migrate=migrate_baseline
    )
    if path.stem != baseline.tier:
        raise BadFileError(f"{path}: invalid baseline file at field 'tier': {baseline.tier!r} is not {path.stem!r}")
    return baseline


def first_baseline_command(
    tier: str, run_args: Sequence[str] = (), app_command: Sequence[str] = (), *, perfgate_args: Sequence[str] = ()
) -> str:
    """The shell command that measures a tier's baseline and writes ``baselines/<tier>.json``.

    ``run_args`` are further ``perfgate run`` flags (the runtime, the model) and ``app_command`` what
    follows ``--``: a baseline must measure what the gated runs measure. ``perfgate_args`` go before
    the command (``--config FILE``).
    """
    out = f"perf-results/baseline-{tier}.json"
    run = ["perfgate", *perfgate_args, "run", "--tier", tier, *run_args, "--for-baseline", "--out", out]
    if app_command:
        run += ["--", *app_command]
    update = ["perfgate", *perfgate_args, "baseline", "update", "--tier", tier, "--from", out]
    return f"{shlex.join(run)} && {shlex.join(update)}"


def find_baseline(baselines_dir: Path, tier: str) -> tuple[Path, Baseline]:
    """The tier's baseline; BaselineMissing (exit 3) when there is none."""
    path = baseline_path(baselines_dir, tier)
    if not path.is_file():
        raise BaselineMissing(
            f"{path}: no baseline for tier {tier!r}; make one on a machine of that tier, then commit it: "
            f"{first_baseline_command(tier)}"
        )
    return path, load_baseline(path)


def parse_baseline(text: str | None, where: str) -> Baseline | None:
    if text is None:
        return None
    return parse_model(
        text, where, Baseline, what="baseline", current_version=BASELINE_SCHEMA_VERSION, migrate=migrate_baseline
    )


def load_baselines(
    tiers: Sequence[str], baselines_dir: Path, *, refuse_per_tier: bool = False
) -> dict[str, tuple[str, Baseline] | Problem]:
    """Each tier's baseline, or the problem that it is missing.

    A corrupt baseline raises (exit 2); with ``refuse_per_tier`` (the gate) it is
    that tier's ``bad_input`` problem instead, and the other tiers are compared.
    """
    out: dict[str, tuple[str, Baseline] | Problem] = {}
    for tier in tiers:
        try:
            path, baseline = find_baseline(baselines_dir, tier)
        except BaselineMissing as exc:
            out[tier] = Problem(kind=exc.kind, tier=tier, message=exc.message)
            continue
        except BadFileError as exc:
            if not refuse_per_tier:
                raise
            out[tier] = Problem(kind=Kind.BAD_INPUT, tier=tier, message=exc.message)
            continue
        out[tier] = (str(path), baseline)
    return out
