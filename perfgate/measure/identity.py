"""What identifies a scenario's requests: the options they carry, their hashes and the run's fingerprint.

Two runs compare only when these match (``decide.fingerprint``), so they are
built in one place, from the config, before anything is measured.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shlex
from collections.abc import Mapping

from perfgate.config import ScenarioConfig
from perfgate.contracts.results import Fingerprint, HostInfo, RuntimeInfo, ScenarioFingerprint, ScenarioOptions
from perfgate.measure.host import os_major


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scenario_options(scenario: ScenarioConfig, keep_alive: str, *, sends_num_ctx: bool = True) -> ScenarioOptions:
    """The options a scenario's requests carry; ``num_ctx`` only where the client can send it."""
    return ScenarioOptions(
        num_predict=scenario.num_predict,
        num_ctx=scenario.num_ctx if sends_num_ctx else None,
        temperature=scenario.temperature,
        seed=scenario.seed,
        keep_alive=keep_alive,
        cold_prompt=scenario.cold_prompt,
        cold_start=scenario.kind == "cold",
    )


def options_hash(options: ScenarioOptions) -> str:
    # A field left at its old meaning stays out of the hash, so baselines made before it existed still match.
    left_out = {name for name in ("cold_prompt", "cold_start") if not getattr(options, name)}
    data = options.model_dump(mode="json", exclude=left_out)
    return sha256_text(json.dumps(data, sort_keys=True))


def request_prompt(prompt: str, options: ScenarioOptions) -> str:
    """The prompt as sent: with a fresh nonce at its start when the scenario measures it cold.

    At the start, because runtimes reuse the longest cached *prefix* (llama.cpp's
    slot cache, Ollama's runner): a nonce anywhere later would leave all before it cached.
    """
    return f"[{secrets.token_hex(6)}] {prompt}" if options.cold_prompt else prompt


def app_commands(scenarios: Mapping[str, ScenarioConfig]) -> dict[str, str]:
    """Each app scenario's command, shell-quoted as written (before ``{proxy_url}`` is filled in)."""
    return {name: shlex.join(sc.command) for name, sc in scenarios.items() if sc.command is not None}


def build_fingerprint(
    *,
    tier: str,
    host: HostInfo,
    runtime: RuntimeInfo,
    scenarios: dict[str, ScenarioConfig],
    keep_alive: str,
    commands: Mapping[str, str] | None = None,
    sends_num_ctx: bool = True,
) -> Fingerprint:
    """The run's fingerprint; ``commands`` maps an app scenario to its benchmark command (shell-quoted)."""
    commands = commands or {}
    return Fingerprint(
        tier=tier,
        chip=host.chip,
        memory_gb=host.memory_gb,
        os_major=os_major(host),
        runtime_kind=runtime.kind,
        runtime_version=runtime.version,
        model=runtime.model,
        model_digest=runtime.model_digest,
        quantization=runtime.quantization,
        runtime_settings=runtime.settings,
        scenarios={
            name: ScenarioFingerprint(
                prompt_sha256=sha256_text(sc.prompt or ""),
                options_sha256=options_hash(scenario_options(sc, keep_alive, sends_num_ctx=sends_num_ctx)),
                command=commands.get(name),
            )
            for name, sc in scenarios.items()
        },
    )
