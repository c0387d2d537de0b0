"""``perfgate host``: this machine's facts and the tier it belongs to."""

from __future__ import annotations

import argparse
import json

from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig
from perfgate.contracts.results import HostInfo
from perfgate.errors import UsageError
from perfgate.measure.host import os_major, probe_host, resolve_tier
from perfgate.stdio import json_for_log


def _cores(host: HostInfo) -> str | None:
    if host.performance_cores is not None and host.efficiency_cores is not None:
        return f"{host.cpu_count} ({host.performance_cores} P + {host.efficiency_cores} E)"
    return None if host.cpu_count is None else str(host.cpu_count)


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    host = probe_host()
    try:
        tier: str | None = resolve_tier(host, config.tiers, config.tier)
        tier_note = ""
    except UsageError as exc:
        tier, tier_note = None, str(exc)
    if args.json:
        labels = list(config.tiers[tier].runner_labels) if tier else []
        document = {"host": host.model_dump(mode="json"), "tier": tier, "runner_labels": labels}
        console.say(json_for_log(json.dumps(document, indent=2, ensure_ascii=False)))
        return Outcome()
    rows = [
        ("label", host.label),
        ("os", f"{host.os} {host.os_version} ({os_major(host)})"),
        ("model", host.machine_model),
        ("chip", host.chip),
        ("cores", _cores(host)),
        ("gpu cores", host.gpu_cores),
        ("memory", f"{host.memory_gb} GiB" if host.memory_gb else None),
        ("power", host.power_source),
        ("power mode", host.power_mode),
        ("rosetta", None if host.rosetta_translated is None else ("yes" if host.rosetta_translated else "no")),
        ("thermal", host.thermal_state),
        ("tier", tier or f"none: {tier_note}"),
        # The labels a self-hosted runner of this tier registers with, so the workflow's runs-on finds it.
        ("runner", ", ".join(config.tiers[tier].runner_labels) if tier and config.tiers[tier].runner_labels else None),
    ]
    for key, value in rows:
        console.say(f"{key:<10} {value if value is not None else '—'}")
    return Outcome()
