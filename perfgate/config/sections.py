"""The config tables of the simulator and the later stages: sequential runs, the A/B re-measure, triage, GitHub."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from perfgate.config.base import _checked_path, _Model, _refuse_unknown
from perfgate.errors import TRIAGE_KINDS


class SimConfig(_Model):
    """Profile of the built-in simulated runtime (``--runtime sim``)."""

    ttft_ms: float = Field(default=40.0, ge=0, description="Time to first token.")
    tok_s: float = Field(default=60.0, gt=0, description="Decode rate in tokens per second.")
    prefill_tok_s: float = Field(default=2000.0, gt=0, description="Reported prefill rate.")
    jitter_cv: float = Field(default=0.03, ge=0, description="Coefficient of variation of per-request timing noise.")
    load_ms: float = Field(default=800.0, ge=0, description="Model load time of the first request.")
    ballast_mb: int = Field(default=64, ge=0, description="Memory held by the simulated runner child process.")


class SequentialConfig(_Model):
    """``--until-conclusive``: more runs only where a verdict is in doubt."""

    max_looks: int = Field(default=6, ge=1, le=20, description="Looks at most, the first after `runs` runs.")
    batch_runs: int = Field(default=4, ge=1, description="Runs added to an unsettled scenario per look.")
    rho: float = Field(default=2.0, gt=0, description="Alpha-spending exponent: look k spends alpha*(k/K)**rho.")
    max_runs: int | None = Field(default=None, ge=1, description="Cap on measured runs per scenario.")
    max_minutes: float | None = Field(default=None, gt=0, description="Wall-clock budget for the extra looks.")


class ConfirmConfig(_Model):
    """The A/B re-measure of an app scenario's regression (``perfgate confirm``, ``perfgate run --ab-confirm``)."""

    when: Literal["default-branch", "always", "never"] = Field(
        default="default-branch",
        description=(
            "When `perfgate run --ab-confirm` (what `nox -s perf` runs) re-measures the app scenarios the gate "
            "finds regressed, base and current commit interleaved, before triage files them: on the default "
            "branch (and locally, outside GitHub Actions), always (pull requests too), or never. "
            "`perfgate confirm` itself always runs."
        ),
    )
    pairs: int = Field(
        default=8,
        ge=2,
        le=100,
        description=(
            "A/B pairs per scenario (each: one run of the base commit's app and one of the current's). The smallest "
            "p-value of n pairs is 2^-n: 8 pairs reach α = 0.05 across up to 12 gating metrics (Holm)."
        ),
    )
    warmup: int = Field(default=1, ge=0, description="Discarded warm-up runs of each side before the pairs.")


class TriageConfig(_Model):
    """Triage entries: who owns what, how severe, and when to file."""

    label: str = Field(default="perfgate", description="GitHub label on every triage issue.")
    file_on_pr: Literal["never", "could_not_measure", "all"] = Field(
        default="never",
        description=(
            "What a pull request's gate files as issues: by default nothing (a PR's gate only comments; what it "
            "saw is in its comment). The default branch (push or workflow_dispatch) files, updates and closes."
        ),
    )
    p1_regression: float = Field(default=0.25, gt=0, description="A regression this large (0.25 = 25 %) is P1.")
    max_evidence: int = Field(default=10, ge=1, description="Sightings kept per entry.")
    confirm_regressions: bool = Field(
        default=True,
        description=(
            "File a regression only once confirmed (seen at two consecutive looks of an --until-conclusive run); "
            "until then the comment calls it suspected."
        ),
    )
    owners: dict[str, str] = Field(
        default_factory=lambda: {
            "regression": "QA",
            "runtime_unavailable": "Runtime",
            "model_missing": "Runtime",
            "runtime_error": "Runtime",
            "tier_missing": "QA/Platform",
            "baseline_missing": "QA/Platform",
            "incomparable": "QA/Platform",
            "memory_unavailable": "QA",
            "app_failed": "App",
            "app_no_request": "App",
            "app_timeout": "App",
            "timing_unreliable": "QA/Platform",
            "drift": "QA",
        },
        description="Owner per entry kind, as in the seed's Defect Triage table; a kind you set keeps the others.",
    )
    severities: dict[str, str] = Field(
        default_factory=lambda: {
            "runtime_unavailable": "P1",
            "model_missing": "P1",
            "runtime_error": "P1",
            "tier_missing": "P1",
            "baseline_missing": "P2",
            "incomparable": "P2",
            "memory_unavailable": "P2",
            "app_failed": "P1",
            "app_no_request": "P1",
            "app_timeout": "P1",
            "timing_unreliable": "P2",
            "drift": "P2",
        },
        description=(
            "Severity per could-not-measure kind and for drift (regressions: P1 above p1_regression, else P2); "
            "a kind you set keeps the others."
        ),
    )

    @field_validator("owners", "severities")
    @classmethod
    def _known_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        _refuse_unknown("triage kind", value, TRIAGE_KINDS)
        return value


class GitHubConfig(_Model):
    """How perfgate recognises its own comment and issues on GitHub."""

    bot_login: str = Field(
        default="github-actions[bot]",
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$",
        description=(
            "The account perfgate's token writes as: `github-actions[bot]` for the workflow's `GITHUB_TOKEN`, "
            "`<app-slug>[bot]` for a GitHub App, a user's login for a personal token. Only the sticky comment and "
            "triage issues this account wrote are found again and edited; a comment by anyone else is never "
            "touched, even one that starts with perfgate's marker."
        ),
    )


class HistoryConfig(_Model):
    """The history store of default-branch runs and drift detection over it (docs/history.md)."""

    store: str | None = Field(
        default=None,
        description=(
            "Directory a default-branch `perfgate gate` records each run into (one file per run and tier), "
            "for `perfgate history drift`; unset: nothing is recorded. Publish it with `perfgate history push`."
        ),
    )
    max_p: float = Field(
        default=0.005, gt=0, lt=0.5, description="Significance level of each change point (permutation test)."
    )
    permutations: int = Field(
        default=199, ge=19, le=9999, description="Shuffles of the permutation test (the smallest p is 1/(n+1))."
    )
    min_runs: int = Field(default=3, ge=2, description="Fewest runs on either side of a change point.")
    min_magnitude: float = Field(
        default=0.02,
        ge=0,
        lt=1,
        description="Change points shifting the level less than this (0.02 = 2 %) are dropped.",
    )
    recent_runs: int = Field(
        default=5, ge=1, description="Runs whose median is compared with the baseline's (the cumulative drift)."
    )
    seed: int = Field(default=0, description="Seed of the permutation test's shuffles.")
    site_url: str | None = Field(
        default=None,
        description=(
            "Address of the published trend page (`perfgate history site`, e.g. GitHub Pages of the history branch: "
            "docs/history-site.md); when set, the PR comment's footer links to it. http(s) only."
        ),
    )

    @field_validator("store")
    @classmethod
    def _valid_store(cls, value: str | None) -> str | None:
        return _checked_path(value)

    @field_validator("site_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        # Also no parentheses or angle brackets: the comment links it as Markdown, `[text](<url>)`.
        if any(c.isspace() or not c.isprintable() or c in "()<>\"'`\\" for c in value):
            raise ValueError("the trend page's URL holds no spaces, quotes, brackets or control characters")
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("expected the trend page's address as https://HOST/PATH")
        return value
