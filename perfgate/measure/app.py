"""The app's own benchmark command as a scenario: one run = one execution of the command, through the proxy.

perfgate does not send the request here: the app does, through perfgate's
measuring proxy (``OLLAMA_HOST``, ``OPENAI_BASE_URL`` and ``PERFGATE_PROXY_URL``
point at it), exactly as it would in front of a user. One run gives one
``Sample``: the per-request metrics of the **first LLM request** the app made
(that streamed content), its own wall time, the peak of its process tree (with
the runtime's, sampled in the same ticks) and the figures it printed on
``PERFGATE {...}`` lines. A command that fails, makes no LLM request or hangs is
a failure of its own kind, never a sample.

The parsing and classification below are pure; ``AppRunner.run`` is the one
part that starts a process.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psutil

from perfgate.contracts.results import MemoryPeaks, Sample, StreamObservation
from perfgate.errors import (
    AppFailed,
    AppNoRequest,
    AppTimeout,
    CouldNotMeasure,
    Kind,
    ModelMissing,
    ProtocolError,
    RuntimeFailure,
    RuntimeTimeout,
    RuntimeUnavailable,
    StreamTruncated,
)
from perfgate.measure.samples import build_sample
from perfgate.metrics import is_app_key

METRIC_LINE_PREFIX = "PERFGATE "
PROXY_URL_PLACEHOLDER = "{proxy_url}"
STDERR_TAIL_LINES = 20
MESSAGE_TAIL_CHARS = 600  # a failure's one line keeps the end of the app's stderr, where the error is
NO_REQUEST_GRACE_S = 1.0  # the proxy records a request once its stream ends, a moment after the app read it


class ProxyRecordLike(Protocol):
    """What the app path reads from one request the proxy forwarded (``perfgate.contracts.proxy.ProxyRecord``)."""

    @property
    def started_ns(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def model(self) -> str | None: ...
    @property
    def prompt_sha256(self) -> str | None: ...
    @property
    def options_sha256(self) -> str | None: ...
    @property
    def status(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def error_kind(self) -> Kind | None: ...
    @property
    def observation(self) -> StreamObservation | None: ...
    @property
    def is_llm_request(self) -> bool: ...


class RecordSource(Protocol):
    """The measuring proxy, as the app path uses it."""

    @property
    def url(self) -> str: ...
    @property
    def host_port(self) -> str: ...
    def take_records(self) -> Sequence[ProxyRecordLike]: ...


class AppSampler(Protocol):
    """A memory sampler that can watch an app command's tree with the runtime's (``MemorySampler``)."""

    def window(self) -> MemoryPeaks: ...
    def watch_app(self, pid: int | None) -> None: ...


# --------------------------------------------------------------------------- pure parts


def proxy_env(proxy: RecordSource) -> dict[str, str]:
    """Where an app finds its runtime: Ollama's clients read OLLAMA_HOST, OpenAI's SDKs OPENAI_BASE_URL."""
    return {
        "OLLAMA_HOST": proxy.host_port,
        "OPENAI_BASE_URL": f"{proxy.url}/v1",
        "PERFGATE_PROXY_URL": proxy.url,
    }


def expand_command(command: Sequence[str], proxy_url: str) -> list[str]:
    """The argv to run: ``{proxy_url}`` in an argument becomes the proxy's URL (for apps that take it as a flag)."""
    return [arg.replace(PROXY_URL_PLACEHOLDER, proxy_url) for arg in command]


def parse_metric_lines(stdout: str) -> dict[str, float]:
    """The figures on ``PERFGATE {"name": number, ...}`` lines (later lines win); AppFailed on a bad one."""
    metrics: dict[str, float] = {}
    for raw in stdout.splitlines():
        line = raw.rstrip()
        if not line.startswith(METRIC_LINE_PREFIX):
            continue
        payload = line.removeprefix(METRIC_LINE_PREFIX).strip()
        try:
            values = json.loads(payload)
        except ValueError:
            values = None
        if not isinstance(values, dict):
            raise AppFailed(f"the app printed a PERFGATE line that is not a JSON object: {_clip(line, 200)}")
        for key, value in values.items():
            if not is_app_key(key):
                raise AppFailed(
                    f"the app printed a PERFGATE figure named {_clip(key, 80)!r}: use letters, digits, _ and -"
                )
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if not is_number or not math.isfinite(value):
                raise AppFailed(f"the app printed a PERFGATE figure {key!r} that is not a finite number: {value!r}")
            metrics[key] = float(value)
    return metrics


