"""``perfgate run``: probe the host, open the runtime, measure, look again if asked, write, compare if asked.

Stages, in order: validate → probe host and tier → check and lock the files it
will write (``perfgate.outputs``; exit 2 before anything is measured) → open the
runtime (and, for an app scenario, the measuring proxy in front of it) → measure
(``measure``) → sequential looks (``--until-conclusive``) → write the results
file (before anything that can fail; a fallback file if it cannot be written)
→ print the run report → ``--compare``.

SIGINT and SIGTERM (``perfgate.interrupts``) end the measuring with an
``interrupted`` failure; from then on, and from the end of the measuring until
the results file is written, a signal is held, so what was measured is always
written. The exit code is then 128 + the signal's number.

``perfgate run ... -- CMD [ARGS...]`` measures the app's own benchmark command
as one scenario (``--scenario NAME``, default ``app``); a configured scenario
with ``command = [...]`` runs the same way.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from perfgate import interrupts
from perfgate.commands import Console, Outcome
from perfgate.commands.compare import compare_and_print
from perfgate.commands.progress import ProgressLine
from perfgate.commands.run_baseline import baseline_command
from perfgate.config import PerfgateConfig, ScenarioConfig
from perfgate.contracts.gate import GateReport
from perfgate.contracts.results import Failure, HostInfo, LoadedResults, RunResult
from perfgate.errors import BaselineMissing, Kind, UsageError
from perfgate.files import dumps_model, write_text_atomic
from perfgate.gitutil import git_sha
from perfgate.measure.app import AppRunner
from perfgate.measure.harness import Progress, extend_benchmark, run_benchmark, selected_scenarios
from perfgate.measure.host import probe_host, resolve_tier
from perfgate.measure.locate import locate_runtime
from perfgate.measure.memory import MemorySampler
from perfgate.measure.memory_helper import helper_spec
from perfgate.measure.requests import AppMeasurer, PeakWindow
from perfgate.outputs import OutputLock, check_writable, write_fallback
from perfgate.provenance import command_line, utc_now_iso
from perfgate.runtimes.base import RuntimeClient
from perfgate.runtimes.deadline import RunLimits
from perfgate.runtimes.registry import open_runtime


@dataclass(frozen=True)
class RunOptions:
    """What this one run was asked for on the command line (flags that are not settings)."""

    scenarios: tuple[str, ...] = ()  # --scenario (repeatable); empty = every configured scenario
    until_conclusive: bool = False  # --until-conclusive: add runs where a verdict is in doubt
    app_command: tuple[str, ...] = ()  # `-- CMD [ARGS...]`: the app's benchmark command, as one scenario
    app_timeout_s: float | None = None  # --app-timeout: overrides every app scenario's timeout_s


DEFAULT_APP_SCENARIO = "app"


def with_app_scenario(config: PerfgateConfig, options: RunOptions) -> tuple[PerfgateConfig, RunOptions]:
    """``-- CMD``: the run measures only that command, as the scenario ``--scenario`` names (default ``app``).

    A configured scenario of that name lends its other settings (e.g. ``timeout_s``); ``--app-timeout``
    overrides the timeout of every app scenario of the run.
    """
    scenarios = dict(config.scenarios)
    if options.app_command:
        if len(options.scenarios) > 1:
            raise UsageError("`-- CMD` runs one app command: name its scenario with one --scenario (default 'app')")
        name = options.scenarios[0] if options.scenarios else DEFAULT_APP_SCENARIO
        known = scenarios.get(name)
        settings = known.model_dump(exclude_unset=True) if known is not None else {}
        scenarios[name] = ScenarioConfig.model_validate({**settings, "command": options.app_command})
        options = RunOptions(
            scenarios=(name,),
            until_conclusive=options.until_conclusive,
            app_timeout_s=options.app_timeout_s,
        )
    if options.app_timeout_s is not None:
        scenarios = {
            name: sc.model_copy(update={"timeout_s": options.app_timeout_s}) if sc.command is not None else sc
            for name, sc in scenarios.items()
        }
    return config.model_copy(update={"scenarios": scenarios}), options


def _app_command(args: argparse.Namespace) -> tuple[str, ...]:
    """What follows ``--`` on the command line (argparse keeps the ``--`` itself in a REMAINDER)."""
    rest = list(getattr(args, "app_command", None) or ())
    if not rest:
        return ()
    if rest[0] != "--":
        raise UsageError(f"unexpected argument {rest[0]!r}: put the app's benchmark command after `--`")
    if len(rest) == 1:
        raise UsageError("`--` must be followed by the app's benchmark command")
    return tuple(rest[1:])


def _validate_scenarios(config: PerfgateConfig, options: RunOptions) -> None:
    unknown = [s for s in options.scenarios if s not in config.scenarios]
    if unknown:
        raise UsageError(f"unknown scenario {unknown[0]!r} (configured: {', '.join(config.scenarios)})")


@dataclass(frozen=True)
class Planned:
    """What is settled before the runtime is opened: the scenarios are valid, the host and its tier known."""

    host: HostInfo
    tier: str


def plan(config: PerfgateConfig, options: RunOptions) -> Planned:
    """Validate the scenarios, probe the host, pick the tier (no runtime, nothing measured)."""
    _validate_scenarios(config, options)
    host = probe_host()
    tier = (
        "sim" if config.runtime.kind == "sim" and config.tier is None else resolve_tier(host, config.tiers, config.tier)
    )
    return Planned(host, tier)


def measure(
    config: PerfgateConfig,
    argv: Sequence[str],
    progress: Callable[[Progress], None] | None,
    options: RunOptions = RunOptions(),
    *,
    planned: Planned | None = None,
    stage: Callable[[str], None] | None = None,
) -> RunResult:
    """Probe the host, open the runtime, run the benchmark (no printing).

    Returns with interrupts held (``perfgate.interrupts.hold``): the caller writes the
    results before a signal may stop it.
    """
    planned = planned or plan(config, options)
    host, tier = planned.host, planned.tier
    created_at = utc_now_iso()
    limits = RunLimits.from_config(config)  # the run's deadline counts from here
    samplers: list[MemorySampler] = []

    def sampler_factory(pid: int | None) -> MemorySampler:
        sampler = MemorySampler(
            pid, interval_s=config.memory_interval_ms / 1000, memory_helper=helper_spec(config.runtime)
        )
        sampler.start()
        samplers.append(sampler)
        return sampler

    if options.until_conclusive:
        _check_baseline(config, tier)

    say = stage or (lambda _text: None)
    if config.runtime.kind == "llamacpp":
        what = (
            f"GGUF {config.runtime.gguf}" if config.runtime.gguf else f"the generated {config.runtime.model_size} model"
        )
        say(f"starting llama.cpp's server on {what} (a generated model is written once, then cached)")
    elif config.runtime.kind == "sim":
        say("starting the simulated runtime")
    with open_runtime(config) as runtime:
        rt = config.runtime
        say(f"measuring {runtime.client.base_url}")

        def locate() -> int:
            pid = runtime.managed_pid if runtime.managed_pid is not None else rt.pid
            return locate_runtime(
                runtime.client.base_url,
                pid=pid,
                process_name=rt.process_name,
                memory_helper=rt.memory_helper is not None,
            )

        stack = ExitStack()
        app: AppMeasurer | None = None
        try:
            if any(sc.command is not None for sc in selected_scenarios(config, options.scenarios).values()):
                # The app talks to the runtime through this proxy, which times each request as perfgate's own
                # client would.
                from perfgate.measure.proxy import MeasuringProxy  # noqa: PLC0415 -- only app scenarios need it

                proxy = MeasuringProxy(
                    runtime.client.base_url, connect_timeout_s=rt.connect_timeout_s, read_timeout_s=rt.read_timeout_s
                )
                app = AppRunner(stack.enter_context(proxy), cwd=Path.cwd())
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
                app=app,
                limits=limits,
            )
            if options.until_conclusive and samplers and not _interrupted(result):
                result = _until_conclusive(result, config, runtime.client, samplers[-1], progress, app, limits, say)
            return result
        finally:
            # Measuring is over, however it ended: stopping the runtime and the app, and writing
            # the results, must not be cut short by a signal (it is held, then acted on).
            interrupts.hold()
            for sampler in samplers:
                sampler.stop()
            stack.close()


def _interrupted(result: RunResult) -> bool:
    return any(f.kind is Kind.INTERRUPTED for f in result.failures)


def _until_conclusive(  # noqa: PLR0917 -- the measuring context, passed through
    result: RunResult,
    config: PerfgateConfig,
    client: RuntimeClient,
    sampler: PeakWindow,
    progress: Callable[[Progress], None] | None,
    app: AppMeasurer | None,
    limits: RunLimits,
    say: Callable[[str], None],
) -> RunResult:
    from perfgate.measure.look_worker import LookWorker  # noqa: PLC0415 -- only for sequential runs
    from perfgate.measure.sequential import run_until_conclusive  # noqa: PLC0415

    latest = [result]  # the runs measured so far, should an interrupt come between looks

    def more(current: RunResult, scenarios: set[str], runs: int) -> RunResult:
        interrupts.resume()  # held since the last runs ended: a signal that came meanwhile stops the run here
        doubt = ", ".join(sorted(scenarios))
        say(f"sequential look: still in doubt: {doubt}; {runs} more run{'s' if runs != 1 else ''} each")
        extended = extend_benchmark(
            current,
            client=client,
            config=config,
            scenarios=scenarios,
            runs=runs,
            sampler=sampler,
            progress=progress,
            app=app,
            limits=limits,
        )
        latest.append(extended)
        return extended

    # The looks are decided in a child process: the gate's modules and reports never
    # enter this process, whose RSS is the harness memory being measured. Signals are
    # held during a look (it is short) and acted on before the next runs.
    try:
        with LookWorker() as look:
            return run_until_conclusive(result, config=config, more=more, look=look)
    except KeyboardInterrupt as exc:
        name = signal.Signals(interrupts.signal_of(exc)).name
        stopped = Failure(
            kind=Kind.INTERRUPTED,
            message=f"interrupted by {name} during a sequential look; what was measured before it is kept",
        )
        return latest[-1].model_copy(update={"failures": (*latest[-1].failures, stopped)})


def _check_baseline(config: PerfgateConfig, tier: str) -> None:
    """A corrupt baseline fails before anything is measured (exit 2); a missing one is a stop reason later."""
    from perfgate.contracts.baseline import find_baseline  # noqa: PLC0415

    try:
        find_baseline(Path(config.baselines_dir), tier)
    except BaselineMissing:
        return


RUN_LEGEND = (
    "legend: median and min – max over the measured runs; cv = spread (standard deviation / mean); "
    "n = runs measured; docs/metrics.md defines each metric"
)


def _save(out: Path, result: RunResult, console: Console) -> str | None:
    """Write the results file; when that fails, a fallback file (or stdout): None, else what went wrong."""
    text = dumps_model(result)
    try:
        write_text_atomic(out, text)
    except UsageError as exc:
        try:
            fallback = write_fallback(text, f"perfgate-results-{result.tier}")
        except OSError:
            console.say(text, end="")  # the last place left: nothing measured is ever lost
            return f"{exc.message}; the results are printed above instead"
        return f"{exc.message}; the results were saved to {fallback} instead"
    return None


def _ab_confirm(args: argparse.Namespace) -> bool:
    """``--ab-confirm``, refused without ``--compare`` before anything is measured (it re-measures what gates)."""
    wanted = bool(getattr(args, "ab_confirm", False))
    if wanted and not args.compare:
        raise UsageError("--ab-confirm re-measures what the gate flags: it needs --compare")
    return wanted


def _confirm_after(
    args: argparse.Namespace, config: PerfgateConfig, report: GateReport, console: Console
) -> int | None:
    """``--ab-confirm``: the A/B re-measure of what the gate flags; the signal that stopped it, if one did."""
    from perfgate.commands.confirm import after_gate  # noqa: PLC0415 -- only when asked

    return after_gate(args, config, report, console)


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    from perfgate.render.text import run_report  # noqa: PLC0415 -- keep `perfgate --help` fast

    ab_confirm = _ab_confirm(args)
    if args.for_baseline and args.runs is None:
        config = config.model_copy(update={"runs": config.gate.baseline_runs})
    options = RunOptions(
        scenarios=tuple(args.scenario or ()),
        until_conclusive=bool(args.until_conclusive),
        app_command=_app_command(args),
        app_timeout_s=getattr(args, "app_timeout", None),
    )
    config, options = with_app_scenario(config, options)
    planned = plan(config, options)
    out = Path(args.out) if args.out else Path(config.results_dir) / f"results-{planned.tier}.json"
    out_name = f"--out {out}" if args.out else f"results file {out} (results_dir)"
    check_writable(out, out_name)
    if args.compare and args.gate_out:
        check_writable(Path(args.gate_out), f"--gate-out {args.gate_out}")
    with OutputLock(out, out_name):
        progress = ProgressLine(console.err)
        try:
            result = measure(config, args.argv, progress, options, planned=planned, stage=progress.stage)
        finally:
            progress.close()
        write_error = _save(out, result, console)  # first: a failure below never loses the measurements
    console.say(run_report(result))
    console.say(RUN_LEGEND)
    if write_error is None:
        console.say(f"\nresults written to {out}")
    for failure in result.failures:
        console.fail(failure.message)
    look_error = result.sequential.error if result.sequential else None
    if look_error is not None:
        console.fail(f"sequential run stopped: {look_error}")
    signum = interrupts.received() or (int(signal.SIGINT) if _interrupted(result) else None)
    if signum is not None:
        if not _interrupted(result):
            console.fail(f"interrupted by {signal.Signals(signum).name} after the measuring ended")
        if write_error is not None:
            console.fail(write_error)
        return Outcome(interrupted=signum)
    if write_error is not None:
        raise UsageError(write_error)
    interrupts.resume()
    failed = bool(result.failures) or look_error is not None
    if not args.compare:
        return Outcome(could_not_measure=failed)
    console.say()
    report = compare_and_print(args, config, [LoadedResults(out, result)], console)
    if any(p.kind is Kind.BASELINE_MISSING and p.tier == result.tier for p in report.problems):
        console.fail(f"make tier {result.tier}'s first baseline with: {baseline_command(args, result.tier)}")
    stopped = _confirm_after(args, config, report, console) if ab_confirm else None
    return Outcome(report=report, could_not_measure=failed, interrupted=stopped)
