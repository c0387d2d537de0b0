"""The checks of ``perfgate doctor``: pure functions from gathered facts to ok / fail / skip, each with a fix.

No I/O here: ``perfgate.doctor.probes`` runs the commands and asks the runtime,
and these read what came back. A fact that could not be read fails its check
(an unknown state is never "fit to measure"); a check that does not apply on
this OS is skipped with the reason. The command outputs parsed here are in the
formats Apple's man pages document: pmset(1) (``pmset -g``, ``-g batt``,
``-g therm``), mdutil(1) (``mdutil -s``) and softwareupdate(8) (``--schedule``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "fail", "skip"]
MACOS_ONLY = "macOS only"
SETUP = "see docs/ci-setup.md, Removing runner noise"


@dataclass(frozen=True)
class CheckResult:
    """One check's answer: a stable name (for ``--skip`` and JSON), one line of explanation, and the fix."""

    name: str
    title: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class RuntimeProbe:
    """What asking the runtime told: reachable or why not, its version, the model and its digest."""

    kind: str
    base_url: str
    model: str
    reachable: bool | None  # None: perfgate starts this runtime itself (sim, llamacpp)
    error: str | None = None
    version: str | None = None
    model_found: bool | None = None
    digest: str | None = None


@dataclass(frozen=True)
class OwnerProbe:
    """The runtime's process, whose user it runs as, and whether its memory could be read."""

    pid: int | None
    user: str | None
    memory_readable: bool
    error: str | None = None
    via_helper: bool = False  # read through ``runtime.memory_helper`` (the runtime under its own user)


@dataclass(frozen=True)
class ProcessLoad:
    """Another process's CPU use over the sampling interval, in percent of one core."""

    pid: int
    name: str
    cpu_percent: float


def _ok(name: str, title: str, detail: str) -> CheckResult:
    return CheckResult(name, title, "ok", detail)


def _fail(name: str, title: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, title, "fail", detail, fix)


def _skip(name: str, title: str, detail: str) -> CheckResult:
    return CheckResult(name, title, "skip", detail)


# ---------------------------------------------------------------- the runtime


def check_runtime(probe: RuntimeProbe) -> CheckResult:
    name, title = "runtime", "runtime reachable"
    if probe.reachable is None:
        return _skip(name, title, f"perfgate starts the {probe.kind} runtime itself for each run")
    if not probe.reachable:
        start = "start it (`ollama serve`, or Ollama.app)" if probe.kind == "ollama" else "start it"
        return _fail(name, title, probe.error or f"nothing answers at {probe.base_url}", f"{start}, or pass --base-url")
    return _ok(name, title, f"{probe.kind} {probe.version or '(version not said)'} answers at {probe.base_url}")


def _digest_matches(expected: str, actual: str) -> bool:
    """``sha256:``-prefixed or bare, whole or a prefix of at least 12 hex digits (``ollama list`` shows 12)."""
    want = expected.lower().removeprefix("sha256:")
    have = actual.lower().removeprefix("sha256:")
    return len(want) >= 12 and have.startswith(want)


def _model_problem(probe: RuntimeProbe, expected_digest: str | None) -> str | None:
    if not probe.model_found:
        return f"{probe.model!r} is not among the runtime's models"
    if expected_digest is None:
        return None
    if probe.digest is None:
        return f"{probe.model}: the runtime says no digest to check"
    if not _digest_matches(expected_digest, probe.digest):
        return f"{probe.model} has digest {probe.digest[:12]}, not {expected_digest[:19]}"
    return None


def check_model(probe: RuntimeProbe, expected_digest: str | None) -> CheckResult:
    name, title = "model", "model present"
    if probe.reachable is None:
        return _skip(name, title, "perfgate serves its own model on this runtime")
    if not probe.reachable or probe.model_found is None:
        return _skip(name, title, "the runtime did not answer")
    problem = _model_problem(probe, expected_digest)
    if problem is not None:
        pull = f"`ollama pull {probe.model}`" if probe.kind == "ollama" else "load it in the runtime"
        return _fail(name, title, problem, f"{pull}, or pass --model" if not probe.model_found else f"{pull} again")
    if expected_digest is None:
        return _ok(name, title, f"{probe.model} ({probe.digest or 'no digest said'}; expected digest not given)")
    return _ok(name, title, f"{probe.model} with the expected digest {(probe.digest or '')[:12]}")


