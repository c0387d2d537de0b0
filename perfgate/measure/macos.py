"""macOS host commands, by absolute path, and the parsers of what they print.

A self-hosted runner runs under launchd, whose PATH is minimal
(``/usr/bin:/bin:/usr/sbin:/sbin``, sometimes less): a command found by bare
name there may not be found at all, and every fact would quietly become
unknown. So each is run by its absolute path, and ``missing_host_commands``
names any that this machine lacks (``perfgate doctor`` shows them).

Public, for ``perfgate doctor`` and ``nox -s maccheck``: the paths, the
``parse_*`` functions, ``read_thermal_state``, ``read_rosetta`` and
``missing_host_commands``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

CommandRunner = Callable[[Sequence[str]], str | None]
"""Runs argv (no shell) and returns its stdout, or None when it could not run or failed."""

SYSCTL = "/usr/sbin/sysctl"
PMSET = "/usr/bin/pmset"
SW_VERS = "/usr/bin/sw_vers"
SCUTIL = "/usr/sbin/scutil"
SYSTEM_PROFILER = "/usr/sbin/system_profiler"
PS = "/bin/ps"
MDUTIL = "/usr/bin/mdutil"
SOFTWAREUPDATE = "/usr/sbin/softwareupdate"

HOST_COMMANDS = (SYSCTL, PMSET, SW_VERS, SCUTIL, SYSTEM_PROFILER, PS)
"""Every command the host probe runs (the others are the doctor's)."""

UNKNOWN = "unknown"


def missing_host_commands(exists: Callable[[str], bool] = lambda path: Path(path).is_file()) -> list[str]:
    """The host commands this machine does not have at their absolute paths."""
    return [path for path in HOST_COMMANDS if not exists(path)]


def parse_power_source(pmset_batt: str | None) -> str | None:
    """ "AC Power" / "Battery Power" / "UPS Power" from ``pmset -g batt``'s first line."""
    if pmset_batt is None:
        return None
    match = re.search(r"drawing from '([^']+)'", pmset_batt)
    return match.group(1) if match else None


_POWER_MODES = {"0": "automatic", "1": "low power", "2": "high power"}


def parse_power_mode(pmset_g: str | None) -> str | None:
    """The energy mode from ``pmset -g``: "automatic", "low power" or "high power"; None when not listed.

    pmset(1) lists ``lowpowermode 0|1`` where Low Power Mode exists and, on Macs
    that also have High Power Mode, ``powermode 0|1|2`` (automatic, low, high).
    """
    if pmset_g is None:
        return None
    settings: dict[str, str] = {}
    for line in pmset_g.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            settings.setdefault(parts[0], parts[1])
    if settings.get("powermode") in _POWER_MODES:
        return _POWER_MODES[settings["powermode"]]
    low = settings.get("lowpowermode")
    if low in {"0", "1"}:
        return "low power" if low == "1" else "automatic"
    return None


def parse_thermal_state(pmset_therm: str | None) -> str | None:
    """Summarise ``pmset -g therm``: "nominal", "throttled (CPU_Speed_Limit=N)" or a recorded warning."""
    if pmset_therm is None:
        return None
    warnings = [
        line.strip()
        for line in pmset_therm.splitlines()
        if "warning level" in line.lower() and "no " not in line.lower()
    ]
    if warnings:
        return "; ".join(warnings)
    speed = re.search(r"CPU_Speed_Limit\s*=\s*(\d+)", pmset_therm)
    if speed and int(speed.group(1)) < 100:
        return f"throttled (CPU_Speed_Limit={speed.group(1)})"
    if speed or "No thermal warning level has been recorded" in pmset_therm:
        return "nominal"
    return None


def read_thermal_state(run: CommandRunner) -> str | None:
    """The thermal state now (``pmset -g therm``); read before each scenario's runs, not once a run."""
    return parse_thermal_state(run((PMSET, "-g", "therm")))


def parse_rosetta(proc_translated: str | None) -> bool | None:
    """``sysctl -n sysctl.proc_translated``: 1 under Rosetta 2, 0 native.

    The sysctl does not exist on Intel Macs (no Rosetta there): sysctl fails and
    the answer is None, unknown, never "native" by guess.
    """
    if proc_translated is None:
        return None
    value = proc_translated.strip()
    return {"1": True, "0": False}.get(value)


def read_rosetta(run: CommandRunner) -> bool | None:
    """Whether this Python runs translated by Rosetta 2 (an x86_64 Python on Apple Silicon)."""
    return parse_rosetta(run((SYSCTL, "-n", "sysctl.proc_translated")))


def parse_ps_user(ps_output: str | None) -> str | None:
    """The user column of ``/bin/ps -o user= -p PID`` (one line, no header); None when empty."""
    if ps_output is None:
        return None
    value = ps_output.strip()
    return value.split()[0] if value else None


def show(value: object) -> str:
    """A fact as a person reads it: ``unknown`` when it could not be read."""
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
