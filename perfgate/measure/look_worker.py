"""One look of a sequential run, decided in a child process.

The gate's modules, and the report each look builds, are memory a plain run
never holds (it was about 75 MB while the gate imported numpy and scipy; it is
a few MB since the rank tests are plain Python). The process that measures is
also the "harness" whose peak RSS perfgate reports, so if it decided the looks
itself, every sample of a ``--until-conclusive`` run would carry more harness
memory than a plain run — and the baseline, measured without looks, would show
a harness "regression" that is only the gate's own work. So the looks are decided by one ``python -m
perfgate.measure.look_worker`` child per run (``LookWorker``): each request
(config, results so far, the look's alpha) goes in on stdin as a JSON line,
and the gate report, or the one-line reason there is none, comes back on
stdout as a JSON line.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from pydantic import ValidationError

from perfgate.childproc import end_child, read_line
from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import load_baselines
from perfgate.contracts.gate import GateReport
from perfgate.contracts.results import Frozen, LoadedResults, RunResult
from perfgate.errors import LookFailed, PerfgateError
from perfgate.provenance import utc_now_iso

LOOK_TIMEOUT_S = 300.0


class LookRequest(Frozen):
    """What the child needs to decide one look (a message between processes, never a file)."""

    config: PerfgateConfig
    result: RunResult
    alpha: float


def decide_look(result: RunResult, config: PerfgateConfig, alpha: float) -> GateReport:
    """Decide one look in this process (used by the child, and by tests with no child)."""
    # The gate's imports stay out of the parent, whose RSS is the harness memory measured.
    from perfgate.decide.gate import compare_results  # noqa: PLC0415

    return compare_results(
        [LoadedResults(Path("(this run)"), result)],
        load_baselines([result.tier], Path(config.baselines_dir)),
        config,
        created_at=utc_now_iso(),
        now=datetime.now(UTC),
        look_alpha=alpha,
    )


class LookReply(Frozen):
    """The child's answer to one LookRequest: the report, or why there is none."""

    report: GateReport | None = None
    error: str | None = None


class LookWorker:
    """Decides every look of one run in a single child process, so the gate's imports are paid once.

    One JSON line in (a LookRequest), one JSON line out (a LookReply). The
    child's stdin is a pipe only this process holds: it exits at end of input,
    including when this process dies. A context manager that never leaves it
    running.
    """

    def __init__(self, *, timeout_s: float = LOOK_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def __call__(self, result: RunResult, config: PerfgateConfig, alpha: float) -> GateReport:
        proc = self._started()
        assert proc.stdin is not None  # stdin/stdout=PIPE in _started(); these narrow the types
        assert proc.stdout is not None
        request = LookRequest(config=config, result=result, alpha=alpha).model_dump_json().encode() + b"\n"
        try:
            proc.stdin.write(request)
            proc.stdin.flush()
        except BrokenPipeError:
            raise self._failure() from None
        line = read_line(proc.stdout.fileno(), self.timeout_s)
        if not line.endswith(b"\n"):  # end of output (the child is exiting) or the timeout
            raise self._failure()
        try:
            reply = LookReply.model_validate_json(line)
        except ValidationError as exc:
            raise LookFailed(f"deciding a look failed: unreadable reply ({exc.error_count()} errors)") from exc
        if reply.report is None:
            raise LookFailed(f"deciding a look failed: {reply.error or 'no report'}")
        return reply.report

    @property
    def pid(self) -> int | None:
        """The child's PID while it runs (it starts with the first look)."""
        return self._proc.pid if self._proc is not None else None

    def _started(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            # stderr goes to a file: nobody reads it while the child runs, and a full pipe would block it.
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in close()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "perfgate.measure.look_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,  # a Ctrl-C is perfgate's to act on, not a reason for a failed look
            )
        return self._proc

    def _failure(self) -> LookFailed:
        """Why the child gave no reply: it exited (with the last line it wrote to stderr) or it hangs."""
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.close()
            return LookFailed(f"deciding a look took over {self.timeout_s:g} s")
        tail = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            tail = f": {lines[-1]}" if lines else ""
        self.close()
        return LookFailed(f"the look process exited (code {code}){tail}")

    def close(self) -> None:
        """End of input (the child's signal to exit), then make sure it is gone."""
        proc, self._proc = self._proc, None
        if proc is not None:
            end_child(proc)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def main() -> int:
    """Child entry point: LookRequest lines on stdin, LookReply lines on stdout, until end of input."""
    replies, sys.stdout = sys.stdout, sys.stderr  # a stray print must never desync the replies
    for line in sys.stdin:
        request = LookRequest.model_validate_json(line)
        try:
            reply = LookReply(report=decide_look(request.result, request.config, request.alpha))
        except PerfgateError as exc:
            reply = LookReply(error=exc.message)
        replies.write(reply.model_dump_json() + "\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
