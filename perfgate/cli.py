"""Command-line interface: parse flags, build the config, dispatch to a command, decide the exit code.

Every command lives in ``perfgate.commands.<name>`` and returns an ``Outcome``;
``exit_code`` below is the one place that turns outcomes and errors into exit
codes (``docs/exit-codes.md``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfgate import interrupts
from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig, load_config, unknown_env
from perfgate.errors import ExitCode, PerfgateError
from perfgate.parser import RUN_SIM_FLAGS, build_parser
from perfgate.stdio import log_safe, until_reader_leaves

# The exit codes `perfgate --help` lists live beside the parser (perfgate.parser); decided here.


# ---------------------------------------------------------------- the one place exit codes are decided


def exit_code(outcome: Outcome) -> int:
    """A regression outranks everything; a run that could not measure outranks a pass or an inconclusive gate.

    An interrupted run outranks them all: its code says the signal (128 + its number), as a shell's would.
    A failed GitHub write shows only when performance passed: it never hides, nor poses as, a verdict.
    """
    if outcome.interrupted is not None:
        return 128 + outcome.interrupted
    gate = ExitCode(outcome.report.exit_code) if outcome.report is not None else None
    if gate is ExitCode.REGRESSION or outcome.regression:
        return int(ExitCode.REGRESSION)
    if outcome.could_not_measure:
        return int(ExitCode.COULD_NOT_MEASURE)
    code = gate if gate is not None else ExitCode.OK
    return int(ExitCode.PUBLISH_FAILED if code is ExitCode.OK and outcome.publish_failed else code)


def _internal_error(exc: BaseException) -> int:
    """An unexpected exception: one line, the traceback in a file, and a code no verdict uses."""
    text = "".join(traceback.format_exception(exc))
    try:
        handle, name = tempfile.mkstemp(prefix=f"perfgate-crash-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as crash:
            crash.write(text)
        where = f"traceback saved to {name}"
    except OSError:
        where = "traceback could not be saved"
        sys.stderr.write(log_safe(text))
    detail = " ".join(str(exc).split())[:200]
    Console().fail(f"internal error: {type(exc).__name__}: {detail} ({where}); please report it")
    return int(ExitCode.INTERNAL)


# ---------------------------------------------------------------- flags that are settings (the config's flags layer)


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
    sim = {key: getattr(args, f"sim_{key}") for key in RUN_SIM_FLAGS if getattr(args, f"sim_{key}", None) is not None}
    out: dict[str, Any] = {}
    if runtime:
        out["runtime"] = runtime
    if sim:
        out["sim"] = sim
    for key in ("runs", "warmup", "tier"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    sequential = {k: getattr(args, k) for k in ("max_runs", "max_minutes") if getattr(args, k, None) is not None}
    if sequential:
        out["sequential"] = sequential
    if getattr(args, "baselines_dir", None):
        out["baselines_dir"] = args.baselines_dir
    for flag, key in (("request_timeout", "request_timeout_s"), ("run_timeout", "run_timeout_s")):
        if getattr(args, flag, None) is not None:
            out.setdefault("runtime", {})[key] = getattr(args, flag)
    confirm = {key: getattr(args, f"confirm_{key}", None) for key in ("pairs", "warmup")}
    confirm = {key: value for key, value in confirm.items() if value is not None}
    if confirm:
        out["gate"] = {"confirm": confirm}
    return out


# ---------------------------------------------------------------- dispatch


def _warn_unknown_env(console: Console) -> None:
    """One line naming the ``PERFGATE_*`` variables that are not settings (they are ignored, not refused)."""
    ignored = unknown_env(os.environ)
    if ignored:
        shown = ", ".join(ignored[:5]) + (f" and {len(ignored) - 5} more" if len(ignored) > 5 else "")
        console.fail(
            f"warning: ignoring {shown}: not a perfgate setting (settings are PERFGATE_<KEY>[__<KEY>], "
            "see docs/configuration.md)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    # As the program (no argv given), signals stay held after the command: its exit code stands.
    with interrupts.handling(restore=argv is not None):
        try:
            return _main(list(sys.argv[1:] if argv is None else argv))
        except KeyboardInterrupt as exc:  # in the very moment the command ended
            return 128 + interrupts.signal_of(exc)


def _main(argv: list[str]) -> int:
    console = Console(until_reader_leaves(sys.stdout), until_reader_leaves(sys.stderr))
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv
        _warn_unknown_env(console)
        config: PerfgateConfig = load_config(
            config_file=Path(args.config) if args.config else None, overrides=_run_overrides(args)
        )
        command = importlib.import_module(f"perfgate.commands.{args.command_module}")
        outcome: Outcome = getattr(command, args.command_function)(args, config, console)
        return exit_code(outcome)
    except PerfgateError as exc:
        console.fail(str(exc))
        return int(exc.exit_code)
    except KeyboardInterrupt as exc:  # SIGINT or SIGTERM (perfgate.interrupts); a run has written what it measured
        console.fail(f"interrupted by {signal.Signals(interrupts.signal_of(exc)).name}")
        return 128 + interrupts.signal_of(exc)
    except Exception as exc:  # noqa: BLE001 -- the one catch-all: a bug must never exit with a verdict's code
        signum = interrupts.received()
        if signum is not None:  # the interrupt, wrapped by a library on its way (pydantic-core building a model)
            console.fail(f"interrupted by {signal.Signals(signum).name}")
            return 128 + signum
        return _internal_error(exc)
    finally:
        console.out.flush()
        console.err.flush()
