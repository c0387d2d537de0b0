"""Command-line interface: parse flags, build the config, call the core, map errors to exit codes.

This is the only module that prints for humans or decides the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from perfgate import __version__
from perfgate.config import PerfgateConfig, load_config
from perfgate.contracts.results import HostInfo
from perfgate.errors import ExitCode, PerfgateError, UsageError
from perfgate.files import write_model
from perfgate.measure.harness import Progress

Handler = Callable[[argparse.Namespace, PerfgateConfig], int]


def _fail(message: str) -> None:
    print(f"perfgate: {message}", file=sys.stderr)


# ---------------------------------------------------------------- progress


class ProgressLine:
    """A one-line progress indicator on stderr; plain lines when not a TTY."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, event: Progress) -> None:
        prefix = "\r\x1b[K" if self.tty else ""
        if event.phase == "done":
            self.stream.write(f"{prefix}{event.scenario}: {event.total} runs done\n")
        elif event.sample is not None or self.tty:
            detail = ""
            if event.sample is not None and event.sample.ttft_ms is not None:
                detail = f"  ttft {event.sample.ttft_ms:.1f} ms"
            end = "" if self.tty else "\n"
            self.stream.write(f"{prefix}{event.scenario}: {event.phase} {event.index}/{event.total}{detail}{end}")
        self.stream.flush()


# ---------------------------------------------------------------- run


