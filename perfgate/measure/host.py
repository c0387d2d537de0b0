"""Host facts (chip, cores, RAM, OS, power, thermal) and the tier they belong to.

Every fact comes from a command or file the OS provides without root; one that
cannot be read is ``None`` (shown as "unknown"), never guessed. macOS commands
run by absolute path (``measure.macos``: launchd's PATH is minimal) through an
injectable ``CommandRunner``, so the macOS probe is testable anywhere.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from perfgate.config import TierConfig, TierMatch
from perfgate.contracts.results import HostInfo
from perfgate.errors import ConfigError
from perfgate.measure.macos import (
    PMSET,
    SCUTIL,
    SW_VERS,
    SYSCTL,
    SYSTEM_PROFILER,
    CommandRunner,
    parse_power_mode,
    parse_power_source,
    parse_thermal_state,
    read_rosetta,
    read_thermal_state,
)

COMMAND_TIMEOUT_S = 10.0  # system_profiler can take a few seconds on a busy machine


def run_command(argv: Sequence[str]) -> str | None:
    """The default CommandRunner: subprocess with a short timeout; any failure is None."""
    try:
        done = subprocess.run(list(argv), capture_output=True, check=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    # UTF-8 explicitly: a machine label with a typographic apostrophe must survive any locale.
    return done.stdout.decode("utf-8", errors="replace")


def _text(run: CommandRunner, *argv: str) -> str | None:
    out = run(argv)
    if out is None:
        return None
    out = out.strip()
    return out or None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


# --------------------------------------------------------------------------- macOS


def _gpu_cores(system_profiler_json: str | None) -> int | None:
    if system_profiler_json is None:
        return None
    try:
        data = json.loads(system_profiler_json)
    except json.JSONDecodeError:
        return None
    displays = data.get("SPDisplaysDataType") if isinstance(data, dict) else None
    if not isinstance(displays, list):
        return None
    for gpu in displays:
        cores = _int(str(gpu.get("sppci_cores"))) if isinstance(gpu, dict) and "sppci_cores" in gpu else None
        if cores is not None:
            return cores
    return None


def _probe_darwin(run: CommandRunner) -> HostInfo:
    def sysctl(name: str) -> str | None:
        return _text(run, SYSCTL, "-n", name)

    os_version = _text(run, SW_VERS, "-productVersion") or platform.mac_ver()[0] or "unknown"
    return HostInfo(
        label=_text(run, SCUTIL, "--get", "ComputerName") or socket.gethostname(),
        os="darwin",
        os_version=os_version,
        machine_model=sysctl("hw.model"),
        chip=sysctl("machdep.cpu.brand_string"),
        cpu_count=_int(sysctl("hw.ncpu")),
        # perflevel0 is the fastest cluster (P cores), perflevel1 the E cores;
        # both sysctls are absent on Intel Macs, which then report None.
        performance_cores=_int(sysctl("hw.perflevel0.physicalcpu")),
        efficiency_cores=_int(sysctl("hw.perflevel1.physicalcpu")),
        gpu_cores=_gpu_cores(_text(run, SYSTEM_PROFILER, "SPDisplaysDataType", "-json")),
        memory_bytes=_int(sysctl("hw.memsize")),
        power_source=parse_power_source(_text(run, PMSET, "-g", "batt")),
        power_mode=parse_power_mode(_text(run, PMSET, "-g")),
        rosetta_translated=read_rosetta(run),
        thermal_state=parse_thermal_state(_text(run, PMSET, "-g", "therm")),
    )


# --------------------------------------------------------------------------- Linux


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def _linux_cpu_model(cpuinfo: Path) -> str | None:
    text = _read(cpuinfo) or ""
    match = re.search(r"^model name\s*:\s*(.+)$", text, flags=re.MULTILINE)
    if match:
        return match.group(1).strip()
    return platform.processor() or None


def linux_power_source(power_supply_dir: Path) -> str | None:
    """ "AC Power" / "Battery Power" from ``/sys/class/power_supply``; None without supplies (desktops, VMs)."""
    if not power_supply_dir.is_dir():
        return None
    mains_online: bool | None = None
    battery_status: list[str] = []
    for supply in sorted(power_supply_dir.iterdir()):
        kind = _read(supply / "type")
        if kind in {"Mains", "USB"}:
            online = _read(supply / "online")
            if online is not None:
                mains_online = bool(mains_online) or online == "1"
        elif kind == "Battery":
            status = _read(supply / "status")
            if status is not None:
                battery_status.append(status)
    if mains_online:
        return "AC Power"
    if "Discharging" in battery_status:
        return "Battery Power"
    if mains_online is False and battery_status:
        return "Battery Power"
    return None


def _probe_linux(sys_root: Path) -> HostInfo:
    return HostInfo(
        label=socket.gethostname(),
        os="linux",
        os_version=platform.release() or "unknown",
        machine_model=_read(sys_root / "sys/devices/virtual/dmi/id/product_name"),
        chip=_linux_cpu_model(sys_root / "proc/cpuinfo"),
        cpu_count=os.cpu_count(),
        memory_bytes=psutil.virtual_memory().total,
        power_source=linux_power_source(sys_root / "sys/class/power_supply"),
    )


# --------------------------------------------------------------------------- public


def probe_host(*, run: CommandRunner | None = None, platform_name: str | None = None) -> HostInfo:
    """Facts about this machine; ``run`` and ``platform_name`` are injectable for tests."""
    name = platform_name or sys.platform
    if name == "darwin":
        return _probe_darwin(run or run_command)
    if name.startswith("linux"):
        return _probe_linux(Path("/"))
    return HostInfo(
        label=socket.gethostname(),
        os=name,
        os_version=platform.release() or "unknown",
        chip=platform.processor() or None,
        cpu_count=os.cpu_count(),
        memory_bytes=psutil.virtual_memory().total,
    )


def thermal_now(*, run: CommandRunner | None = None, platform_name: str | None = None) -> str | None:
    """The host's thermal state now (macOS ``pmset -g therm``); None where the OS does not say."""
    if (platform_name or sys.platform) != "darwin":
        return None
    return read_thermal_state(run or run_command)


