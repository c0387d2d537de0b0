"""``perfgate run``: probe the host, open the runtime, measure, look again if asked, write, compare if asked.

Stages, in order: validate → probe host and tier → open the runtime → measure
(``measure``) → sequential looks (``--until-conclusive``) → write the results
file (before anything that can fail) → print the run report → ``--compare``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfgate.commands import Console, Outcome
from perfgate.commands.compare import compare_and_print
from perfgate.commands.progress import ProgressLine
from perfgate.config import PerfgateConfig
from perfgate.contracts.results import LoadedResults, RunResult
from perfgate.errors import BaselineMissing, UsageError
from perfgate.files import write_model
from perfgate.gitutil import git_sha
from perfgate.measure.harness import PeakWindow, Progress, extend_benchmark, run_benchmark
from perfgate.measure.host import probe_host, resolve_tier
from perfgate.measure.memory import MemorySampler, locate_runtime
from perfgate.provenance import command_line, utc_now_iso
from perfgate.runtimes.base import RuntimeClient
from perfgate.runtimes.registry import open_runtime


@dataclass(frozen=True)
class RunOptions:
    """What this one run was asked for on the command line (flags that are not settings)."""

    scenarios: tuple[str, ...] = ()  # --scenario (repeatable); empty = every configured scenario
    until_conclusive: bool = False  # --until-conclusive: add runs where a verdict is in doubt


def _validate_scenarios(config: PerfgateConfig, options: RunOptions) -> None:
    unknown = [s for s in options.scenarios if s not in config.scenarios]
    if unknown:
        raise UsageError(f"unknown scenario {unknown[0]!r} (configured: {', '.join(config.scenarios)})")


def measure(
    config: PerfgateConfig,
    argv: Sequence[str],
    progress: Callable[[Progress], None] | None,
    options: RunOptions = RunOptions(),
) -> RunResult:
    """Probe the host, open the runtime, run the benchmark (no printing)."""
    _validate_scenarios(config, options)
    host = probe_host()
    tier = (
        "sim" if config.runtime.kind == "sim" and config.tier is None else resolve_tier(host, config.tiers, config.tier)
    )
    created_at = utc_now_iso()
    samplers: list[MemorySampler] = []

    def sampler_factory(pid: int | None) -> MemorySampler:
        sampler = MemorySampler(pid, interval_s=config.memory_interval_ms / 1000)
        sampler.start()
        samplers.append(sampler)
        return sampler

    if options.until_conclusive:
        _check_baseline(config, tier)

    with open_runtime(config) as runtime:
        rt = config.runtime

        def locate() -> int:
            pid = runtime.managed_pid if runtime.managed_pid is not None else rt.pid
            return locate_runtime(runtime.client.base_url, pid=pid, process_name=rt.process_name)

        try:
            result = run_benchmark(
                client=runtime.client,
                config=config,
                tier=tier,
                host=host,
                command=command_line(argv),
                created_at=created_at,
                git_sha=git_sha(),
                simulated=runtime.simulated,
                locate_runtime_pid=locate,
                sampler_factory=sampler_factory,
                progress=progress,
                scenario_names=options.scenarios,
            )
            if options.until_conclusive and samplers:
                result = _until_conclusive(result, config, runtime.client, samplers[-1], progress)
            return result
        finally:
            for sampler in samplers:
                sampler.stop()


def _until_conclusive(
    result: RunResult,
    config: PerfgateConfig,
    client: RuntimeClient,
    sampler: PeakWindow,
    progress: Callable[[Progress], None] | None,
) -> RunResult:
    from perfgate.measure.look_worker import LookWorker  # noqa: PLC0415 -- only for sequential runs
    from perfgate.measure.sequential import run_until_conclusive  # noqa: PLC0415

    def more(current: RunResult, scenarios: set[str], runs: int) -> RunResult:
        return extend_benchmark(
            current, client=client, config=config, scenarios=scenarios, runs=runs, sampler=sampler, progress=progress
        )

    # The looks are decided in a child process: the gate's numpy/scipy never
    # enter this process, whose RSS is the harness memory being measured.
    with LookWorker() as look:
        return run_until_conclusive(result, config=config, more=more, look=look)


def _check_baseline(config: PerfgateConfig, tier: str) -> None:
    """A corrupt baseline fails before anything is measured (exit 2); a missing one is a stop reason later."""
    from perfgate.contracts.baseline import find_baseline  # noqa: PLC0415

    try:
        find_baseline(Path(config.baselines_dir), tier)
    except BaselineMissing:
        return


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    from perfgate.render.text import run_report  # noqa: PLC0415 -- keep `perfgate --help` fast

    if args.for_baseline and args.runs is None:
        config = config.model_copy(update={"runs": config.gate.baseline_runs})
    options = RunOptions(scenarios=tuple(args.scenario or ()), until_conclusive=bool(args.until_conclusive))
    result = measure(config, args.argv, ProgressLine(console.err), options)
    out = Path(args.out) if args.out else Path(config.results_dir) / f"results-{result.tier}.json"
    write_model(out, result)  # written first: a failure below never loses the measurements
    console.say(run_report(result))
    console.say(f"\nresults written to {out}")
    for failure in result.failures:
        console.fail(failure.message)
    look_error = result.sequential.error if result.sequential else None
    if look_error is not None:
        console.fail(f"sequential run stopped: {look_error}")
    failed = bool(result.failures) or look_error is not None
    if not args.compare:
        return Outcome(could_not_measure=failed)
    console.say()
    report = compare_and_print(args, config, [LoadedResults(out, result)], console)
    return Outcome(report=report, could_not_measure=failed)
