"""``perfgate doctor``: check that this machine is fit to measure, and say how to fix what is not.

Gathers the facts once (``perfgate.doctor.probes``), runs every check over them
(``perfgate.doctor.checks``, pure), prints one line per check (or ``--format
json``), and exits 0 only when none failed, else 3: perfgate could not measure
trustworthy numbers here.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig
from perfgate.doctor import checks
from perfgate.doctor.checks import CheckResult
from perfgate.doctor.probes import Facts, gather, runner_labels

CHECK_NAMES = ("runtime", "model", "same-user", "power", "low-power-mode", "thermal", "spotlight", "updates",
               "heavy-processes", "tier", "host-commands")  # fmt: skip
DEFAULT_MAX_OTHER_CPU = 20.0  # percent of one core another process may use while measuring


def run_checks(
    facts: Facts,
    *,
    expected_digest: str | None,
    workspace: str,
    labels: tuple[str, ...] | None,
    max_other_cpu: float,
    skip: frozenset[str] = frozenset(),
) -> list[CheckResult]:
    """Every check over the facts, in the order a maintainer fixes them; ``skip`` ones say so."""
    results = [
        checks.check_runtime(facts.runtime),
        checks.check_model(facts.runtime, expected_digest),
        checks.check_same_user(facts.owner, facts.me),
        checks.check_power(facts.platform, facts.pmset_batt, facts.linux_power),
        checks.check_low_power(facts.platform, facts.pmset_g),
        checks.check_thermal(facts.platform, facts.pmset_therm),
        checks.check_spotlight(facts.platform, workspace, facts.mdutil),
        checks.check_updates(facts.platform, facts.schedule, facts.automatic_download),
        checks.check_heavy_processes(facts.others, max_other_cpu),
        checks.check_tier(facts.tier, facts.tier_problem, facts.tier_labels, labels),
        checks.check_host_commands(facts.platform, facts.commands),
    ]
    return [CheckResult(r.name, r.title, "skip", "skipped (--skip)") if r.name in skip else r for r in results]


def render_text(results: list[CheckResult]) -> str:
    width = max(len(r.title) for r in results)
    lines = []
    for r in results:
        mark = {"ok": "ok  ", "fail": "FAIL", "skip": "skip"}[r.status]
        lines.append(f"{mark}  {r.title:<{width}}  {r.detail}")
        if r.status == "fail" and r.fix:
            lines.append(f"      {'':<{width}}  fix: {r.fix}")
    return "\n".join(lines)


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    skip = frozenset(args.skip or ())
    workspace = Path(args.workspace or os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    facts = gather(config, workspace=workspace, skip=skip)
    results = run_checks(
        facts,
        expected_digest=args.model_digest,
        workspace=str(workspace),
        labels=runner_labels(args.runner_labels),
        max_other_cpu=args.max_other_cpu,
        skip=skip,
    )
    failed = [r for r in results if r.status == "fail"]
    if args.format == "json":
        document = {
            "fit": not failed,
            "checks": [{"name": r.name, "title": r.title, "status": r.status, "detail": r.detail, "fix": r.fix}
                       for r in results],
        }  # fmt: skip
        console.say(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        console.say(render_text(results))
    if failed:
        names = ", ".join(r.name for r in failed)
        console.fail(f"not fit to measure: {len(failed)} check(s) failed ({names})")
    return Outcome(could_not_measure=bool(failed))