def os_major(host: HostInfo) -> str | None:
    """ "darwin 14", "linux 6": the part of the OS version that changes comparability."""
    match = re.match(r"(\d+)(?:\.(\d+))?", host.os_version)
    if match is None:
        return None
    major = match.group(1)
    # Before macOS 11 the "major" release was the second number (10.15 Catalina).
    if host.os == "darwin" and major == "10" and match.group(2) is not None:
        major = f"10.{match.group(2)}"
    return f"{host.os} {major}"


def _matches(host: HostInfo, rule: TierMatch, tier: str) -> bool:
    if rule.os is not None and host.os.lower() != rule.os.lower():
        return False
    if rule.chip_regex is not None:
        try:
            pattern = re.compile(rule.chip_regex)
        except re.error as exc:
            raise ConfigError(f"tiers.{tier}.match.chip_regex is not a valid regex: {exc}") from exc
        if host.chip is None or pattern.search(host.chip) is None:
            return False
    if rule.min_memory_gb is not None or rule.max_memory_gb is not None:
        if host.memory_bytes is None:
            return False
        # Unrounded GiB, so a 16 GiB machine (exactly 2**34 bytes) meets max_memory_gb=16.
        memory_gib = host.memory_bytes / 2**30
        if rule.min_memory_gb is not None and memory_gib < rule.min_memory_gb:
            return False
        if rule.max_memory_gb is not None and memory_gib > rule.max_memory_gb:
            return False
    return True


def resolve_tier(host: HostInfo, tiers: Mapping[str, TierConfig], forced: str | None) -> str:
    """``forced`` if it names a tier, else the first auto-detectable tier whose rules all hold."""
    known = ", ".join(tiers) or "none configured"
    if forced is not None:
        if forced not in tiers:
            raise ConfigError(f"unknown tier {forced!r} (known: {known})")
        return forced
    for name, tier in tiers.items():
        if tier.auto_detect and _matches(host, tier.match, name):
            return name
    ram = f"{host.memory_gb:g} GiB" if host.memory_gb is not None else "unknown RAM"
    described = f"{host.chip or 'unknown chip'}, {ram}, {os_major(host) or host.os}"
    raise ConfigError(f"host ({described}) matches no tier (known: {known}); pass --tier")
