"""What every command's parser shares: the exit codes ``--help`` lists, one-line usage errors, common flags."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, NoReturn, TypeAlias, get_args

from perfgate import flags
from perfgate.config import RuntimeConfig
from perfgate.errors import ExitCode
from perfgate.stdio import log_safe, one_line

EXIT_CODES_HELP = """exit codes:
  0   pass: every gating metric was compared and none regressed
  1   regression: a gating metric is worse past its threshold (and nothing else)
  2   usage: bad flags, bad config or a bad input file
  3   could not measure: runtime unavailable, tier or baseline missing, a run failed
  4   inconclusive (only with gate.fail_on_inconclusive = true)
  5   publishing to GitHub failed (the gate's own files were written)
  70  internal error in perfgate (a bug: the traceback is saved, please report it)
  130 interrupted (SIGINT; 143 for SIGTERM): what was measured is written, with an 'interrupted' failure"""


# ---------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad flag reported like every other bad input: one ``perfgate:`` line, exit 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("perfgate").strip()
        where = f"{command}: " if command else ""
        # The message may quote an argument as given (a stray value of a workflow's): one line, no workflow command.
        self.exit(int(ExitCode.USAGE), f"perfgate: {log_safe(one_line(where + message))}; see {self.prog} --help\n")


if TYPE_CHECKING:
    Sub: TypeAlias = argparse._SubParsersAction[_Parser]  # argparse has no public name for it
else:
    Sub = argparse._SubParsersAction  # importable by the other parser modules; not subscriptable at run time

RUN_SIM_FLAGS = ("ttft_ms", "tok_s", "jitter_cv", "load_ms", "ballast_mb")


def _choices(field: str) -> list[str]:
    """A runtime setting's allowed values, read from the config model (never retyped here)."""
    annotation = RuntimeConfig.model_fields[field].annotation
    return [str(value) for value in get_args(annotation)]


def _command(sub: Sub, name: str, module: str, help_text: str, function: str = "execute") -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(command_module=module, command_function=function)
    return parser


def _compare_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baselines-dir", type=flags.path, metavar="DIR", help="committed baselines (default: config baselines_dir)"
    )
    parser.add_argument(
        "--expect-tiers",
        type=flags.names("tier"),
        metavar="A,B",
        help="tiers that must have results (missing = failure)",
    )
    parser.add_argument("--gate-out", type=flags.path, metavar="FILE", help="also write the GateReport JSON here")
