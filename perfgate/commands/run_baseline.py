"""The exact ``perfgate run`` command that makes the baseline a run is compared with (its flags, for a baseline)."""

from __future__ import annotations

import argparse

from perfgate.contracts.baseline import first_baseline_command

# `perfgate run` flags a baseline's run does not take: the gate's own, and where this run wrote.
_NOT_FOR_BASELINE = {"--compare", "--until-conclusive", "--ab-confirm", "--for-baseline"}
_NOT_FOR_BASELINE_WITH_VALUE = {
    "--out",
    "--gate-out",
    "--expect-tiers",
    "--runs",
    "--max-runs",
    "--max-minutes",
    "--tier",
}


def baseline_command(args: argparse.Namespace, tier: str) -> str:
    """The exact command that makes the baseline this run would be compared with: its own flags, for a baseline."""
    argv = list(args.argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    at = argv.index("run") if "run" in argv[:cut] else -1  # before it: perfgate's own options (--config FILE)
    before, flags, app = argv[: max(at, 0)], argv[at + 1 : cut], argv[cut + 1 :]
    kept: list[str] = []
    skip = False
    for word in flags:
        name = word.split("=", 1)[0]
        if skip:
            skip = False
        elif name in _NOT_FOR_BASELINE_WITH_VALUE:
            skip = "=" not in word
        elif name not in _NOT_FOR_BASELINE:
            kept.append(word)
    return first_baseline_command(tier, kept, app, perfgate_args=before)
