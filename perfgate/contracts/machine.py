"""What a run was measured on and under: the host, the runtime, and the fingerprint built from them.

Part of the results-file contract (``docs/schema/``); ``contracts.results``
re-exports every name. A fact that could not be read is ``None`` (shown as
"unknown"), never guessed.
"""

from __future__ import annotations

from pydantic import Field

from perfgate.contracts.frozen import Frozen
from perfgate.files import SafeName


class HostInfo(Frozen):
    """Facts about the machine that ran the benchmark."""

    label: str = Field(description="Human machine label exactly as the OS reports it (may be non-ASCII).")
    os: str = Field(description="darwin, linux, ...")
    os_version: str
    machine_model: str | None = None
    chip: str | None = None
    cpu_count: int | None = None
    performance_cores: int | None = None
    efficiency_cores: int | None = None
    gpu_cores: int | None = None
    memory_bytes: int | None = None
    power_source: str | None = Field(default=None, description="'AC Power' or 'Battery Power' (pmset -g batt).")
    power_mode: str | None = Field(
        default=None,
        description="macOS energy mode from `pmset -g`: 'automatic', 'low power' or 'high power'; None if unread.",
    )
    rosetta_translated: bool | None = Field(
        default=None,
        description="macOS: perfgate's Python ran under Rosetta 2 (sysctl.proc_translated); None if unread.",
    )
    thermal_state: str | None = Field(
        default=None, description="Thermal state when the host was probed; each scenario records its own too."
    )

    @property
    def memory_gb(self) -> float | None:
        return None if self.memory_bytes is None else round(self.memory_bytes / 2**30, 1)


class RuntimeInfo(Frozen):
    """What the runtime said about itself."""

    kind: str
    base_url: str
    version: str | None = None
    model: str
    model_digest: str | None = None
    quantization: str | None = None
    simulated: bool = False
    runtime_reported: dict[str, int | float | str | None] = Field(
        default_factory=dict,
        description="Sizes as the runtime estimates them (e.g. Ollama /api/ps size, size_vram); not measured.",
    )
    pid: int | None = Field(default=None, description="The runtime process measured (the top of its tree).")
    started_at: str | None = Field(
        default=None,
        description="When that process started (ISO 8601 UTC): long before the run means it served requests before.",
    )
    settings: dict[str, str] | None = Field(
        default=None,
        description=(
            "The server's performance settings (Ollama: OLLAMA_FLASH_ATTENTION, OLLAMA_KV_CACHE_TYPE, ... read from "
            "its process environment): the value, 'unset', or 'unknown' where the environment cannot be read "
            "(another user's process). None when not recorded (other runtimes, older files)."
        ),
    )


class ScenarioFingerprint(Frozen):
    """What one scenario sent: treatment fields, compared and shown as changes unless ``gate.must_match`` names them."""

    prompt_sha256: str
    options_sha256: str
    command: str | None = Field(
        default=None, description="The app's benchmark command (shell-quoted) for an app scenario; None otherwise."
    )
    app_model: str | None = Field(
        default=None,
        description="App scenarios: the model the app's first LLM request asked for (may differ from `model`).",
    )


class Fingerprint(Frozen):
    """What a run was measured under.

    Environment fields (tier, chip, memory_gb, os_major) must match the baseline's
    for the numbers to be comparable; treatment fields (runtime, model, digest,
    quantization, the runtime's settings, each scenario's prompt, options and
    command) are what a change under test may change. ``gate.must_match`` says which fields must match.
    """

    tier: SafeName
    chip: str | None
    memory_gb: float | None
    os_major: str | None
    runtime_kind: str
    runtime_version: str | None
    model: str
    model_digest: str | None
    quantization: str | None
    runtime_settings: dict[str, str] | None = Field(
        default=None,
        description="RuntimeInfo.settings (treatment: compared, shown under 'What changed'); None before recorded.",
    )
    scenarios: dict[SafeName, ScenarioFingerprint]
