"""The settings: one frozen model per table, every field described (``docs/configuration.md`` is made from them).

Names are checked here, where they are read: a metric, a fingerprint field or
a forced tier that does not exist is refused with the valid ones listed,
because a misspelt name would otherwise switch a check off without a word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, Protocol, TypeVar

from pydantic import Field, ValidationInfo, field_validator, model_validator

from perfgate.config.base import _checked_path, _Model, _refuse_unknown
from perfgate.config.runtime import RuntimeConfig
from perfgate.config.sections import (
    ConfirmConfig,
    GitHubConfig,
    HistoryConfig,
    SequentialConfig,
    SimConfig,
    TriageConfig,
)
from perfgate.files import SafeName
from perfgate.metrics import APP_METRIC_PREFIX, BY_NAME, METRICS, is_app_metric

SEED_PROMPT = "Explain what Bzzbe does in two short sentences."


# A long, fixed prompt so prefill throughput is measurable; built from a
# repeated paragraph so its hash never changes.
PREFILL_PROMPT = (
    "You are reviewing release notes for a macOS app that runs a local language model. "
    "Summarise the following notes in one sentence.\n\n"
    + " ".join(
        f"Note {i}: the app keeps the model loaded between requests, streams tokens as they "
        "arrive, and measures first-token latency, decode throughput and peak memory."
        for i in range(1, 41)
    )
)


def _refuse_unknown_metrics(given: Iterable[str]) -> None:
    """Registry metrics, plus an app's own figures named ``app.<name>`` (the only names not in the registry)."""
    for name in given:
        if name not in BY_NAME and not is_app_metric(name):
            raise ValueError(
                f"unknown metric {name!r} (known: {', '.join(BY_NAME)}; "
                f"or {APP_METRIC_PREFIX}<name> for a figure the app prints on a PERFGATE line)"
            )


class _Switchable(Protocol):
    @property
    def enabled(self) -> bool: ...


_Entry = TypeVar("_Entry", bound=_Switchable)


def _enabled_only(entries: dict[str, _Entry]) -> dict[str, _Entry]:
    return {name: entry for name, entry in entries.items() if entry.enabled}


def _enabled_field(what: str) -> bool:
    return Field(
        default=True,
        description=f"false switches this {what} off: how to drop a built-in one, since yours are merged onto them.",
    )


class ScenarioConfig(_Model):
    """One named benchmark scenario: perfgate's own request (``prompt``), or the app's harness (``command``)."""

    prompt: str | None = Field(
        default=None, description="User message perfgate sends to the model; required unless `command` is set."
    )
    command: tuple[str, ...] | None = Field(
        default=None,
        min_length=1,
        description=(
            "The app's benchmark command (argv, no shell), run once per warm-up and measured run with OLLAMA_HOST, "
            "OPENAI_BASE_URL and PERFGATE_PROXY_URL pointing at perfgate's measuring proxy; `{proxy_url}` in an "
            "argument is replaced by the proxy's URL. perfgate's own prompt and options are then unused."
        ),
    )
    timeout_s: float = Field(
        default=600.0, gt=0, description="App scenarios: a run of `command` that lasts longer is killed (app_timeout)."
    )
    num_predict: int = Field(default=64, ge=1, description="Maximum output tokens (Ollama num_predict / max_tokens).")
    num_ctx: int = Field(
        default=4096,
        ge=256,
        description=(
            "Context window, sent where the protocol can (Ollama's options; a llama.cpp server perfgate starts is "
            "started with the largest); an OpenAI-compatible server's own setting is not claimed."
        ),
    )
    cold_prompt: bool = Field(
        default=False,
        description=(
            "Measure the prompt cold: each request's prompt begins with a nonce, and the runtime is asked not to "
            "reuse its prompt cache where it has a switch (llama.cpp `cache_prompt: false`). Without it, every "
            "request after the first may be a cache hit."
        ),
    )
    temperature: float = Field(default=0.0, ge=0.0, description="Sampling temperature (0 = greedy).")
    seed: int = Field(default=42, description="Fixed sampling seed.")
    kind: Literal["warm", "cold"] = Field(
        default="warm",
        description=(
            "'warm': the model is loaded before the runs (preload). 'cold': every warm-up and run is a cold start -- "
            "the model is unloaded first (Ollama: keep_alive 0, then /api/ps polled until it is gone; llama.cpp: "
            "its server stopped), then one request is timed: load_cold_ms, ttft_cold_ms and the peak memory while "
            "loading (docs/metrics.md). Not for app scenarios, nor the 'openai' runtime (nothing to unload with)."
        ),
    )
    enabled: bool = _enabled_field("scenario")

    @model_validator(mode="after")
    def _prompt_or_command(self) -> ScenarioConfig:
        if self.prompt is None and self.command is None:
            raise ValueError("a scenario needs a prompt (perfgate's own request) or a command (the app's harness)")
        if self.kind == "cold" and self.command is not None:
            raise ValueError("kind = 'cold' times perfgate's own first request; an app scenario loads its own way")
        return self