def _run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    runtime: dict[str, Any] = {}
    for flag, key in (
        ("runtime", "kind"),
        ("base_url", "base_url"),
        ("model", "model"),
        ("runtime_pid", "pid"),
        ("process_name", "process_name"),
        ("model_size", "model_size"),
        ("gguf", "gguf"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            runtime[key] = value
    sim: dict[str, Any] = {}
    for key in ("ttft_ms", "tok_s", "jitter_cv", "load_ms", "ballast_mb"):
        value = getattr(args, f"sim_{key}", None)
        if value is not None:
            sim[key] = value
    out: dict[str, Any] = {}
    if runtime:
        out["runtime"] = runtime
    if sim:
        out["sim"] = sim
    for key in ("runs", "warmup", "tier", "until_conclusive"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    sequential = {k: getattr(args, k) for k in ("max_runs", "max_minutes") if getattr(args, k, None) is not None}
    if sequential:
        out["sequential"] = sequential
    if getattr(args, "baselines_dir", None):
        out["baselines_dir"] = args.baselines_dir
    if getattr(args, "scenario", None):
        out["selected_scenarios"] = args.scenario
    return out


def cmd_run(args: argparse.Namespace, config: PerfgateConfig) -> int:
    from perfgate.render.text import run_report  # noqa: PLC0415

    if args.for_baseline and args.runs is None:
        config = config.model_copy(update={"runs": config.gate.baseline_runs})
    from perfgate.commands.run import measure  # noqa: PLC0415 -- keep `perfgate --help` fast

    result = measure(config, args.argv, ProgressLine(sys.stderr))
    out = Path(args.out) if args.out else Path(config.results_dir) / f"results-{result.tier}.json"
    write_model(out, result)  # written first: a failure below never loses the measurements
    print(run_report(result))
    print(f"\nresults written to {out}")
    for failure in result.failures:
        _fail(failure.message)
    look_error = result.sequential.error if result.sequential else None
    if look_error is not None:
        _fail(f"sequential run stopped: {look_error}")
    if args.compare:
        from perfgate.contracts.results import LoadedResults  # noqa: PLC0415

        print()
        code = _compare_and_report(args, config, [LoadedResults(out, result)])
        # A look that failed means the run could not finish; only a regression outranks that.
        return ExitCode.COULD_NOT_MEASURE if look_error is not None and code in _PASSING else code
    return int(ExitCode.COULD_NOT_MEASURE if result.failures or look_error else ExitCode.OK)


# ---------------------------------------------------------------- compare


_PASSING = (ExitCode.OK, ExitCode.INCONCLUSIVE)


def _compare_and_report(args: argparse.Namespace, config: PerfgateConfig, loaded: list[Any]) -> int:
    from perfgate.commands.compare import compare  # noqa: PLC0415
    from perfgate.files import write_model as write  # noqa: PLC0415
    from perfgate.render.markdown import gate_markdown  # noqa: PLC0415
    from perfgate.render.text import gate_text  # noqa: PLC0415

    baselines_dir = Path(args.baselines_dir or config.baselines_dir)
    report = compare(loaded, config, baselines_dir=baselines_dir, expect_tiers=_split(args.expect_tiers))
    if args.gate_out:
        write(Path(args.gate_out), report)
    fmt = getattr(args, "format", "text")
    if fmt == "json":
        from perfgate.files import dumps_model  # noqa: PLC0415

        print(dumps_model(report), end="")
    elif fmt == "md":
        print(gate_markdown(report), end="")
    else:
        print(gate_text(report))
    for problem in report.problems:
        _fail(problem.message)
    return report.exit_code


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def cmd_compare(args: argparse.Namespace, config: PerfgateConfig) -> int:
    from perfgate.contracts.results import collect_results  # noqa: PLC0415

    loaded = collect_results([Path(p) for p in args.results])
    return _compare_and_report(args, config, loaded)


# ---------------------------------------------------------------- baseline


def cmd_baseline_update(args: argparse.Namespace, config: PerfgateConfig) -> int:
    from perfgate.contracts.baseline import baseline_path, load_baseline  # noqa: PLC0415
    from perfgate.contracts.results import collect_results  # noqa: PLC0415
    from perfgate.decide.baseline import build_baseline, diff_baselines  # noqa: PLC0415
    from perfgate.provenance import utc_now_iso  # noqa: PLC0415
    from perfgate.render.baseline_diff import diff_text  # noqa: PLC0415

    loaded = collect_results([Path(p) for p in args.from_])
    new = build_baseline(loaded, tier=args.tier, config=config, created_at=utc_now_iso())
    path = baseline_path(Path(args.baselines_dir or config.baselines_dir), args.tier)
    old = load_baseline(path) if path.is_file() else None
    write_model(path, new)
    runs = min(len(metrics.get("e2e_ms", ())) for metrics in new.samples.values())
    print(f"{path}: {len(new.samples)} scenario(s), {runs}+ samples each; review the diff and commit it")
    print(diff_text([diff_baselines(str(path), old, new)]))
    return int(ExitCode.OK)


def cmd_baseline_diff(args: argparse.Namespace, config: PerfgateConfig) -> int:
    from perfgate.commands.baseline import changed_baselines  # noqa: PLC0415
    from perfgate.render.baseline_diff import diff_markdown, diff_text  # noqa: PLC0415

    diffs = changed_baselines(Path(args.baselines_dir or config.baselines_dir), args.base_ref)
    if not diffs:
        print(f"no baseline changed since {args.base_ref}")
        return int(ExitCode.OK)
    print(diff_markdown(diffs) if args.format == "md" else diff_text(diffs), end="")
    return int(ExitCode.OK)


# ---------------------------------------------------------------- gate


def cmd_gate(args: argparse.Namespace, config: PerfgateConfig) -> int:
    import os  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    from perfgate.commands.gate import GateOptions, run_ci_gate  # noqa: PLC0415

    options = GateOptions(
        results_dir=Path(args.results_dir),
        baselines_dir=Path(args.baselines_dir or config.baselines_dir),
        expect_tiers=tuple(_split(args.expect_tiers)),
        summary_out=Path(args.summary_out) if args.summary_out else None,
        comment=args.comment,
        triage=args.triage,
        triage_ledger=Path(args.triage_ledger) if args.triage_ledger else None,
        pr=args.pr,
        repository=args.repository,
        base_ref=args.base_ref,
    )
    with httpx.Client() as http:
        outcome = run_ci_gate(options, config, environ=dict(os.environ), http=http)
    print(gate_text_for(outcome.report))
    print(f"\ngate.json and {outcome.summary_path.name} written to {outcome.summary_path.parent}")
    for problem in outcome.report.problems:
        _fail(problem.message)
    for message in outcome.publish_errors:
        _fail(message)
    return outcome.report.exit_code


def gate_text_for(report: Any) -> str:  # noqa: ANN401 -- GateReport, imported lazily
    from perfgate.render.text import gate_text  # noqa: PLC0415

    return str(gate_text(report))


# ---------------------------------------------------------------- triage


def cmd_triage_list(args: argparse.Namespace, config: PerfgateConfig) -> int:
    import os  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    from perfgate.publish.github import GitHubClient  # noqa: PLC0415
    from perfgate.render.text import triage_text  # noqa: PLC0415
    from perfgate.triage.sinks import GitHubIssueSink, LedgerSink, TriageSink  # noqa: PLC0415

    with httpx.Client() as http:
        github = (
            None if args.triage_ledger else GitHubClient.from_env(http, dict(os.environ), repository=args.repository)
        )
        sink: TriageSink = (
            GitHubIssueSink(github, config.triage.label)
            if github is not None
            else LedgerSink(Path(args.triage_ledger or Path(config.results_dir) / "triage-ledger.json"))
        )
        entries = sink.load()
    shown = entries if args.all else [e for e in entries if e.status == "open"]
    print(triage_text(shown))
    return int(ExitCode.OK)


# ---------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace, config: PerfgateConfig) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from perfgate.commands.report import build_report, copy_raw  # noqa: PLC0415
    from perfgate.contracts.results import collect_results  # noqa: PLC0415
    from perfgate.files import write_text_atomic  # noqa: PLC0415

    loaded = collect_results([Path(p) for p in args.results])
    out = Path(args.out) if args.out else None
    raw = [str(p) for p in copy_raw(loaded, Path(args.copy_raw))] if args.copy_raw else [str(i.path) for i in loaded]
    if out is not None:
        # Paths in the report are relative to it, so the report and its raw files move together.
        raw = [_relative_to(Path(p), out.parent) for p in raw]
    text = build_report(
        loaded,
        config,
        title=args.title,
        baselines_dir=Path(args.baselines_dir) if args.baselines_dir else None,
        expect_tiers=_split(args.expect_tiers),
        raw_paths=raw,
        generated=args.date or datetime.now(UTC).date().isoformat(),
    )
    if out is None:
        print(text, end="")
    else:
        write_text_atomic(out, text)
        print(f"report written to {out}")
    return int(ExitCode.OK)


def _relative_to(path: Path, base: Path) -> str:
    import os  # noqa: PLC0415

    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


# ---------------------------------------------------------------- host


def _cores(host: HostInfo) -> str | None:
    if host.performance_cores is not None and host.efficiency_cores is not None:
        return f"{host.cpu_count} ({host.performance_cores} P + {host.efficiency_cores} E)"
    return None if host.cpu_count is None else str(host.cpu_count)


def cmd_host(args: argparse.Namespace, config: PerfgateConfig) -> int:
    from perfgate.measure.host import os_major, probe_host, resolve_tier  # noqa: PLC0415

    host = probe_host()
    try:
        tier: str | None = resolve_tier(host, config.tiers, config.tier)
        tier_note = ""
    except UsageError as exc:
        tier, tier_note = None, str(exc)
    if args.json:
        print(json.dumps({"host": host.model_dump(mode="json"), "tier": tier}, indent=2, ensure_ascii=False))
        return int(ExitCode.OK)
    rows = [
        ("label", host.label),
        ("os", f"{host.os} {host.os_version} ({os_major(host)})"),
        ("model", host.machine_model),
        ("chip", host.chip),
        ("cores", _cores(host)),
        ("gpu cores", host.gpu_cores),
        ("memory", f"{host.memory_gb} GiB" if host.memory_gb else None),
        ("power", host.power_source),
        ("thermal", host.thermal_state),
        ("tier", tier or f"none: {tier_note}"),
    ]
    for key, value in rows:
        print(f"{key:<10} {value if value is not None else '—'}")
    return int(ExitCode.OK)


# ---------------------------------------------------------------- sim


def cmd_sim(args: argparse.Namespace, config: PerfgateConfig) -> int:
    from perfgate.sim.profile import SimProfile  # noqa: PLC0415
    from perfgate.sim.server import serve  # noqa: PLC0415

    profile = SimProfile.from_config(
        config.sim,
        model=args.model or config.runtime.model,
        **{
            key: getattr(args, key)
            for key in (
                "ttft_ms",
                "tok_s",
                "prefill_tok_s",
                "jitter_cv",
                "load_ms",
                "ballast_mb",
                "fault",
                "fault_after",
                "stall_s",
                "seed",
            )
            if getattr(args, key) is not None
        },
    )
    serve(
        profile,
        host=args.host,
        port=args.port,
        on_ready=lambda url: print(f"perfgate sim listening on {url}", flush=True),
    )
    return int(ExitCode.OK)


# ---------------------------------------------------------------- parser


def _compare_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baselines-dir", metavar="DIR", help="default: config baselines_dir (baselines/)")
    parser.add_argument("--expect-tiers", metavar="A,B", help="tiers that must have results (missing = failure)")
    parser.add_argument("--gate-out", metavar="FILE", help="also write the GateReport JSON here")


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="measure TTFT, throughput and memory; write a results file")
    run.add_argument(
        "--runtime", choices=["ollama", "openai", "sim", "llamacpp"], help="runtime kind (default: config)"
    )
    run.add_argument("--base-url", help="runtime base URL")
    run.add_argument("--model", help="model name as the runtime knows it")
    run.add_argument("--scenario", action="append", metavar="NAME", help="scenario to run (repeatable; default all)")
    run.add_argument("--runs", type=int, help="measured requests per scenario")
    run.add_argument("--warmup", type=int, help="discarded warm-up requests per scenario")
    run.add_argument("--tier", help="tier name (default: detected from the host)")
    run.add_argument("--out", metavar="FILE", help="results file (default: <results_dir>/results-<tier>.json)")
    run.add_argument("--runtime-pid", type=int, help="PID of the runtime to sample memory from")
    run.add_argument("--process-name", help="find the runtime process by this name")
    run.add_argument(
        "--model-size", choices=["tiny", "small", "medium"], help="llamacpp: generated model to serve (default tiny)"
    )
    run.add_argument("--gguf", metavar="FILE", help="llamacpp: serve this GGUF instead of a generated model")
    for key, kind, text in (
        ("ttft-ms", float, "time to first token"),
        ("tok-s", float, "decode rate"),
        ("jitter-cv", float, "timing noise CV"),
        ("load-ms", float, "cold load time"),
        ("ballast-mb", int, "runner child memory"),
    ):
        run.add_argument(f"--sim-{key}", type=kind, help=f"simulated runtime: {text}")
    run.add_argument("--compare", action="store_true", help="then compare with the tier's baseline (exit = gate's)")
    run.add_argument(
        "--until-conclusive",
        action="store_true",
        default=None,
        help="add runs to scenarios whose verdict is in doubt, look again (needs the tier's baseline)",
    )
    run.add_argument("--max-runs", type=int, help="with --until-conclusive: runs per scenario at most")
    run.add_argument("--max-minutes", type=float, help="with --until-conclusive: time budget for extra runs")
    run.add_argument(
        "--for-baseline", action="store_true", help="measure gate.baseline_runs runs (default 15) unless --runs"
    )
    _compare_flags(run)
    run.set_defaults(handler=cmd_run, format="text")


def _add_compare(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = sub.add_parser("compare", help="compare results with their tiers' baselines; print verdicts")
    compare.add_argument("results", nargs="+", metavar="RESULTS", help="results files or directories")
    compare.add_argument("--format", choices=["text", "md", "json"], default="text", help="stdout format")
    compare.add_argument("--out", dest="gate_out", metavar="FILE", help="write the GateReport JSON here")
    _compare_flags(compare)
    compare.set_defaults(handler=cmd_compare)


def _add_baseline(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    baseline = sub.add_parser("baseline", help="update or review the committed baselines")
    bsub = baseline.add_subparsers(dest="baseline_command", required=True, metavar="ACTION")
    update = bsub.add_parser("update", help="write baselines/<tier>.json from results files")
    update.add_argument("--tier", required=True, help="tier whose baseline is written")
    update.add_argument("--from", dest="from_", nargs="+", required=True, metavar="RESULTS", help="results files")
    update.add_argument("--baselines-dir", metavar="DIR", help="default: config baselines_dir")
    update.set_defaults(handler=cmd_baseline_update)
    diff = bsub.add_parser("diff", help="old vs new of every baseline changed since a git ref")
    diff.add_argument("--base-ref", default="HEAD", help="git ref to compare with (default HEAD)")
    diff.add_argument("--baselines-dir", metavar="DIR", help="default: config baselines_dir")
    diff.add_argument("--format", choices=["text", "md"], default="text")
    diff.set_defaults(handler=cmd_baseline_diff)


def _add_gate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gate = sub.add_parser("gate", help="the CI gate: every tier's results, one report, PR comment, triage")
    gate.add_argument("--results-dir", required=True, metavar="DIR", help="directory holding every tier's results")
    gate.add_argument("--baselines-dir", metavar="DIR", help="default: config baselines_dir")
    gate.add_argument("--expect-tiers", metavar="A,B", help="tiers that must have results (missing = P1 failure)")
    gate.add_argument("--summary-out", metavar="FILE", help="Markdown summary (default: DIR/summary.md)")
    gate.add_argument("--comment", action="store_true", help="post/update the sticky PR comment")
    gate.add_argument("--triage", action="store_true", help="open/update/resolve triage entries")
    gate.add_argument("--triage-ledger", metavar="FILE", help="local JSON ledger instead of GitHub issues")
    gate.add_argument("--pr", type=int, help="pull request number (default: from GITHUB_EVENT_PATH)")
    gate.add_argument("--repository", metavar="OWNER/NAME", help="default: GITHUB_REPOSITORY")
    gate.add_argument("--base-ref", help="git ref for the baseline diff (default: origin/$GITHUB_BASE_REF)")
    gate.set_defaults(handler=cmd_gate)


def _add_triage(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    triage = sub.add_parser("triage", help="triage entries")
    tsub = triage.add_subparsers(dest="triage_command", required=True, metavar="ACTION")
    tlist = tsub.add_parser("list", help="print open triage entries")
    tlist.add_argument("--triage-ledger", metavar="FILE", help="read this ledger instead of GitHub issues")
    tlist.add_argument("--repository", metavar="OWNER/NAME", help="default: GITHUB_REPOSITORY")
    tlist.add_argument("--all", action="store_true", help="include resolved entries")
    tlist.set_defaults(handler=cmd_triage_list)


def _add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="write the performance report (Markdown) from results files")
    report.add_argument("results", nargs="+", metavar="RESULTS", help="results files or directories")
    report.add_argument("--baselines-dir", metavar="DIR", help="also compare with these baselines")
    report.add_argument("--title", default="Performance Report", help="report title")
    report.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    report.add_argument("--copy-raw", metavar="DIR", help="copy the results files here with timestamped names")
    report.add_argument("--expect-tiers", metavar="A,B", help="tiers the report must cover (missing = P1)")
    report.add_argument("--date", help="date shown as generated (default: today, UTC)")
    report.set_defaults(handler=cmd_report)


def _add_host(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    host = sub.add_parser("host", help="print this machine's facts and its tier")
    host.add_argument("--tier", help="force a tier")
    host.add_argument("--json", action="store_true", help="print JSON")
    host.set_defaults(handler=cmd_host)


def _add_sim(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("sim", help="serve the simulated runtime (Ollama + OpenAI APIs) on loopback")
    sim.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    sim.add_argument("--port", type=int, default=11434, help="port (0 picks a free one)")
    sim.add_argument("--model", help="model name served")
    for key, kind in (
        ("ttft-ms", float),
        ("tok-s", float),
        ("prefill-tok-s", float),
        ("jitter-cv", float),
        ("load-ms", float),
        ("ballast-mb", int),
        ("fault-after", int),
        ("stall-s", float),
        ("seed", int),
    ):
        sim.add_argument(f"--{key}", type=kind)
    sim.add_argument(
        "--fault",
        choices=["model_missing", "http_500", "error_midstream", "disconnect_midstream", "stall", "malformed_line"],
    )
    sim.set_defaults(handler=cmd_sim)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perfgate", description="Performance regression gate for apps that run a local LLM."
    )
    parser.add_argument("--version", action="version", version=f"perfgate {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML config (default: [tool.perfgate] in ./pyproject.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for add in (_add_run, _add_compare, _add_baseline, _add_gate, _add_triage, _add_report, _add_host, _add_sim):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        config = load_config(config_file=Path(args.config) if args.config else None, overrides=_run_overrides(args))
        handler: Handler = args.handler
        return handler(args, config)
    except PerfgateError as exc:
        _fail(str(exc))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
