"""One module per ``perfgate X``, each reading top to bottom in stage order.

Every command has the same shape: ``execute(args, config, console) -> Outcome``.
It writes what a person reads through the injected ``Console`` (the CLI passes
stdout/stderr; tests pass buffers), which makes every line safe for a CI log
(``perfgate.stdio.log_safe``: what a results file or a runtime said starts no
workflow command), and returns the facts the exit code depends on. The exit
code itself is decided in one place, ``perfgate.cli.exit_code``.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from perfgate.stdio import log_safe, one_line

if TYPE_CHECKING:
    from perfgate.contracts.gate import GateReport


@dataclass
class Console:
    """Where a command's human-readable output goes."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def say(self, text: str = "", *, end: str = "\n") -> None:
        self.out.write(log_safe(text) + end)

    def fail(self, message: str) -> None:
        """One line on stderr, prefixed so it reads as perfgate's in a CI log (a line break shown as ``\\n``)."""
        self.err.write(f"perfgate: {log_safe(one_line(message))}\n")


@dataclass(frozen=True)
class Outcome:
    """What a command found, as far as the exit code is concerned."""

    report: GateReport | None = None  # the gate, when the command decided one
    regression: bool = False  # a regression found without a gate (an A/B re-measure confirmed one)
    could_not_measure: bool = False  # a run recorded failures, or a sequential look failed
    interrupted: int | None = None  # the signal (SIGINT, SIGTERM) that stopped a run whose results were kept
    publish_failed: bool = False  # a GitHub write (comment, issue) failed; the gate's own files were written


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector held off while a gate loads, decides and renders.

    A gate builds tens of thousands of small objects that form no cycles and mostly
    live until it prints; the collector kept scanning them (37 passes, a fifth of
    the time of a gate of 8 tiers × 25 scenarios) and freed nothing. Plain reference
    counting still frees everything as usual, and the collector's state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
