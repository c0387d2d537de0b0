"""What ``perfgate doctor`` looks at, gathered once: the runtime's answers, its process, host commands, CPU load.

Every host command runs by its absolute path: a runner started by launchd has
a minimal PATH, and a command found by name there may be none or another one.
Each fact that cannot be read is None, and its check fails (``checks``).
"""

from __future__ import annotations

import getpass
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from perfgate.config import PerfgateConfig
from perfgate.doctor.checks import OwnerProbe, ProcessLoad, RuntimeProbe
from perfgate.errors import ConfigError, CouldNotMeasure, MemoryUnavailable, ModelMissing
from perfgate.measure import macos
from perfgate.measure.host import linux_power_source, probe_host, resolve_tier, run_command
from perfgate.measure.locate import locate_runtime
from perfgate.measure.macos import MDUTIL, PMSET, SOFTWAREUPDATE, CommandRunner
from perfgate.measure.memory_helper import HelperFailed, HelperStarter, helper_spec
from perfgate.runtimes.ollama import OllamaClient
from perfgate.runtimes.openai import OpenAIClient

DEFAULTS = "/usr/bin/defaults"
# Every command perfgate runs on a Mac (``perfgate.measure.macos``), and the doctor's own.
HOST_COMMANDS = (*macos.HOST_COMMANDS, MDUTIL, SOFTWAREUPDATE, DEFAULTS)
CPU_SAMPLE_S = 1.0


@dataclass(frozen=True)
class Facts:
    """Everything the checks read."""

    platform: str
    me: str
    runtime: RuntimeProbe
    owner: OwnerProbe | None
    pmset_batt: str | None = None
    pmset_g: str | None = None
    pmset_therm: str | None = None
    mdutil: str | None = None
    schedule: str | None = None
    automatic_download: str | None = None
    linux_power: str | None = None
    others: tuple[ProcessLoad, ...] = ()
    tier: str | None = None
    tier_problem: str | None = None
    tier_labels: tuple[str, ...] = ()
    commands: dict[str, bool] = field(default_factory=dict)


def probe_runtime(config: PerfgateConfig, http: httpx.Client) -> RuntimeProbe:
    """Ask the runtime what a run's preflight asks: is it there, has it the model, which digest."""
    rt = config.runtime
    base = RuntimeProbe(kind=rt.kind, base_url=rt.base_url, model=rt.model, reachable=None)
    if rt.kind == "sim":
        return base
    if rt.kind == "llamacpp":
        if importlib.util.find_spec("xllamacpp") is None:
            return RuntimeProbe(
                kind=rt.kind, base_url=rt.base_url, model=rt.model, reachable=False,
                error="the llama.cpp extra is not installed: pip install 'perfgate[llamacpp]'",
            )  # fmt: skip
        return base
    timeout = rt.preflight_timeout_s
    client = (
        OllamaClient(http, base_url=rt.base_url, model=rt.model, preflight_timeout_s=timeout)
        if rt.kind == "ollama"
        else OpenAIClient(http, base_url=rt.base_url, model=rt.model, preflight_timeout_s=timeout)
    )
    try:
        info = client.preflight()
    except ModelMissing:
        return RuntimeProbe(kind=rt.kind, base_url=rt.base_url, model=rt.model, reachable=True, model_found=False)
    except CouldNotMeasure as exc:
        return RuntimeProbe(kind=rt.kind, base_url=rt.base_url, model=rt.model, reachable=False, error=exc.message)
    return RuntimeProbe(
        kind=rt.kind, base_url=rt.base_url, model=rt.model, reachable=True, version=info.version,
        model_found=True, digest=info.model_digest,
    )  # fmt: skip


def probe_owner(config: PerfgateConfig, *, start_helper: HelperStarter | None = None) -> OwnerProbe:
    """The runtime's process (by its port, or as configured), its user, and whether its memory reads.

    With ``runtime.memory_helper`` configured, memory the runner's user cannot read is read once through
    the helper (``start_helper``: the configured one by default), as a run would.
    """
    rt = config.runtime
    helper = start_helper or helper_spec(rt)
    try:
        pid = locate_runtime(rt.base_url, pid=rt.pid, process_name=rt.process_name, memory_helper=helper is not None)
    except MemoryUnavailable as exc:
        return OwnerProbe(pid=None, user=None, memory_readable=False, error=exc.message)
    try:
        process = psutil.Process(pid)
        user: str | None = process.username()
    except psutil.Error:
        user = None
    try:
        psutil.Process(pid).memory_info()
    except psutil.AccessDenied:
        if helper is not None:
            return _through_helper(helper, pid, user)
        return OwnerProbe(pid, user, memory_readable=False, error="access denied reading its memory")
    except psutil.NoSuchProcess:
        return OwnerProbe(pid, user, memory_readable=False, error="it ended while being looked at")
    return OwnerProbe(pid, user, memory_readable=True)