def check_same_user(owner: OwnerProbe | None, me: str) -> CheckResult:
    name, title = "same-user", "runtime memory readable"
    if owner is None:
        return _skip(name, title, "no runtime process to look at (not reachable, or perfgate starts it)")
    fix = (
        "configure the memory helper (docs/ci-setup.md step 2b), or run the runtime as the runner's user "
        "(e.g. `ollama serve` from the runner's launchd job, not Ollama.app "
        "or `brew services` of another user), or the runner as the runtime's user"
    )
    if owner.pid is None:
        return _fail(name, title, owner.error or "the runtime's process was not found", f"pass --runtime-pid; {fix}")
    if owner.via_helper and owner.memory_readable:
        return _ok(name, title, f"pid {owner.pid} runs as {owner.user!r}; its memory is read through the memory helper")
    if owner.user is not None and owner.user != me:
        return _fail(name, title, f"pid {owner.pid} runs as {owner.user!r}, perfgate as {me!r}", fix)
    if not owner.memory_readable:
        return _fail(name, title, f"pid {owner.pid}: {owner.error or 'access denied'}", fix)
    return _ok(name, title, f"pid {owner.pid} runs as {me!r}; its memory is readable")


# ---------------------------------------------------------------- power and heat (pmset(1))


def power_source(pmset_batt: str | None) -> str | None:
    """``Now drawing from 'AC Power'`` (first line of ``pmset -g batt``) -> "AC Power"."""
    match = re.search(r"drawing from '([^']+)'", pmset_batt or "")
    return match.group(1) if match else None


def check_power(platform: str, pmset_batt: str | None, linux_source: str | None) -> CheckResult:
    name, title = "power", "power adapter connected"
    fix = "connect the power adapter: on battery, macOS slows the CPU and GPU"
    if platform == "darwin":
        source = power_source(pmset_batt)
        if source is None:
            return _fail(name, title, "`pmset -g batt` did not say the power source", fix)
        return _ok(name, title, source) if source == "AC Power" else _fail(name, title, f"on {source}", fix)
    if linux_source is None:
        return _skip(name, title, "no power supply reported (a desktop or a VM)")
    return _ok(name, title, linux_source) if linux_source == "AC Power" else _fail(name, title, linux_source, fix)


def _setting(pmset_g: str, key: str) -> int | None:
    match = re.search(rf"^\s*{key}\s+(\d+)", pmset_g, flags=re.MULTILINE)
    return int(match.group(1)) if match else None


def check_low_power(platform: str, pmset_g: str | None) -> CheckResult:
    """``lowpowermode 1`` in ``pmset -g``; on Macs with High Power Mode, ``powermode`` 1 is low and 2 high."""
    name, title = "low-power-mode", "Low Power Mode off"
    if platform != "darwin":
        return _skip(name, title, MACOS_ONLY)
    fix = "sudo pmset -a lowpowermode 0 (System Settings > Battery > Low Power Mode: Never)"
    if pmset_g is None:
        return _fail(name, title, "`pmset -g` could not be read", fix)
    low, mode = _setting(pmset_g, "lowpowermode"), _setting(pmset_g, "powermode")
    if low == 1 or mode == 1:
        return _fail(name, title, "Low Power Mode is on: the CPU and GPU are held back", fix)
    if low is None and mode is None:
        return _ok(name, title, "this Mac has no Low Power Mode setting")
    return _ok(name, title, "High Power Mode" if mode == 2 else "off")


def thermal_state(pmset_therm: str | None) -> str | None:
    """``pmset -g therm``: "nominal", a recorded warning, or "throttled (CPU_Speed_Limit=N)"; None if unreadable."""
    if pmset_therm is None:
        return None
    warnings = [
        line.strip()
        for line in pmset_therm.splitlines()
        if "warning level" in line.lower() and "no " not in line.lower()
    ]
    speed = re.search(r"CPU_Speed_Limit\s*=\s*(\d+)", pmset_therm)
    if warnings:
        return "; ".join(warnings)
    if speed and int(speed.group(1)) < 100:
        return f"throttled (CPU_Speed_Limit={speed.group(1)})"
    if speed or "No thermal warning level has been recorded" in pmset_therm:
        return "nominal"
    return None


def check_thermal(platform: str, pmset_therm: str | None) -> CheckResult:
    name, title = "thermal", "thermal pressure nominal"
    if platform != "darwin":
        return _skip(name, title, MACOS_ONLY)
    state = thermal_state(pmset_therm)
    fix = "let the Mac cool down (nothing on top, air around it) and run the doctor again"
    if state is None:
        return _fail(name, title, "`pmset -g therm` could not be read", fix)
    return _ok(name, title, state) if state == "nominal" else _fail(name, title, state, fix)


