"""``perfgate confirm``: app scenarios re-measured at the base commit and the current one, interleaved, and decided.

Stages, in order: which scenarios (``--scenario``, or the app scenarios a gate
report finds regressed or suspected) → the tier and the base commit (``--base``,
else the commit the tier's baseline was measured on) → the confirmation file
checked and locked (exit 2 before anything is measured) → the base commit
checked out in a temporary ``git worktree`` → one runtime, one measuring proxy:
warm-ups of both sides, then pairs A B, B A, … (``measure.abtest``) → the
worktree removed, however that ended → paired verdicts (``decide.ab``,
``decide.paired``) → the confirmation file written → the table printed.

Exit codes: 1 when a gating metric is confirmed worse past its threshold, 0
when none is, 3 when it could not measure (runtime down, base commit missing,
the app failing), 2 on bad usage, 128 + N on a signal (what was measured is
written first). ``perfgate run --compare --ab-confirm`` runs the same after its
gate, when ``gate.confirm.when`` allows (``after_gate``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfgate import __version__, interrupts
from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.baseline import find_baseline
from perfgate.contracts.confirmation import Checkout, Confirmation, ScenarioConfirmation
from perfgate.contracts.gate import GATE_SCHEMA_VERSION, GateReport
from perfgate.contracts.results import HostInfo, metric_values
from perfgate.decide.ab import Flagged, flagged, paired_verdicts, status
from perfgate.errors import CouldNotMeasure, ExitCode, PerfgateError, UsageError
from perfgate.files import dumps_model, read_model, write_text_atomic
from perfgate.gitutil import (
    checkout_root,
    detached_worktree,
    git_sha,
    has_local_changes,
    looks_like_sha,
    resolve_commit,
)
from perfgate.measure.abtest import ABSession, PairProgress, measure_ab
from perfgate.measure.host import probe_host, resolve_tier
from perfgate.metrics import unit_of
from perfgate.outputs import OutputLock, check_writable, write_fallback
from perfgate.provenance import command_line, utc_now_iso
from perfgate.publish.actions import load_event, run_context
from perfgate.render.cells import fmt_number
from perfgate.render.confirmation import confirmation_text

CONFIRMATION_NAME = "confirmation-{tier}.json"


@dataclass(frozen=True)
class Plan:
    """What is settled before anything is measured."""

    tier: str
    host: HostInfo
    scenarios: dict[str, ScenarioConfig]
    found: Flagged  # what the gate report flagged (empty without one)
    base: Checkout
    current: Checkout
    here: Path  # the working directory: the current side (B) runs here
    root: Path  # the current checkout's top directory
    prefix: str  # the working directory inside it, the same in the base checkout
    out: Path


# ---------------------------------------------------------------- what to re-measure, and against which commit


def app_scenarios(config: PerfgateConfig) -> dict[str, ScenarioConfig]:
    return {name: sc for name, sc in config.scenarios.items() if sc.command is not None}


def _named(config: PerfgateConfig, names: Sequence[str]) -> dict[str, ScenarioConfig]:
    apps = app_scenarios(config)
    for name in names:
        if name not in config.scenarios:
            raise UsageError(f"unknown scenario {name!r} (configured: {', '.join(config.scenarios)})")
        if name not in apps:
            raise UsageError(
                f"scenario {name!r} is not an app scenario: the A/B re-measure runs the app's own `command` "
                "in the base and the current checkout"
            )
    return {name: apps[name] for name in names}


def _report_tier(report: GateReport, apps: Mapping[str, ScenarioConfig]) -> str | None:
    """The one tier whose app scenarios the report flags (or the report's only tier)."""
    tiers = sorted({tier.tier for tier in report.tiers if flagged(report, tier.tier, apps).scenarios})
    if len(tiers) > 1:
        raise UsageError(f"the gate report flags app scenarios on tiers {', '.join(tiers)}: name one with --tier")
    if tiers:
        return tiers[0]
    return report.tiers[0].tier if len(report.tiers) == 1 else None


def _tier(config: PerfgateConfig, host: HostInfo, wanted: str | None) -> str:
    if wanted is None and config.tier is None and config.runtime.kind == "sim":
        return "sim"  # as `perfgate run` picks it
    return resolve_tier(host, config.tiers, wanted or config.tier)


def base_commit(config: PerfgateConfig, tier: str, ref: str | None, cwd: Path) -> Checkout:
    """``--base REF``, else the commit the tier's baseline was measured on; CouldNotMeasure when the clone lacks it."""
    if ref is not None:
        sha = resolve_commit(ref, cwd)
        if sha is None:
            raise CouldNotMeasure(f"--base {ref}: no such commit in this clone")
        return Checkout(git_sha=sha, source=f"--base {ref}")
    path, baseline = find_baseline(Path(config.baselines_dir), tier)
    recorded = baseline.provenance.git_sha
    if not recorded or not looks_like_sha(recorded):
        raise CouldNotMeasure(f"{path} records no commit it was measured on (provenance.git_sha): pass --base REF")
    sha = resolve_commit(recorded, cwd)
    if sha is None:
        raise CouldNotMeasure(
            f"{path} was measured on commit {recorded[:12]}, which this clone does not have "
            "(a shallow clone? fetch the history, e.g. actions/checkout with fetch-depth: 0)"
        )
    return Checkout(git_sha=sha, source=f"{path} provenance")


def plan(
    config: PerfgateConfig,
    *,
    names: Sequence[str],
    report: GateReport | None,
    base_ref: str | None,
    out: Path | None,
    cwd: Path,
) -> Plan | None:
    """Everything checked before measuring; None when a gate report flags no app scenario (nothing to do)."""
    if not names and report is None:
        raise UsageError("name what to re-measure: --scenario NAME (an app scenario) or --gate-report FILE")
    apps = app_scenarios(config)
    wanted = config.tier
    if report is not None and wanted is None:
        wanted = _report_tier(report, apps)
    host = probe_host()
    tier = _tier(config, host, wanted)
    found = flagged(report, tier, apps) if report is not None else Flagged({}, ())
    scenarios = _named(config, names) if names else {name: apps[name] for name in found.scenarios}
    if not scenarios:
        return None
    root, prefix = checkout_root(cwd)
    base = base_commit(config, tier, base_ref, cwd)
    current = Checkout(git_sha=git_sha(cwd), source="working directory", dirty=has_local_changes(cwd))
    out = out or Path(config.results_dir) / CONFIRMATION_NAME.format(tier=tier)
    return Plan(tier, host, scenarios, found, base, current, cwd, root, prefix, out)


# ---------------------------------------------------------------- measuring, deciding, writing


class PairLines:
    """One line per warm-up round and per pair on stderr: which order, and one metric of each side."""

    def __init__(self, console: Console, shown: Mapping[str, str]) -> None:
        self.console, self.shown = console, shown

    def __call__(self, event: PairProgress) -> None:
        if event.pair is None:
            self.console.err.write(f"{event.scenario}: warm-up {event.index}/{event.total} of A and B done\n")
            return
        metric = self.shown.get(event.scenario, "app_wall_ms")
        a, b = metric_values([event.pair.a], metric), metric_values([event.pair.b], metric)
        unit = unit_of(metric)
        values = f"A {_num(a)} {unit}, B {_num(b)} {unit}" if a or b else "measured"
        order = " ".join(event.pair.order)
        self.console.err.write(f"{event.scenario}: pair {event.index}/{event.total} ({order}): {metric} {values}\n")
        self.console.err.flush()


def _num(values: list[float]) -> str:
    return fmt_number(values[0]) if values else "—"


def build(plan_: Plan, config: PerfgateConfig, session: ABSession, argv: Sequence[str]) -> Confirmation:
    tier_config = config.tiers.get(plan_.tier)
    informational = tier_config.informational_metrics if tier_config is not None else ()
    scenarios = tuple(
        ScenarioConfirmation(
            scenario=one.name,
            command=shlex.join(plan_.scenarios[one.name].command or ()),
            pairs_planned=config.gate.confirm.pairs,
            warmups=one.warmups,
            pairs=one.pairs,
            flagged=plan_.found.scenarios.get(one.name, ()),
            verdicts=(
                paired_verdicts(one.pairs, config.gate, tier_informational=informational, host_os=sys.platform)
                if one.pairs
                else ()
            ),
        )
        for one in session.scenarios
    )
    outcome, code = status(scenarios, session.failures)
    return Confirmation(
        perfgate_version=__version__,
        created_at=utc_now_iso(),
        command=command_line(argv),
        tier=plan_.tier,
        host=plan_.host,
        runtime=session.runtime,
        base=plan_.base,
        current=plan_.current,
        alpha=config.gate.alpha,
        interval_alpha=config.gate.alpha,
        status=outcome,
        exit_code=code,
        scenarios=scenarios,
        not_remeasured=plan_.found.not_remeasured,
        failures=session.failures,
    )


def _save(out: Path, confirmation: Confirmation) -> str | None:
    """Write the file; when that fails, a fallback file: None, else what went wrong."""
    text = dumps_model(confirmation)
    try:
        write_text_atomic(out, text)
    except UsageError as exc:
        try:
            fallback = write_fallback(text, f"perfgate-confirmation-{confirmation.tier}")
        except OSError:
            return f"{exc.message}; the confirmation could not be saved"
        return f"{exc.message}; it was saved to {fallback} instead"
    return None


def confirm(plan_: Plan, config: PerfgateConfig, argv: Sequence[str], console: Console) -> Outcome:
    """Measure the pairs in a temporary checkout of the base commit, decide, write, print."""
    what = f"confirmation file {plan_.out}"
    check_writable(plan_.out, what)
    shown = {name: metrics[0] for name, metrics in plan_.found.scenarios.items() if metrics}
    pairs, warmup = config.gate.confirm.pairs, config.gate.confirm.warmup
    with OutputLock(plan_.out, what):
        sha = plan_.base.git_sha or ""
        console.err.write(f"checking out the base commit {sha[:12]} in a temporary git worktree\n")
        with detached_worktree(sha, plan_.root) as base_root:
            base_dir = base_root / plan_.prefix
            if not base_dir.is_dir():
                raise CouldNotMeasure(f"the base commit {sha[:12]} has no directory {plan_.prefix or '.'}")
            session = measure_ab(
                config,
                plan_.scenarios,
                checkouts={"A": base_dir, "B": plan_.here},
                pairs=pairs,
                warmup=warmup,
                progress=PairLines(console, shown),
            )
        confirmation = build(plan_, config, session, argv)
        write_error = _save(plan_.out, confirmation)
    console.say(confirmation_text(confirmation))
    if write_error is None:
        console.say(f"\nconfirmation written to {plan_.out}")
    for failure in confirmation.failures:
        console.fail(failure.message)
    if write_error is not None:
        console.fail(write_error)
    signum = interrupts.received() or (int(signal.SIGINT) if session.interrupted else None)
    if signum is not None:
        return Outcome(interrupted=signum)
    interrupts.resume()
    return Outcome(
        regression=confirmation.exit_code == ExitCode.REGRESSION,
        could_not_measure=confirmation.exit_code == ExitCode.COULD_NOT_MEASURE or write_error is not None,
    )


def _read_report(path: Path) -> GateReport:
    return read_model(path, GateReport, what="gate report", current_version=GATE_SCHEMA_VERSION)


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    report = _read_report(Path(args.gate_report)) if args.gate_report else None
    found = plan(
        config,
        names=tuple(args.scenario or ()),
        report=report,
        base_ref=args.base,
        out=Path(args.out) if args.out else None,
        cwd=Path.cwd(),
    )
    if found is None:
        console.say("nothing to confirm: the gate report finds no app scenario regressed or suspected")
        return Outcome()
    return confirm(found, config, args.argv, console)


# ---------------------------------------------------------------- after `perfgate run --compare`


def wanted_here(config: PerfgateConfig, environ: Mapping[str, str]) -> str | None:
    """Why ``gate.confirm.when`` skips the re-measure here, or None when it runs."""
    when = config.gate.confirm.when
    if when == "never":
        return "gate.confirm.when = never"
    if when == "default-branch" and not run_context(environ, load_event(None, environ)).is_default_branch:
        return "gate.confirm.when = default-branch, and this is not the default branch"
    return None


def after_gate(args: argparse.Namespace, config: PerfgateConfig, report: GateReport, console: Console) -> int | None:
    """``perfgate run --compare --ab-confirm``: re-measure what the gate flags; the run's exit code stays the gate's.

    What it found is the confirmation file and the printed table; a failure to
    re-measure is one line, never a change of verdict. Returns the signal that
    interrupted it (what it measured is written first), else None.
    """
    if not any(flagged(report, t.tier, app_scenarios(config)).scenarios for t in report.tiers):
        return None  # nothing for it to look at: no word, no time spent
    skip = wanted_here(config, os.environ)
    if skip is not None:
        console.say(f"\nA/B re-measure skipped: {skip}")
        return None
    try:
        found = plan(config, names=(), report=report, base_ref=None, out=None, cwd=Path.cwd())
        if found is None:
            return None
        console.say()
        return confirm(found, config, args.argv, console).interrupted
    except PerfgateError as exc:
        console.fail(f"A/B re-measure not made: {exc}")
        return None
