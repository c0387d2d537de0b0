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
from perfgate.errors import ExitCode, PerfgateError, UsageError
from perfgate.files import write_model
from perfgate.measure.harness import Progress, run_benchmark
from perfgate.models import HostInfo, RunResult

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
    for key in ("runs", "warmup", "tier"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    if getattr(args, "scenario", None):
        out["selected_scenarios"] = args.scenario
    return out


def _validate_scenarios(config: PerfgateConfig) -> None:
    unknown = [s for s in config.selected_scenarios if s not in config.scenarios]
    if unknown:
        raise UsageError(f"unknown scenario {unknown[0]!r} (configured: {', '.join(config.scenarios)})")


def measure(config: PerfgateConfig, argv: Sequence[str], progress: Callable[[Progress], None] | None) -> RunResult:
    """Probe the host, open the runtime, run the benchmark (no printing)."""
    from perfgate.host import probe_host, resolve_tier  # noqa: PLC0415 -- keep `perfgate --help` fast
    from perfgate.measure.memory import MemorySampler, locate_runtime  # noqa: PLC0415
    from perfgate.provenance import command_line, git_sha, utc_now_iso  # noqa: PLC0415
    from perfgate.runtimes.registry import open_runtime  # noqa: PLC0415

    _validate_scenarios(config)
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

    with open_runtime(config) as runtime:
        rt = config.runtime

        def locate() -> int:
            pid = runtime.managed_pid if runtime.managed_pid is not None else rt.pid
            return locate_runtime(runtime.client.base_url, pid=pid, process_name=rt.process_name)

        try:
            return run_benchmark(
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
            )
        finally:
            for sampler in samplers:
                sampler.stop()


def cmd_run(args: argparse.Namespace, config: PerfgateConfig) -> int:
    from perfgate.render.text import run_report  # noqa: PLC0415

    result = measure(config, args.argv, ProgressLine(sys.stderr))
    out = Path(args.out) if args.out else Path(config.results_dir) / f"results-{result.tier}.json"
    write_model(out, result)
    print(run_report(result))
    print(f"\nresults written to {out}")
    if result.failures:
        first = result.failures[0]
        _fail(first.message)
        return int(ExitCode.COULD_NOT_MEASURE)
    return int(ExitCode.OK)


# ---------------------------------------------------------------- host


def _cores(host: HostInfo) -> str | None:
    if host.performance_cores is not None and host.efficiency_cores is not None:
        return f"{host.cpu_count} ({host.performance_cores} P + {host.efficiency_cores} E)"
    return None if host.cpu_count is None else str(host.cpu_count)


def cmd_host(args: argparse.Namespace, config: PerfgateConfig) -> int:
    from perfgate.host import os_major, probe_host, resolve_tier  # noqa: PLC0415

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perfgate", description="Performance regression gate for apps that run a local LLM."
    )
    parser.add_argument("--version", action="version", version=f"perfgate {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML config (default: [tool.perfgate] in ./pyproject.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="measure TTFT, throughput and memory; write a results file")
    run.add_argument("--runtime", choices=["ollama", "openai", "sim"], help="runtime kind (default: config)")
    run.add_argument("--base-url", help="runtime base URL")
    run.add_argument("--model", help="model name as the runtime knows it")
    run.add_argument("--scenario", action="append", metavar="NAME", help="scenario to run (repeatable; default all)")
    run.add_argument("--runs", type=int, help="measured requests per scenario")
    run.add_argument("--warmup", type=int, help="discarded warm-up requests per scenario")
    run.add_argument("--tier", help="tier name (default: detected from the host)")
    run.add_argument("--out", metavar="FILE", help="results file (default: <results_dir>/results-<tier>.json)")
    run.add_argument("--runtime-pid", type=int, help="PID of the runtime to sample memory from")
    run.add_argument("--process-name", help="find the runtime process by this name")
    for key, kind, text in (
        ("ttft-ms", float, "time to first token"),
        ("tok-s", float, "decode rate"),
        ("jitter-cv", float, "timing noise CV"),
        ("load-ms", float, "cold load time"),
        ("ballast-mb", int, "runner child memory"),
    ):
        run.add_argument(f"--sim-{key}", type=kind, help=f"simulated runtime: {text}")
    run.set_defaults(handler=cmd_run)

    host = sub.add_parser("host", help="print this machine's facts and its tier")
    host.add_argument("--tier", help="force a tier")
    host.add_argument("--json", action="store_true", help="print JSON")
    host.set_defaults(handler=cmd_host)

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
