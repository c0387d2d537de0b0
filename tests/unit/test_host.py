"""Host probing (macOS through a fake command runner, Linux for real) and tier resolution."""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil
import pytest

from perfgate.config import PerfgateConfig, TierConfig
from perfgate.contracts.results import HostInfo
from perfgate.errors import ConfigError
from perfgate.measure.host import CommandRunner, linux_power_source, os_major, probe_host, resolve_tier
from perfgate.measure.macos import PMSET, SCUTIL, SW_VERS, SYSCTL, SYSTEM_PROFILER

DEFAULT_TIERS = PerfgateConfig().tiers
# The Apple Silicon tiers and the simulator, without the catch-all `local` tier.
TIERS = {name: tier for name, tier in DEFAULT_TIERS.items() if name != "local"}
LABEL = "Ross\u2019s Mac mini"  # typographic apostrophe, as macOS writes it

NO_THERMAL_WARNINGS = """\
Note: No thermal warning level has been recorded
Note: No performance warning level has been recorded
Note: No CPU power status has been recorded
"""

THROTTLED = """\
Note: No thermal warning level has been recorded
Note: No performance warning level has been recorded
2025-04-06 20:50:47 -0500 CPU Power notify
\tCPU_Scheduler_Limit \t= 100
\tCPU_Available_CPUs \t= 8
\tCPU_Speed_Limit \t= 80
"""


def _displays(cores: int) -> str:
    return json.dumps(
        {"SPDisplaysDataType": [{"_name": "kHW_AppleM3ProItem", "sppci_cores": str(cores), "sppci_model": "Apple"}]}
    )


def fake_mac(
    *, chip: str, memsize: int, p: int, e: int, gpu: int, power: str, therm: str, os_version: str = "14.5"
) -> CommandRunner:
    outputs: Mapping[tuple[str, ...], str] = {
        (SYSCTL, "-n", "machdep.cpu.brand_string"): f"{chip}\n",
        (SYSCTL, "-n", "hw.model"): "Mac15,6\n",
        (SYSCTL, "-n", "hw.memsize"): f"{memsize}\n",
        (SYSCTL, "-n", "hw.ncpu"): f"{p + e}\n",
        (SYSCTL, "-n", "hw.perflevel0.physicalcpu"): f"{p}\n",
        (SYSCTL, "-n", "hw.perflevel1.physicalcpu"): f"{e}\n",
        (SW_VERS, "-productVersion"): f"{os_version}\n",
        (SYSTEM_PROFILER, "SPDisplaysDataType", "-json"): _displays(gpu),
        (PMSET, "-g", "batt"): f"Now drawing from '{power}'\n -InternalBattery-0 (id=1)\t100%; charged;\n",
        (PMSET, "-g", "therm"): therm,
        (SCUTIL, "--get", "ComputerName"): f"{LABEL}\n",
    }

    def run(argv: Sequence[str]) -> str | None:
        return outputs.get(tuple(argv))

    return run


M3_PRO_36 = fake_mac(
    chip="Apple M3 Pro", memsize=36 * 2**30, p=6, e=6, gpu=18, power="AC Power", therm=NO_THERMAL_WARNINGS
)
M1_16 = fake_mac(
    chip="Apple M1", memsize=16 * 2**30, p=4, e=4, gpu=8, power="Battery Power", therm=THROTTLED, os_version="13.6.7"
)


def test_mac_m3_pro_36gb_probe_and_tier() -> None:
    host = probe_host(run=M3_PRO_36, platform_name="darwin")
    assert host == HostInfo(
        label=LABEL,
        os="darwin",
        os_version="14.5",
        machine_model="Mac15,6",
        chip="Apple M3 Pro",
        cpu_count=12,
        performance_cores=6,
        efficiency_cores=6,
        gpu_cores=18,
        memory_bytes=38654705664,
        power_source="AC Power",
        thermal_state="nominal",
    )
    assert host.memory_gb == 36.0
    assert os_major(host) == "darwin 14"
    assert resolve_tier(host, TIERS, None) == "pro"


def test_mac_m1_16gb_probe_and_tier() -> None:
    host = probe_host(run=M1_16, platform_name="darwin")
    assert host.chip == "Apple M1"
    assert host.memory_gb == 16.0
    assert (host.performance_cores, host.efficiency_cores, host.gpu_cores) == (4, 4, 8)
    assert host.power_source == "Battery Power"
    assert host.thermal_state == "throttled (CPU_Speed_Limit=80)"
    assert os_major(host) == "darwin 13"
    assert resolve_tier(host, TIERS, None) == "base"


def test_label_keeps_non_ascii_exactly() -> None:
    host = probe_host(run=M3_PRO_36, platform_name="darwin")
    assert host.label == LABEL
    assert host.label.encode("utf-8") == b"Ross\xe2\x80\x99s Mac mini"