def _through_helper(helper: HelperStarter, pid: int, user: str | None) -> OwnerProbe:
    """One reading through the memory helper: readable, or the helper's own one-line reason."""
    try:
        source = helper.start(pid, 0.1)
        try:
            source.readings()
        finally:
            source.close()
    except HelperFailed as exc:
        return OwnerProbe(pid, user, memory_readable=False, error=str(exc))
    return OwnerProbe(pid, user, memory_readable=True, via_helper=True)


def other_processes(
    exclude: Collection[int], *, interval_s: float = CPU_SAMPLE_S, sleep: Callable[[float], None] = time.sleep
) -> tuple[ProcessLoad, ...]:
    """Every readable process's CPU use over ``interval_s`` (percent of one core), but ``exclude``'s."""
    watched: list[psutil.Process] = []
    for process in psutil.process_iter(["name"]):
        if process.pid in exclude:
            continue
        try:
            process.cpu_percent(None)  # the first call starts the interval
        except psutil.Error:
            continue
        watched.append(process)
    sleep(interval_s)
    loads = []
    for process in watched:
        try:
            loads.append(ProcessLoad(process.pid, str(process.info.get("name") or "?"), process.cpu_percent(None)))
        except psutil.Error:
            continue
    return tuple(loads)


def _own_family(runtime_pid: int | None) -> set[int]:
    """perfgate itself and its parents (the shell, the runner), and the runtime's tree: not "other" load."""
    pids = {os.getpid()}
    try:
        me = psutil.Process()
        pids.update(p.pid for p in me.parents())
        pids.update(p.pid for p in me.children(recursive=True))
        if runtime_pid is not None:
            runtime = psutil.Process(runtime_pid)
            pids.add(runtime_pid)
            pids.update(p.pid for p in runtime.children(recursive=True))
    except psutil.Error:
        pass
    return pids


def gather(
    config: PerfgateConfig,
    *,
    workspace: Path,
    skip: Collection[str] = (),
    run: CommandRunner = run_command,
    platform_name: str | None = None,
    http: httpx.Client | None = None,
) -> Facts:
    """Look at everything once; the checks named in ``skip`` are not looked at."""
    platform = platform_name or sys.platform
    with http or httpx.Client() as client:
        runtime = probe_runtime(config, client)
    owner = probe_owner(config) if runtime.reachable and "same-user" not in skip else None
    darwin = platform == "darwin"

    def command(*argv: str) -> str | None:
        return run(argv) if darwin else None

    host = probe_host(run=run, platform_name=platform) if "tier" not in skip else None
    tier = problem = None
    if host is not None:
        try:
            tier = resolve_tier(host, config.tiers, config.tier)
        except ConfigError as exc:
            problem = exc.message
    return Facts(
        platform="darwin" if darwin else platform,
        me=getpass.getuser(),
        runtime=runtime,
        owner=owner,
        pmset_batt=command(PMSET, "-g", "batt"),
        pmset_g=command(PMSET, "-g"),
        pmset_therm=command(PMSET, "-g", "therm"),
        mdutil=command(MDUTIL, "-s", str(workspace)),
        schedule=command(SOFTWAREUPDATE, "--schedule"),
        automatic_download=command(
            DEFAULTS, "read", "/Library/Preferences/com.apple.SoftwareUpdate", "AutomaticDownload"
        ),
        linux_power=None if darwin else linux_power_source(Path("/sys/class/power_supply")),
        others=() if "heavy-processes" in skip else other_processes(_own_family(owner.pid if owner else None)),
        tier=tier,
        tier_problem=problem,
        tier_labels=config.tiers[tier].runner_labels if tier is not None else (),
        commands={path: os.access(path, os.X_OK) for path in HOST_COMMANDS} if darwin else {},
    )


def runner_labels(given: str | None, environ: Sequence[tuple[str, str]] | None = None) -> tuple[str, ...] | None:
    """``--runner-labels`` or ``RUNNER_LABELS`` (comma-separated), None when neither says."""
    env = dict(environ) if environ is not None else dict(os.environ)
    text = given if given is not None else env.get("RUNNER_LABELS")
    if text is None:
        return None
    return tuple(label.strip() for label in text.split(",") if label.strip())
