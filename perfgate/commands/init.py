"""``perfgate init``: put the gate into an app's repository, asking nothing it can detect.

Stages: look at the repository (a Swift package, a Python project) → ask the runtime at
the configured URL what it serves (a short timeout; none answering is fine, and said) →
probe the host for its tier → render the files (``init_files``) → write each one that
does not exist yet (``--force`` overwrites; ``--dry-run`` prints them and writes nothing).
"""

from __future__ import annotations

import argparse
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import httpx

from perfgate.commands import Console, Outcome
from perfgate.commands.init_files import (
    AppShape,
    InitPlan,
    RuntimeFound,
    baselines_readme,
    perf_workflow,
    perfgate_toml,
)
from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import first_baseline_command
from perfgate.errors import CouldNotMeasure, UsageError
from perfgate.files import write_text_atomic
from perfgate.measure.host import probe_host, resolve_tier
from perfgate.runtimes.ollama import OllamaClient
from perfgate.runtimes.openai import OpenAIClient

DETECT_TIMEOUT_S = 1.5  # a runtime on loopback answers in milliseconds; none there must not stall init
DETECTABLE = ("ollama", "openai")


def app_shape(root: Path) -> AppShape:
    """A Swift package (``Package.swift``), a Python project (``pyproject.toml``), or neither."""
    package = root / "Package.swift"
    if package.is_file():
        found = re.search(r'name:\s*"([^"]+)"', package.read_text(encoding="utf-8", errors="replace"))
        name = found.group(1) if found else None
        return AppShape("swift", name, ("swift", "run", "-c", "release", f"{name or 'App'}PerfHarness"))
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except tomllib.TOMLDecodeError:
            project = {}
        name = project.get("name") if isinstance(project, dict) else None
        return AppShape("python", name if isinstance(name, str) else None, ("python3", "perf_harness.py"))
    return AppShape("unknown", None, ("./perf-harness",))


def detect_runtime(config: PerfgateConfig, http: httpx.Client) -> RuntimeFound:
    """Ask the runtime at the configured base URL for its version and models; never raises for one not there."""
    rt = config.runtime
    kind = rt.kind if rt.kind in DETECTABLE else "ollama"
    base_url = rt.base_url
    try:
        if kind == "ollama":
            ollama = OllamaClient(http, base_url=base_url, model=rt.model, preflight_timeout_s=DETECT_TIMEOUT_S)
            version = ollama.version()
            models = tuple(ollama.served_models())
            what = f"Ollama {version or '(version unknown)'}"
        else:
            openai = OpenAIClient(http, base_url=base_url, model=rt.model, preflight_timeout_s=DETECT_TIMEOUT_S)
            version = None
            models = tuple(openai.served_models())
            what = "an OpenAI-compatible server"
    except CouldNotMeasure as exc:
        note = f"no {kind} runtime answered at {base_url} ({exc}); start it, or set runtime.base_url in perfgate.toml"
        return RuntimeFound(kind, base_url, answered=False, version=None, models=(), note=note)
    count = f"{len(models)} model{'s' if len(models) != 1 else ''}"
    note = f"{what} answered at {base_url} with {count}"
    return RuntimeFound(kind, base_url, answered=True, version=version, models=models, note=note)


def pick_model(config: PerfgateConfig, runtime: RuntimeFound) -> str:
    """The configured model when the runtime has it (or nothing answered); else the first one it serves."""
    wanted = config.runtime.model
    if not runtime.models or wanted in runtime.models or f"{wanted}:latest" in runtime.models:
        return wanted
    return runtime.models[0]


def build_plan(root: Path, config: PerfgateConfig, http: httpx.Client) -> tuple[InitPlan, str]:
    """What the files say, and one line about this host's tier."""
    runtime = detect_runtime(config, http)
    host = probe_host()
    try:
        tier: str | None = resolve_tier(host, config.tiers, config.tier)
        tier_line = f"{host.chip or host.os}, {host.memory_gb or '?'} GiB: tier {tier}"
    except UsageError as exc:
        tier, tier_line = None, str(exc)
    self_hosted = tuple((name, t.runner_labels) for name, t in config.tiers.items() if t.runner_labels)
    plan = InitPlan(app_shape(root), runtime, pick_model(config, runtime), tier, self_hosted)
    return plan, tier_line


def _config_in_pyproject(root: Path) -> bool:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError:
        return False
    return bool(data.get("tool", {}).get("perfgate"))


@dataclass(frozen=True)
class Planned:
    path: str  # relative to the repository
    text: str


def files_for(root: Path, plan: InitPlan) -> tuple[list[Planned], list[str]]:
    """The files to write, and notes on any left out."""
    files: list[Planned] = []
    notes: list[str] = []
    if _config_in_pyproject(root):
        notes.append("perfgate.toml: not written, pyproject.toml already has [tool.perfgate] (one config per repo)")
    else:
        files.append(Planned("perfgate.toml", perfgate_toml(plan)))
    if plan.self_hosted:
        files.append(Planned(".github/workflows/perf.yml", perf_workflow(plan)))
    else:
        notes.append(".github/workflows/perf.yml: not written, no tier has runner_labels")
    files.append(Planned("baselines/README.md", baselines_readme(plan)))
    return files, notes


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"--dir {root}: not a directory")
    with httpx.Client(verify=not config.runtime.base_url.startswith("http://")) as http:
        plan, tier_line = build_plan(root, config, http)
    models = plan.runtime.models
    shown = f": {', '.join(models[:4])}{' …' if len(models) > 4 else ''}" if models else ""
    console.say(f"perfgate init in {root.resolve()} ({plan.app.described()})")
    console.say(f"  runtime  {plan.runtime.note}{shown}")
    console.say(f"  model    {plan.model}")
    console.say(f"  host     {tier_line}")
    files, notes = files_for(root, plan)
    for note in notes:
        console.say(f"  skipped  {note}")
    for planned in files:
        target = root / planned.path
        if args.dry_run:
            what = "would keep" if target.exists() and not args.force else "would write"
            console.say(f"\n--- {what} {planned.path} ---\n{planned.text}", end="")
            continue
        if target.exists() and not args.force:
            console.say(f"  kept     {planned.path} (it exists; --force overwrites it)")
            continue
        write_text_atomic(target, planned.text)
        console.say(f"  wrote    {planned.path}")
    if args.dry_run:
        console.say("\n(dry run: nothing written)")
        return Outcome()
    tier = plan.tier or "local"
    console.say("\nnext:")
    console.say("  perfgate run                 measure this machine's tier with perfgate.toml's settings")
    console.say(f"  {first_baseline_command(tier)}")
    console.say("                               then commit baselines/ (see baselines/README.md)")
    return Outcome()