# ---------------------------------------------------------------- Spotlight (mdutil(1)) and updates (softwareupdate(8))


def check_spotlight(platform: str, workspace: str, mdutil_s: str | None) -> CheckResult:
    """``mdutil -s PATH`` prints the volume, then ``Indexing enabled.`` or ``Indexing (and searching) disabled.``"""
    name, title = "spotlight", "Spotlight indexing off for the workspace"
    if platform != "darwin":
        return _skip(name, title, MACOS_ONLY)
    fix = f"sudo mdutil -i off <the workspace's volume> (mdutil -s {workspace} names it); {SETUP}"
    text = (mdutil_s or "").lower()
    if "indexing enabled" in text:
        return _fail(name, title, f"Spotlight indexes {workspace}: mds_stores competes for CPU and disk", fix)
    if "disabled" in text:
        return _ok(name, title, f"indexing disabled for {workspace}")
    detail = " ".join((mdutil_s or "no output").split())[:120]
    return _fail(name, title, f"`mdutil -s {workspace}` did not say: {detail}", fix)


def check_updates(platform: str, schedule: str | None, automatic_download: str | None) -> CheckResult:
    """``softwareupdate --schedule`` ("Automatic check is on/off"), and the AutomaticDownload preference.

    ``--schedule off`` stops the checks but not the background downloads, which are on unless the
    preference says 0 (its absence means macOS's default, on).
    """
    name, title = "updates", "automatic updates off"
    if platform != "darwin":
        return _skip(name, title, MACOS_ONLY)
    fix = (
        "sudo softwareupdate --schedule off && sudo defaults write /Library/Preferences/com.apple.SoftwareUpdate "
        f"AutomaticDownload -bool false; {SETUP}"
    )
    match = re.search(r"automatic check\w*(?: for updates)? is (?:turned )?(on|off)", schedule or "", re.IGNORECASE)
    if match is None:
        return _fail(name, title, "`softwareupdate --schedule` did not say whether checks are on", fix)
    if match.group(1).lower() == "on":
        return _fail(name, title, "automatic update checks are on", fix)
    if (automatic_download or "").strip() not in {"0", "false", "NO"}:
        return _fail(name, title, "checks are off, but automatic downloads are on (macOS's default)", fix)
    return _ok(name, title, "automatic checks and downloads are off")


# ---------------------------------------------------------------- load, tier, host commands


def check_heavy_processes(others: Sequence[ProcessLoad], max_cpu_percent: float) -> CheckResult:
    name, title = "heavy-processes", "no other heavy processes"
    heavy = sorted((p for p in others if p.cpu_percent >= max_cpu_percent), key=lambda p: -p.cpu_percent)
    if not heavy:
        return _ok(name, title, f"no other process used {max_cpu_percent:g} % of a core or more")
    shown = ", ".join(f"{p.name} (pid {p.pid}) {p.cpu_percent:.0f} %" for p in heavy[:3])
    more = f" and {len(heavy) - 3} more" if len(heavy) > 3 else ""
    return _fail(
        name, title, f"{shown}{more}", "stop them, or wait until they end: they take the CPU the runtime is timed on"
    )


def check_tier(
    tier: str | None, problem: str | None, wanted: Sequence[str], labels: Sequence[str] | None
) -> CheckResult:
    """The tier this host falls in, and whether the runner's labels (``RUNNER_LABELS``) include that tier's."""
    name, title = "tier", "tier detected and matching the runner's labels"
    if tier is None:
        return _fail(name, title, problem or "no tier matches this host", "add a tier that matches it, or pass --tier")
    if labels is None:
        return _ok(name, title, f"tier {tier} (runner labels not checked: set RUNNER_LABELS or pass --runner-labels)")
    missing = [label for label in wanted if label not in labels]
    if missing:
        fix = f"register the runner with the labels {', '.join(wanted)} (tiers.{tier}.runner_labels)"
        return _fail(name, title, f"tier {tier}, but the runner lacks the label(s) {', '.join(missing)}", fix)
    return _ok(name, title, f"tier {tier}; the runner has its labels {', '.join(wanted) or '(none required)'}")


def check_host_commands(platform: str, found: Mapping[str, bool]) -> CheckResult:
    name, title = "host-commands", "host commands found"
    if platform != "darwin":
        return _skip(name, title, f"{MACOS_ONLY} (Linux facts come from /proc and /sys)")
    missing = [path for path, present in found.items() if not present]
    if missing:
        return _fail(name, title, f"missing: {', '.join(missing)}", "these come with macOS: check the runner's image")
    return _ok(name, title, f"{len(found)} commands found at their absolute paths")
