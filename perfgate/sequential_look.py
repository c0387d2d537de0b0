"""One look of a sequential run, decided in a child process.

The gate needs numpy and scipy (about 75 MB of resident memory). The process
that measures is also the "harness" whose peak RSS perfgate reports, so if it
decided the looks itself, every sample of a ``--until-conclusive`` run would
carry that much more harness memory than a plain run — and the baseline,
measured without looks, would show a harness "regression" that is only the
gate's own imports. So each look is decided by ``python -m
perfgate.sequential_look``: the request (config, results so far, the look's
alpha) goes in on stdin as JSON, the gate report comes back on stdout as JSON.
A failure comes back as one line on stderr and the error's exit code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from perfgate.config import PerfgateConfig
from perfgate.errors import ExitCode, LookFailed, PerfgateError
from perfgate.gate_models import GateReport
from perfgate.models import Frozen, RunResult

LOOK_TIMEOUT_S = 300.0


class LookRequest(Frozen):
    """What the child needs to decide one look (a message between processes, never a file)."""

    config: PerfgateConfig
    result: RunResult
    alpha: float


def decide_look(result: RunResult, config: PerfgateConfig, alpha: float) -> GateReport:
    """Decide one look in this process (used by the child, and by tests with no child)."""
    from perfgate.baseline import LoadedResults  # noqa: PLC0415 -- the gate's imports stay out of the parent
    from perfgate.pipeline import compare  # noqa: PLC0415

    return compare(
        [LoadedResults(Path("(this run)"), result)],
        config,
        baselines_dir=Path(config.baselines_dir),
        look_alpha=alpha,
    )


def decide_look_in_child(result: RunResult, config: PerfgateConfig, alpha: float) -> GateReport:
    """Decide one look in a child Python process, so this process never loads the gate."""
    request = LookRequest(config=config, result=result, alpha=alpha).model_dump_json()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "perfgate.sequential_look"],
            input=request,
            capture_output=True,
            text=True,
            timeout=LOOK_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LookFailed(f"deciding a look took over {LOOK_TIMEOUT_S:.0f} s", ExitCode.COULD_NOT_MEASURE) from exc
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        # Bad input (a corrupt baseline) keeps its exit code; a crash (Python exits 1) is not a regression.
        code = ExitCode.USAGE if proc.returncode == ExitCode.USAGE else ExitCode.COULD_NOT_MEASURE
        raise LookFailed(f"deciding a look failed: {reason.removeprefix('perfgate: ')}", code)
    return GateReport.model_validate_json(proc.stdout)


def main() -> int:
    """Child entry point: a LookRequest on stdin, a GateReport on stdout."""
    try:
        request = LookRequest.model_validate_json(sys.stdin.read())
        report = decide_look(request.result, request.config, request.alpha)
    except PerfgateError as exc:
        print(f"perfgate: {exc.message}", file=sys.stderr)
        return int(exc.exit_code)
    sys.stdout.write(report.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
