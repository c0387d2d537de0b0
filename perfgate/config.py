"""perfgate's one configuration model and its layered loading.

Precedence, lowest first: built-in defaults < ``[tool.perfgate]`` in the
working directory's ``pyproject.toml`` (or ``--config FILE``) < ``PERFGATE_*``
environment variables < command-line flags. ``docs/configuration.md`` is
generated from this module.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from perfgate.errors import ConfigError

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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScenarioConfig(_Model):
    """One named benchmark scenario."""

    prompt: str = Field(description="User message sent to the model.")
    num_predict: int = Field(default=64, ge=1, description="Maximum output tokens (Ollama num_predict / max_tokens).")
    num_ctx: int = Field(default=4096, ge=256, description="Context window; always sent so the runtime never guesses.")
    temperature: float = Field(default=0.0, ge=0.0, description="Sampling temperature (0 = greedy).")
    seed: int = Field(default=42, description="Fixed sampling seed.")


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
    simulated: bool = Field(
        default=False, description="Only a simulated tier may take simulated results as its baseline."
    )
    auto_detect: bool = Field(default=True, description="Whether host detection may pick this tier.")
    must_match: tuple[str, ...] | None = Field(
        default=None, description="Overrides gate.must_match for this tier (None = use gate.must_match)."
    )
    informational_metrics: tuple[str, ...] = Field(
        default=(), description="Metrics shown but never failing on this tier."
    )


class RuntimeConfig(_Model):
    """Which runtime to talk to and how."""

    kind: Literal["ollama", "openai", "sim", "llamacpp"] = Field(
        default="ollama",
        description=(
            "Wire protocol / runtime kind. 'llamacpp' starts llama.cpp's own server (the optional xllamacpp "
            "extra) on a generated or given GGUF for the run."
        ),
    )
    base_url: str = Field(default="http://127.0.0.1:11434", description="Runtime base URL.")
    model: str = Field(default="qwen2.5:7b-instruct-q4_K_M", description="Model name as the runtime knows it.")
    ollama_api: Literal["chat", "generate"] = Field(default="chat", description="Ollama endpoint used.")
    keep_alive: str = Field(default="10m", description="Ollama keep_alive sent with every request.")
    process_name: str | None = Field(
        default=None, description="Fallback: find the runtime process by this name (e.g. 'ollama')."
    )
    pid: int | None = Field(default=None, description="Runtime PID to sample (overrides discovery).")
    preflight_timeout_s: float = Field(default=3.0, gt=0, description="Timeout of the liveness check.")
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Connect timeout of measured requests.")
    read_timeout_s: float = Field(default=120.0, gt=0, description="Max gap between stream reads before 'timeout'.")
    model_size: Literal["tiny", "small", "medium"] = Field(
        default="tiny",
        description=(
            "llamacpp: which generated random-weight model to serve (tiny ~1 MB for functional checks; small "
            "~28 MB and medium ~206 MB run measurably slower). Ignored when runtime.gguf is set."
        ),
    )
    gguf: str | None = Field(default=None, description="llamacpp: serve this GGUF file instead of a generated model.")
    model_cache_dir: str | None = Field(
        default=None,
        description=(
            "llamacpp: where generated models are written once and reused "
            "(default: $XDG_CACHE_HOME/perfgate/models, else ~/.cache/perfgate/models)."
        ),
    )


class SimConfig(_Model):
    """Profile of the built-in simulated runtime (``--runtime sim``)."""

    ttft_ms: float = Field(default=40.0, ge=0, description="Time to first token.")
    tok_s: float = Field(default=60.0, gt=0, description="Decode rate in tokens per second.")
    prefill_tok_s: float = Field(default=2000.0, gt=0, description="Reported prefill rate.")
    jitter_cv: float = Field(default=0.03, ge=0, description="Coefficient of variation of per-request timing noise.")
    load_ms: float = Field(default=800.0, ge=0, description="Model load time of the first request.")
    ballast_mb: int = Field(default=64, ge=0, description="Memory held by the simulated runner child process.")


class MetricPolicy(_Model):
    """How one metric is judged."""

    threshold_worse: float = Field(gt=0, description="Relative change for the worse that matters (0.10 = 10 %).")
    threshold_better: float = Field(gt=0, lt=1, description="Relative change for the better that counts as improved.")
    informational: bool = Field(default=False, description="Shown, never failing, outside the Holm family.")


def _policy(threshold: float, *, informational: bool = False) -> MetricPolicy:
    return MetricPolicy(threshold_worse=threshold, threshold_better=threshold, informational=informational)


FINGERPRINT_FIELDS = (
    "chip",
    "memory_gb",
    "os_major",
    "runtime_kind",
    "runtime_version",
    "model",
    "model_digest",
    "quantization",
    "prompt",
    "scenario_options",
)


class GateConfig(_Model):
    """The decision rule's settings."""

    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="False-alarm budget per gate (Holm over all tests).")
    fail_on_inconclusive: bool = Field(default=False, description="Exit 4 when a gating verdict is inconclusive.")
    cv_warning: float = Field(default=0.10, gt=0, description="Warn when a sample set's CV exceeds this.")
    min_baseline_samples: int = Field(default=10, ge=2, description="Fewest samples per scenario a baseline may hold.")
    baseline_runs: int = Field(default=15, ge=2, description="Measured runs per scenario for `nox -s baseline`.")
    max_baseline_age_days: float = Field(default=60, gt=0, description="Older baselines get a staleness warning.")
    must_match: tuple[str, ...] = Field(
        default=(
            "chip",
            "memory_gb",
            "runtime_kind",
            "runtime_version",
            "model",
            "model_digest",
            "prompt",
            "scenario_options",
        ),
        description=f"Fingerprint fields that must match to compare; any of {', '.join(FINGERPRINT_FIELDS)}.",
    )
    metrics: dict[str, MetricPolicy] = Field(
        default_factory=lambda: {
            "ttft_ms": _policy(0.10),
            "e2e_ms": _policy(0.10),
            "decode_tok_s": _policy(0.05),
            "prefill_tok_s": _policy(0.10),
            "peak_runtime_rss_mb": _policy(0.05),
            "peak_runtime_footprint_mb": _policy(0.05),
            "client_decode_tok_s": _policy(0.05, informational=True),
            "itl_ms_p50": _policy(0.10, informational=True),
            "peak_harness_rss_mb": _policy(0.05, informational=True),
            "peak_combined_rss_mb": _policy(0.05, informational=True),
        },
        description="Metrics compared, with thresholds; a metric not listed is not compared.",
    )


