"""macOS host commands and their parsers, against outputs recorded on real Macs (sources cited per sample)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from perfgate.config import PerfgateConfig
from perfgate.contracts.results import HostInfo
from perfgate.measure.host import probe_host, resolve_tier, thermal_now
from perfgate.measure.macos import (
    HOST_COMMANDS,
    PMSET,
    SYSCTL,
    missing_host_commands,
    parse_power_mode,
    parse_ps_user,
    parse_rosetta,
    show,
)

# `pmset -g` on a 16 GB Mac under macOS 12, as recorded in the pmset page of
# https://real-world-systems.com/docs/pmset.1.html (no Low Power Mode line on that machine).
PMSET_G_MACOS12 = """\
System-wide power settings:
Currently in use:
 lidwake              1
 autopoweroff         1
 standbydelayhigh     86400
 autopoweroffdelay    28800
 standbydelaylow      10800
 standby              1
 proximitywake        0
 ttyskeepawake        1
 hibernatemode        3
 gpuswitch            2
 powernap             1
 hibernatefile        /var/vm/sleepimage
 highstandbythreshold 50
 displaysleep         28
 sleep                1 (sleep prevented by sharingd)
 acwake               0
 halfdim              1
 tcpkeepalive         1
 disksleep            0
"""

# The same listing with the settings pmset(1) documents for Macs that have them (format per Apple's man
# page, macOS 14): `lowpowermode 0|1`, and `powermode 0|1|2` (automatic, low, high) where High Power Mode exists.
LOW_POWER_ON = PMSET_G_MACOS12 + " lowpowermode         1\n"
HIGH_POWER = PMSET_G_MACOS12 + " powermode            2\n lowpowermode         0\n"


@pytest.mark.parametrize(
    ("output", "mode"),
    [
        (PMSET_G_MACOS12, None),
        (PMSET_G_MACOS12 + " lowpowermode         0\n", "automatic"),
        (LOW_POWER_ON, "low power"),
        (HIGH_POWER, "high power"),
        (PMSET_G_MACOS12 + " powermode            1\n", "low power"),
        (None, None),
    ],
)
def test_power_mode_from_pmset_g(output: str | None, mode: str | None) -> None:
    assert parse_power_mode(output) == mode


def test_rosetta_from_sysctl_proc_translated() -> None:
    # Apple, "About the Rosetta translation environment": the sysctl answers 1 when translated, 0 when
    # native, and does not exist on Intel Macs (sysctl fails: unknown, not "native").
    assert parse_rosetta("1\n") is True
    assert parse_rosetta("0\n") is False
    assert parse_rosetta(None) is None
    assert parse_rosetta("") is None


def test_ps_user_column() -> None:
    # `/bin/ps -o user= -p PID` (ps(1): an empty header suppresses the header line).
    assert parse_ps_user("ollama\n") == "ollama"
    assert parse_ps_user("") is None
    assert parse_ps_user(None) is None


def test_every_host_command_is_an_absolute_path() -> None:
    assert all(path.startswith("/") for path in HOST_COMMANDS)
    assert missing_host_commands(lambda path: path != PMSET) == [PMSET]
    assert missing_host_commands(lambda _path: True) == []


def test_probe_runs_only_absolute_paths_and_an_unreadable_fact_is_unknown() -> None:
    asked: list[tuple[str, ...]] = []

    def launchd_path(argv: Sequence[str]) -> str | None:
        asked.append(tuple(argv))
        # Only sysctl answers; everything else "cannot run" as under a PATH that lacks it.
        if tuple(argv) == (SYSCTL, "-n", "hw.memsize"):
            return f"{16 * 2**30}\n"
        if tuple(argv) == (SYSCTL, "-n", "sysctl.proc_translated"):
            return "0\n"
        return None

    host = probe_host(run=launchd_path, platform_name="darwin")
    assert all(argv[0].startswith("/") for argv in asked)
    assert host.chip is None
    assert host.power_mode is None
    assert host.rosetta_translated is False
    assert host.memory_bytes == 16 * 2**30
    assert show(host.chip) == "unknown"
    assert show(host.rosetta_translated) == "no"


def test_thermal_is_read_on_macos_only() -> None:
    assert thermal_now(run=lambda _argv: "Note: No thermal warning level has been recorded\n", platform_name="darwin")
    assert thermal_now(run=lambda _argv: pytest.fail("no command on Linux"), platform_name="linux") is None


def test_an_8_gb_m1_matches_no_base_tier_a_16_gb_one_does() -> None:
    tiers = {name: t for name, t in PerfgateConfig().tiers.items() if name != "local"}

    def mac(gib: int) -> HostInfo:
        return HostInfo(label="m", os="darwin", os_version="14.5", chip="Apple M1", memory_bytes=gib * 2**30)

    assert resolve_tier(mac(16), tiers, None) == "base"
    with pytest.raises(Exception, match="matches no tier"):
        resolve_tier(mac(8), tiers, None)
    assert resolve_tier(mac(8), PerfgateConfig().tiers, None) == "local"