def stderr_tail(stderr: str, lines: int = STDERR_TAIL_LINES) -> tuple[str, ...]:
    """The last non-blank lines of the app's stderr, where its error usually is."""
    kept = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    return tuple(kept[-lines:])


def one_line(tail: Sequence[str], limit: int = MESSAGE_TAIL_CHARS) -> str:
    """stderr lines as one line for a failure message, keeping the end when it is long."""
    text = " | ".join(" ".join(line.split()) for line in tail)
    return text if len(text) <= limit else f"…{text[-(limit - 1) :]}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


@dataclass(frozen=True)
class AppRun:
    """What one execution of the command left behind (before it is judged)."""

    command: str  # shell-quoted, for messages
    returncode: int | None  # None when it was killed at the timeout
    wall_ns: int
    stdout: str
    stderr: str
    timed_out: bool
    timeout_s: float
    memory: MemoryPeaks | None
    records: tuple[ProxyRecordLike, ...] = field(default=())


@dataclass(frozen=True)
class AppMeasurement:
    """One run of an app scenario: its sample, and what its first LLM request sent (for the fingerprint)."""

    sample: Sample
    model: str | None
    prompt_sha256: str | None
    options_sha256: str | None
    llm_requests: int


def first_llm_request(records: Sequence[ProxyRecordLike]) -> ProxyRecordLike:
    """The run's first LLM request that streamed content (by start time); the failure that explains its absence.

    A request with no content at all (Ollama's empty-prompt preload, a load or
    unload call) is not the app's answer, so a later one is taken; when none
    streamed content, the first LLM request is used as it is.
    """
    llm = sorted((r for r in records if r.is_llm_request), key=lambda r: r.started_ns)
    if not llm:
        seen = sorted({r.path for r in records})
        also = f" (it requested only {', '.join(seen[:5])})" if seen else ""
        raise AppNoRequest(f"the app made no LLM request through perfgate's proxy{also}")
    for record in llm:
        if record.observation is not None and record.observation.first_content_ns is not None:
            return record
    for record in llm:
        if record.observation is not None:
            return record
    failed = llm[0]
    detail = failed.error or (f"HTTP {failed.status}" if failed.status is not None else "no response")
    where = f"{failed.path} (model {failed.model!r})" if failed.model else failed.path
    if failed.status == 404:
        raise ModelMissing(f"model missing: the runtime answered the app's request to {where} with 404: {detail}")
    error = _RUNTIME_ERRORS.get(failed.error_kind, RuntimeFailure) if failed.error_kind else RuntimeFailure
    raise error(f"the app's request to {where} failed: {_clip(detail, 300)}")


# A failed request the app shrugged off (it still exited 0) is the runtime's failure, of the proxy's kind.
_RUNTIME_ERRORS: dict[Kind, type[CouldNotMeasure]] = {
    Kind.RUNTIME_UNAVAILABLE: RuntimeUnavailable,
    Kind.MODEL_MISSING: ModelMissing,
    Kind.RUNTIME_ERROR: RuntimeFailure,
    Kind.STREAM_TRUNCATED: StreamTruncated,
    Kind.TIMEOUT: RuntimeTimeout,
    Kind.PROTOCOL_ERROR: ProtocolError,
}