# The machine under the measurement: a difference means the numbers are not comparable.
# (The tier itself always matches: each tier's results meet only that tier's baseline.)
ENVIRONMENT_FIELDS = ("chip", "memory_gb", "os_major")

# What a pull request changes: a difference is compared and shown under "What changed".
TREATMENT_FIELDS = (
    "runtime_kind",
    "runtime_version",
    "model",
    "model_digest",
    "quantization",
    "runtime_settings",
    "prompt",
    "scenario_options",
    "command",
    "app_model",
)
FINGERPRINT_FIELDS = ENVIRONMENT_FIELDS + TREATMENT_FIELDS


class TierMatch(_Model):
    """Rules a host must satisfy to belong to a tier; unset rules always match."""

    chip_regex: str | None = Field(default=None, description="Regex searched in the chip brand string.")
    min_memory_gb: float | None = Field(default=None, description="Minimum installed RAM in GiB.")
    max_memory_gb: float | None = Field(default=None, description="Maximum installed RAM in GiB.")
    os: str | None = Field(default=None, description="Required OS (darwin, linux).")


class TierConfig(_Model):
    """A hardware tier: a class of machines whose numbers are comparable."""

    description: str = Field(default="", description="Shown in reports.")
    match: TierMatch = Field(default_factory=TierMatch, description="Host match rules for auto-detection.")
    runner_labels: tuple[str, ...] = Field(default=(), description="Self-hosted runner labels for this tier.")
    simulated: bool = Field(default=False, description="Only a simulated tier may take simulated results as baseline.")
    auto_detect: bool = Field(default=True, description="Whether host detection may pick this tier.")
    must_match: tuple[str, ...] | None = Field(
        default=None, description="Overrides gate.must_match for this tier (None = use gate.must_match)."
    )
    informational_metrics: tuple[str, ...] = Field(
        default=(), description="Metrics shown but never failing on this tier."
    )
    enabled: bool = _enabled_field("tier")

    @field_validator("must_match")
    @classmethod
    def _known_fields(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        _refuse_unknown("fingerprint field", value or (), FINGERPRINT_FIELDS)
        return value

    @field_validator("informational_metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _refuse_unknown_metrics(value)
        return value


class MetricPolicy(_Model):
    """How one metric is judged."""

    threshold_worse: float = Field(gt=0, description="Relative change for the worse that matters (0.10 = 10 %).")
    threshold_better: float = Field(gt=0, lt=1, description="Relative change for the better that counts as improved.")
    informational: bool | None = Field(
        default=None,
        description=(
            "Shown, never failing, outside the Holm family. Unset: the registry's default "
            "(`peak_combined_rss_mb` gates in app scenarios only)."
        ),
    )
    session_spread: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        description=(
            "Session-to-session offset (as a CV) assumed when a baseline is one measuring session. Unset: "
            "the registry's default (0.02 for timings and rates, 0.005 for memory). A baseline of 2 or more "
            "sessions measures it instead (docs/statistics.md, Sessions)."
        ),
    )
    enabled: bool = _enabled_field("metric")


def _default_metric_policies() -> dict[str, MetricPolicy]:
    """Every registry metric that has a default threshold."""
    policies = {
        m.name: MetricPolicy(threshold_worse=m.threshold, threshold_better=m.threshold)
        for m in METRICS
        if m.threshold is not None
    }
    # Gating metrics first, as the gate has always listed them: the verdicts come out in this order.
    return dict(sorted(policies.items(), key=lambda item: BY_NAME[item[0]].informational))


class GateConfig(_Model):
    """The decision rule's settings."""

    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="False-alarm budget per gate (Holm over all tests).")
    interval_tail: float = Field(
        default=0.04, gt=0, lt=0.5, description="Each tail of the change interval (0.04: a 92 % interval)."
    )
    fail_on_inconclusive: bool = Field(default=False, description="Exit 4 when a gating verdict is inconclusive.")
    cv_warning: float = Field(default=0.10, gt=0, description="Warn when a sample set's CV exceeds this.")
    baseline_cv_warning: float = Field(
        default=0.10,
        gt=0,
        description=(
            "`baseline update` warns when a gated metric of the new baseline varies more than this (CV), with "
            "the runs a baseline that noisy needs for the metric's threshold to be told from noise."
        ),
    )
    min_baseline_samples: int = Field(default=10, ge=2, description="Fewest samples per scenario a baseline may hold.")
    baseline_runs: int = Field(default=15, ge=2, description="Measured runs per scenario for `nox -s baseline`.")
    max_baseline_age_days: float = Field(default=60, gt=0, description="Older baselines get a staleness warning.")
    must_match: tuple[str, ...] = Field(
        default=ENVIRONMENT_FIELDS,
        description=(
            "Fingerprint fields that must match to compare, else the tier is refused as incomparable (exit 3); "
            f"any of {', '.join(FINGERPRINT_FIELDS)}. By default the environment ({', '.join(ENVIRONMENT_FIELDS)}); "
            'a treatment field that differs and is not listed is compared and shown under "What changed".'
        ),
    )
    metrics: dict[str, MetricPolicy] = Field(
        default_factory=_default_metric_policies,
        description=(
            "Metrics compared, with thresholds (defaults from perfgate/metrics.py). A table you set is merged onto "
            "the built-in one; `enabled = false` stops comparing a metric. Names must be metrics perfgate knows."
        ),
    )
    confirm: ConfirmConfig = Field(
        default_factory=ConfirmConfig,
        description="The A/B re-measure of app scenarios (`perfgate confirm`): base and current commit interleaved.",
    )

    @field_validator("must_match")
    @classmethod
    def _known_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _refuse_unknown("fingerprint field", value, FINGERPRINT_FIELDS)
        return value

    @field_validator("metrics", mode="before")
    @classmethod
    def _known_metrics(cls, value: object) -> object:
        # Before the policies are validated, so a misspelt name is named as such, not as a missing threshold.
        if isinstance(value, Mapping):
            _refuse_unknown_metrics(value)
        return value

    @field_validator("metrics")
    @classmethod
    def _drop_disabled_metrics(cls, value: dict[str, MetricPolicy]) -> dict[str, MetricPolicy]:
        enabled = _enabled_only(value)
        if not enabled:
            raise ValueError("every metric is disabled, so the gate would compare nothing")
        return enabled