class SequentialConfig(_Model):
    """``--until-conclusive``: more runs only where a verdict is in doubt."""

    max_looks: int = Field(default=5, ge=1, le=20, description="Looks at most, the first after `runs` runs.")
    batch_runs: int = Field(default=3, ge=1, description="Runs added to an unsettled scenario per look.")
    rho: float = Field(default=2.0, gt=0, description="Alpha-spending exponent: look k spends alpha*(k/K)**rho.")
    max_runs: int | None = Field(default=None, ge=1, description="Cap on measured runs per scenario.")
    max_minutes: float | None = Field(default=None, gt=0, description="Wall-clock budget for the extra looks.")


class TriageConfig(_Model):
    """Triage entries: who owns what, how severe, and when to file."""

    label: str = Field(default="perfgate", description="GitHub label on every triage issue.")
    file_on_pr: Literal["never", "could_not_measure", "all"] = Field(
        default="could_not_measure",
        description=(
            "What a pull request's gate files as issues. Regressions seen only on a PR are reported in its "
            "comment; the default branch files everything."
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
        },
        description="Owner per entry kind, as in the seed's Defect Triage table.",
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
        },
        description="Severity per could-not-measure kind (regressions: P1 above p1_regression, else P2).",
    )


class PerfgateConfig(_Model):
    """All of perfgate's settings."""

    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig, description="Runtime to benchmark.")
    scenarios: dict[str, ScenarioConfig] = Field(
        default_factory=lambda: {
            "short-explain": ScenarioConfig(prompt=SEED_PROMPT, num_predict=64),
            "prefill": ScenarioConfig(prompt=PREFILL_PROMPT, num_predict=16),
        },
        description="Named scenarios.",
    )
    selected_scenarios: tuple[str, ...] = Field(default=(), description="Scenarios to run; empty means all.")
    warmup: int = Field(default=1, ge=0, description="Discarded warm-up requests per scenario.")
    runs: int = Field(default=5, ge=1, description="Measured requests per scenario.")
    memory_interval_ms: float = Field(default=50.0, gt=0, description="Memory sampling interval.")
    cold_load_ms: float = Field(default=500.0, ge=0, description="A sample whose load_ms exceeds this is cold.")
    tier: str | None = Field(default=None, description="Force a tier instead of detecting it.")
    tiers: dict[str, TierConfig] = Field(
        default_factory=lambda: {
            "base": TierConfig(
                description="Apple M1/M2, 16 GB",
                match=TierMatch(chip_regex=r"Apple M[12]\b(?! (Pro|Max|Ultra))", max_memory_gb=16, os="darwin"),
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
                # The simulator's timings come from its own clock, so any host compares;
                # its memory is the Python interpreter's, which differs between hosts.
                must_match=("runtime_kind", "runtime_version", "model", "model_digest", "prompt", "scenario_options"),
                informational_metrics=(
                    "peak_runtime_rss_mb",
                    "peak_runtime_footprint_mb",
                    "peak_harness_rss_mb",
                    "peak_combined_rss_mb",
                ),
            ),
        },
        description="Hardware tiers.",
    )
    sim: SimConfig = Field(default_factory=SimConfig, description="Simulated runtime profile.")
    gate: GateConfig = Field(default_factory=GateConfig, description="Decision rule.")
    triage: TriageConfig = Field(default_factory=TriageConfig, description="Triage entries.")
    sequential: SequentialConfig = Field(default_factory=SequentialConfig, description="Sequential runs.")
    until_conclusive: bool = Field(default=False, description="Add runs until verdicts settle (needs a baseline).")
    results_dir: str = Field(default="perf-results", description="Where `nox -s perf` writes results files.")
    baselines_dir: str = Field(default="baselines", description="Committed per-tier baselines.")