def judge(run: AppRun, *, iteration: int, cold_load_ms: float) -> AppMeasurement:
    """A sample from one run, or the failure it was: timeout, non-zero exit, bad PERFGATE line, no LLM request."""
    tail = stderr_tail(run.stderr)
    said = f": {one_line(tail)}" if tail else " (nothing on stderr)"
    if run.timed_out:
        raise AppTimeout(f"app command did not end within {run.timeout_s:g} s and was killed: {run.command}{said}")
    if run.returncode is not None and run.returncode < 0:  # POSIX: killed by a signal (a crash, the OOM killer)
        raise AppFailed(f"app command was killed by signal {-run.returncode}: {run.command}{said}")
    if run.returncode != 0:
        raise AppFailed(f"app command exited with {run.returncode}: {run.command}{said}")
    app_metrics = parse_metric_lines(run.stdout)
    record = first_llm_request(run.records)
    observation = record.observation
    if observation is None:  # first_llm_request returns only requests with an observation
        raise CouldNotMeasure(f"the app's request to {record.path} has no observation")
    sample = build_sample(observation, iteration=iteration, memory=run.memory, cold_load_ms=cold_load_ms)
    sample = sample.model_copy(update={"app_wall_ms": run.wall_ns / 1_000_000, "app_metrics": app_metrics})
    return AppMeasurement(
        sample=sample,
        model=record.model,
        prompt_sha256=record.prompt_sha256,
        options_sha256=record.options_sha256,
        llm_requests=sum(1 for r in run.records if r.is_llm_request),
    )


# --------------------------------------------------------------------------- running the command


def kill_tree(pid: int) -> None:
    """Kill a process, every descendant, and its process group (it was started in a session of its own)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    if hasattr(os, "killpg"):
        # Descendants whose parent already died were re-parented out of the tree, but not out of the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


class AppRunner:
    """Runs an app scenario's command, once per run, in the current directory, through the proxy."""

    def __init__(
        self,
        proxy: RecordSource,
        *,
        cwd: Path | None = None,
        base_env: Mapping[str, str] | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self.proxy = proxy
        self.cwd = cwd
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._clock = clock

    def measure(
        self, command: Sequence[str], *, timeout_s: float, sampler: AppSampler, iteration: int, cold_load_ms: float
    ) -> AppMeasurement:
        """Run the command once and judge the run (raises the CouldNotMeasure it was)."""
        return judge(
            self.run(command, timeout_s=timeout_s, sampler=sampler), iteration=iteration, cold_load_ms=cold_load_ms
        )

    def run(self, command: Sequence[str], *, timeout_s: float, sampler: AppSampler) -> AppRun:
        """Start the command, watch its tree until it ends (or kill it at the timeout), collect the proxy's records."""
        argv = expand_command(command, self.proxy.url)
        env = {**self._base_env, **proxy_env(self.proxy)}
        self.proxy.take_records()  # anything left from before this run is not this run's
        timed_out = False
        start = self._clock()
        try:
            # The user's own benchmark command, run as they wrote it (argv, no shell).
            proc = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,  # its own process group, so a hang can be killed as a whole
            )
        except OSError as exc:
            raise AppFailed(f"app command could not start: {shlex.join(command)}: {exc}") from exc
        try:
            sampler.watch_app(proc.pid)
            sampler.window()  # the window holds only ticks that watched the app
            try:
                stdout, stderr = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_tree(proc.pid)
                stdout, stderr = _leftover_output(proc)
            wall_ns = self._clock() - start
            memory = sampler.window()
        finally:
            sampler.watch_app(None)
            if proc.poll() is None:  # an interrupt or an error above: never leave the app running
                kill_tree(proc.pid)
                proc.wait()
        records = list(self.proxy.take_records())
        if not timed_out and proc.returncode == 0 and not any(r.is_llm_request for r in records):
            records += self._late_records()
        return AppRun(
            command=shlex.join(command),
            returncode=None if timed_out else proc.returncode,
            wall_ns=wall_ns,
            stdout=stdout or "",
            stderr=stderr or "",
            timed_out=timed_out,
            timeout_s=timeout_s,
            memory=memory,
            records=tuple(records),
        )

    def _late_records(self) -> list[ProxyRecordLike]:
        """Records that land just after the app exited (the proxy closes its record after the last byte)."""
        deadline = time.monotonic() + NO_REQUEST_GRACE_S
        late: list[ProxyRecordLike] = []
        while time.monotonic() < deadline and not any(r.is_llm_request for r in late):
            time.sleep(0.02)
            late += self.proxy.take_records()
        return late


def _leftover_output(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """What a killed command had written; a grandchild that escaped the kill may hold a pipe, so wait briefly."""
    try:
        return proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        return "", ""