class PerfgateConfig(_Model):
    """All of perfgate's settings."""

    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig, description="Runtime to benchmark.")
    scenarios: dict[SafeName, ScenarioConfig] = Field(
        default_factory=lambda: {
            "short-explain": ScenarioConfig(prompt=SEED_PROMPT, num_predict=64),
            "prefill": ScenarioConfig(prompt=PREFILL_PROMPT, num_predict=16, cold_prompt=True),
        },
        description=(
            "Named scenarios. A table you set is merged onto the built-in one of that name or adds a scenario; "
            "`enabled = false` drops one."
        ),
    )
    warmup: int = Field(default=1, ge=0, description="Discarded warm-up requests per scenario.")
    runs: int = Field(default=5, ge=1, description="Measured requests per scenario.")
    order: Literal["interleaved", "blocked"] = Field(
        default="interleaved",
        description=(
            "How the scenarios' runs are ordered: 'interleaved' measures in rounds (run 1 of every scenario, then "
            "run 2, ...) so a slow drift of the machine reaches every scenario alike; 'blocked' measures every run "
            "of one scenario, then the next. Interleaved, a scenario with a warm prompt (or an app's) gets a "
            "discarded request right before each run, and scenarios that differ in num_ctx (Ollama reloads the "
            "model) are measured one group after another; see docs/metrics.md."
        ),
    )
    memory_interval_ms: float = Field(default=50.0, gt=0, description="Memory sampling interval.")
    cold_load_ms: float = Field(default=500.0, ge=0, description="A sample whose load_ms exceeds this is cold.")
    tiers: dict[SafeName, TierConfig] = Field(
        default_factory=lambda: {
            "base": TierConfig(
                description="Apple M1/M2, 16 GB",
                # 16 GB exactly: an 8 GB Mac swaps the weights and is not this tier.
                match=TierMatch(
                    chip_regex=r"Apple M[12]\b(?! (Pro|Max|Ultra))", min_memory_gb=16, max_memory_gb=16, os="darwin"
                ),
                runner_labels=("self-hosted", "macOS", "ARM64", "perf-base"),
            ),
            "pro": TierConfig(
                description="Apple M3 Pro, 36 GB",
                match=TierMatch(chip_regex=r"Apple M3 Pro", min_memory_gb=32, os="darwin"),
                runner_labels=("self-hosted", "macOS", "ARM64", "perf-pro"),
            ),
            "local": TierConfig(
                description="Any machine measuring a real runtime against its own baseline (CI box, laptop)",
                # No match rules and listed after the Apple Silicon tiers: detection picks it only
                # when no hardware tier matches. Its baseline is comparable only on the same chip and RAM.
            ),
            "sim": TierConfig(
                description="The built-in simulated runtime on any machine",
                simulated=True,
                auto_detect=False,
                # The simulator's timings come from its own clock, so any host compares (no
                # environment field must match); its memory is the Python interpreter's, which
                # differs between hosts. Treatment changes are compared, as on every tier.
                must_match=(),
                informational_metrics=(
                    "peak_runtime_rss_mb",
                    "peak_runtime_footprint_mb",
                    "peak_harness_rss_mb",
                    "peak_app_rss_mb",
                    "peak_combined_rss_mb",
                ),
            ),
        },
        description=(
            "Hardware tiers. A table you set is merged onto the built-in one of that name or adds a tier; "
            "`enabled = false` drops one. Detection tries the tiers you add first, in the order written, then "
            "the built-in ones, which end with the catch-all `local`."
        ),
    )
    # After `tiers`, so that its validator sees them.
    tier: SafeName | None = Field(
        default=None, description="Force a tier instead of detecting it; must be a tier above."
    )
    sim: SimConfig = Field(default_factory=SimConfig, description="Simulated runtime profile.")
    gate: GateConfig = Field(default_factory=GateConfig, description="Decision rule.")
    triage: TriageConfig = Field(default_factory=TriageConfig, description="Triage entries.")
    github: GitHubConfig = Field(default_factory=GitHubConfig, description="perfgate's account on GitHub.")
    sequential: SequentialConfig = Field(default_factory=SequentialConfig, description="Sequential runs.")
    history: HistoryConfig = Field(
        default_factory=HistoryConfig, description="History of default-branch runs, and drift over it."
    )
    results_dir: str = Field(default="perf-results", description="Where `nox -s perf` writes results files.")
    baselines_dir: str = Field(default="baselines", description="Committed per-tier baselines.")

    @field_validator("results_dir", "baselines_dir")
    @classmethod
    def _valid_dir(cls, value: str) -> str:
        _checked_path(value)
        return value

    @field_validator("scenarios")
    @classmethod
    def _drop_disabled_scenarios(cls, value: dict[str, ScenarioConfig]) -> dict[str, ScenarioConfig]:
        enabled = _enabled_only(value)
        if not enabled:
            raise ValueError("every scenario is disabled, so a run would measure nothing")
        return enabled

    @field_validator("tiers")
    @classmethod
    def _drop_disabled_tiers(cls, value: dict[str, TierConfig]) -> dict[str, TierConfig]:
        return _enabled_only(value)

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, value: str | None, info: ValidationInfo) -> str | None:
        tiers = info.data.get("tiers")  # absent when the tiers themselves were refused
        if value is not None and tiers is not None:
            _refuse_unknown("tier", (value,), tiers)
        return value