def test_mac_probe_with_every_command_failing_guesses_nothing() -> None:
    host = probe_host(run=lambda _argv: None, platform_name="darwin")
    assert host.label == socket.gethostname()
    assert host.os == "darwin"
    assert host.chip is None
    assert host.memory_bytes is None
    assert host.gpu_cores is None
    assert host.performance_cores is None
    assert host.power_source is None
    assert host.thermal_state is None
    with pytest.raises(ConfigError, match="unknown chip, unknown RAM"):
        resolve_tier(host, TIERS, None)


def test_m1_pro_16gb_matches_no_tier() -> None:
    runner = fake_mac(chip="Apple M1 Pro", memsize=16 * 2**30, p=8, e=2, gpu=16, power="AC Power", therm="")
    host = probe_host(run=runner, platform_name="darwin")
    assert host.thermal_state is None  # nothing readable, nothing guessed
    with pytest.raises(ConfigError, match=r"host \(Apple M1 Pro, 16 GiB, darwin 14\) matches no tier") as info:
        resolve_tier(host, TIERS, None)
    assert "known: base, pro, sim" in str(info.value)
    assert "--tier" in str(info.value)


def test_forced_tier() -> None:
    host = probe_host(run=M1_16, platform_name="darwin")
    assert resolve_tier(host, TIERS, "pro") == "pro"  # --tier overrides detection
    assert resolve_tier(host, TIERS, "sim") == "sim"  # even a tier detection never picks
    with pytest.raises(ConfigError, match=r"unknown tier 'ultra' \(known: base, pro, sim\)"):
        resolve_tier(host, TIERS, "ultra")


def test_default_local_tier_catches_any_host_no_hardware_tier_matches() -> None:
    linux = HostInfo(label="ci", os="linux", os_version="6.1", chip="AMD EPYC", memory_bytes=2**34)
    assert resolve_tier(linux, DEFAULT_TIERS, None) == "local"
    m3 = probe_host(
        run=fake_mac(chip="Apple M3 Pro", memsize=36 * 2**30, p=6, e=6, gpu=18, power="AC Power", therm=""),
        platform_name="darwin",
    )
    assert resolve_tier(m3, DEFAULT_TIERS, None) == "pro"  # a hardware tier still wins
    assert not DEFAULT_TIERS["local"].simulated


def test_sim_tier_is_never_auto_detected() -> None:
    host = HostInfo(label="x", os="linux", os_version="6.1", chip="anything", memory_bytes=2**34)
    with pytest.raises(ConfigError, match="matches no tier"):
        resolve_tier(host, TIERS, None)
    catch_all = {"any-linux": TierConfig(match={"os": "linux"}), **TIERS}
    assert resolve_tier(host, catch_all, None) == "any-linux"


def test_invalid_chip_regex_is_a_config_error() -> None:
    host = probe_host(run=M1_16, platform_name="darwin")
    with pytest.raises(ConfigError, match=r"tiers\.broken\.match\.chip_regex"):
        resolve_tier(host, {"broken": TierConfig(match={"chip_regex": "Apple M[12"})}, None)


@pytest.mark.parametrize(
    ("os_name", "version", "expected"),
    [
        ("darwin", "14.5", "darwin 14"),
        ("darwin", "10.15.7", "darwin 10.15"),
        ("linux", "6.18.44-fc-v657", "linux 6"),
        ("darwin", "unknown", None),
    ],
)
def test_os_major(os_name: str, version: str, expected: str | None) -> None:
    assert os_major(HostInfo(label="x", os=os_name, os_version=version)) == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="probes this Linux machine")
def test_linux_probe_on_this_machine() -> None:
    host = probe_host()
    assert host.os == "linux"
    assert host.os_version == platform.release()
    assert host.label == socket.gethostname()
    assert host.memory_bytes == psutil.virtual_memory().total
    assert host.memory_gb is not None
    assert host.memory_gb > 0
    assert host.cpu_count == os.cpu_count()
    assert (os_major(host) or "").startswith("linux ")
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    if "model name" in cpuinfo:
        assert host.chip
        assert host.chip in cpuinfo


def _supply(root: Path, name: str, **files: str) -> None:
    (root / name).mkdir(parents=True)
    for key, value in files.items():
        (root / name / key).write_text(f"{value}\n", encoding="utf-8")


def test_linux_power_source(tmp_path: Path) -> None:
    assert linux_power_source(tmp_path / "missing") is None
    assert linux_power_source(tmp_path) is None  # a desktop or VM with no supplies

    laptop = tmp_path / "laptop"
    _supply(laptop, "AC", type="Mains", online="1")
    _supply(laptop, "BAT0", type="Battery", status="Charging")
    assert linux_power_source(laptop) == "AC Power"

    unplugged = tmp_path / "unplugged"
    _supply(unplugged, "AC", type="Mains", online="0")
    _supply(unplugged, "BAT0", type="Battery", status="Discharging")
    assert linux_power_source(unplugged) == "Battery Power"