def _nested_set(target: dict[str, Any], dotted: list[str], value: object) -> None:
    for key in dotted[:-1]:
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            raise ConfigError(f"cannot set {'.'.join(dotted)}: {key} is not a table")
    target[dotted[-1]] = value


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``PERFGATE_RUNS=7``, ``PERFGATE_RUNTIME__BASE_URL=...``: ``__`` nests.

    Values are parsed as JSON when they parse (numbers, booleans, lists), else
    taken as strings.
    """
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("PERFGATE_") or name == "PERFGATE_CONFIG":
            continue
        path = [part.lower() for part in name.removeprefix("PERFGATE_").split("__")]
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        _nested_set(out, path, value)
    return out


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``[tool.perfgate]`` table of a pyproject.toml, or a whole perfgate TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("perfgate", {})
        return dict(table) if isinstance(table, dict) else {}
    return data


def _describe_validation(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: invalid config at {where}: {first['msg']}{more}"


def load_config(
    *,
    config_file: Path | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PerfgateConfig:
    """Build the config from all layers; raise ConfigError naming the bad field."""
    environ = os.environ if environ is None else environ
    layers: dict[str, Any] = {}
    source = "defaults"
    file = config_file or (Path(environ["PERFGATE_CONFIG"]) if environ.get("PERFGATE_CONFIG") else None)
    if file is None:
        candidate = (cwd or Path.cwd()) / "pyproject.toml"
        file = candidate if candidate.is_file() else None
    elif not file.is_file():
        raise ConfigError(f"{file}: config file not found")
    if file is not None:
        layers = _deep_merge(layers, read_config_file(file))
        source = str(file)
    env = env_overrides(environ)
    if env:
        layers = _deep_merge(layers, env)
        source += " + PERFGATE_* env"
    if overrides:
        layers = _deep_merge(layers, overrides)
        source += " + flags"
    try:
        return PerfgateConfig.model_validate(layers)
    except ValidationError as exc:
        raise ConfigError(_describe_validation(exc, source)) from exc
