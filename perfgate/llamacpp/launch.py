"""Start llama.cpp's server on a GGUF in a child process, and the client that talks to it.

The server runs in its own process (:mod:`perfgate.llamacpp.server`) so its
memory is a process tree apart from the harness, which samples it by PID.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import sys
from pathlib import Path

import httpx
import psutil

from perfgate.childproc import ChildServer, read_line
from perfgate.config import PerfgateConfig
from perfgate.contracts.results import RuntimeInfo
from perfgate.errors import MissingExtraError, RuntimeFailure, RuntimeTimeout, UsageError
from perfgate.llamacpp.model import MISSING_EXTRA, ModelFile, default_cache_dir, ensure_model, file_sha256
from perfgate.llamacpp.server import FAILED, LOAD, LOADED, READY_PREFIX, UNLOAD, UNLOADED
from perfgate.runtimes.base import DEFAULT_CLOCK, Clock
from perfgate.runtimes.openai import OpenAIClient

READY_PATTERN = re.compile(rf"^{re.escape(READY_PREFIX)}(http://\S+)\s*$")


class LlamaCppProcess(ChildServer):
    """``python -m perfgate.llamacpp.server`` serving one GGUF; a context manager that never leaves orphans."""

    ready_pattern = READY_PATTERN
    runtime_name = "llama.cpp runtime"
    program_name = "`python -m perfgate.llamacpp.server`"
    # The child exits at end of stdin: the launcher dying, even by SIGKILL, stops it.
    stdin_pipe = True

    def __init__(
        self,
        model_path: Path,
        alias: str,
        *,
        ctx: int = 4096,
        threads: int | None = None,
        port: int = 0,
        cache_prompt: bool = False,
        startup_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(startup_timeout_s=startup_timeout_s)
        self.model_path = model_path
        self.alias = alias
        self.ctx = ctx
        self.threads = threads
        self.port = port
        self.cache_prompt = cache_prompt

    def argv(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "perfgate.llamacpp.server",
            "--model",
            str(self.model_path),
            "--alias",
            self.alias,
            "--port",
            str(self.port),
            "--ctx",
            str(self.ctx),
            "--stop-on-stdin-eof",
        ]
        if self.threads is not None:
            argv += ["--threads", str(self.threads)]
        if self.cache_prompt:
            argv.append("--cache-prompt")
        return argv

    # -- cold starts: the server stopped and started again in the same process, on the same port

    def unload_model(self, timeout_s: float) -> None:
        """Stop the server inside its process: the model leaves memory; the process (sampled by PID) stays."""
        self._command(UNLOAD, UNLOADED, timeout_s)

    def load_model(self) -> int:
        """Start the server again on its port; the nanoseconds from its start to ``/health`` ok."""
        answer = self._command(LOAD, LOADED, self.startup_timeout_s)
        try:
            return int(answer)
        except ValueError:
            raise RuntimeFailure(f"{self.runtime_name}: load answered {answer[:80]!r}, not a duration") from None

    def _command(self, command: str, expected: str, timeout_s: float) -> str:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        try:
            proc.stdin.write(f"{command}\n".encode())
            proc.stdin.flush()
        except OSError as exc:  # a broken pipe: the server process is gone
            raise RuntimeFailure(f"{self.runtime_name} is gone: cannot ask it to {command} ({exc})") from exc
        line = read_line(proc.stdout.fileno(), timeout_s).decode("utf-8", "replace").strip()
        word, _, rest = line.partition(" ")
        if word == expected:
            return rest
        if not line:
            if proc.poll() is not None:
                raise RuntimeFailure(f"{self.runtime_name} exited (code {proc.returncode}) when asked to {command}")
            raise RuntimeTimeout(f"{self.runtime_name} did not {command} its model within {timeout_s:g} s")
        reason = rest if word == FAILED else repr(line[:200])
        raise RuntimeFailure(f"{self.runtime_name} could not {command} its model: {reason}")


class LlamaCppClient(OpenAIClient):
    """The OpenAI-compatible client, naming the runtime perfgate started and the exact model file it serves."""

    kind = "llamacpp"
    sends_num_ctx = True  # perfgate starts the server with the largest num_ctx of the scenarios

    def __init__(
        self,
        http: httpx.Client,
        *,
        base_url: str,
        model: str,
        model_file: ModelFile,
        server: LlamaCppProcess | None = None,
        preflight_timeout_s: float = 3.0,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        super().__init__(
            http,
            base_url=base_url,
            model=model,
            preflight_timeout_s=preflight_timeout_s,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            clock=clock,
        )
        self.model_file = model_file
        self.server = server

    def unload_model(self, timeout_s: float) -> None:
        """Cold starts: stop the server perfgate started (llama.cpp loads the model when its server starts)."""
        self._started_server().unload_model(timeout_s)

    def load_model(self) -> int | None:
        return self._started_server().load_model()

    def _started_server(self) -> LlamaCppProcess:
        if self.server is None:
            raise UsageError("a cold start on llama.cpp needs the server perfgate starts (runtime.kind = 'llamacpp')")
        return self.server

    def preflight(self) -> RuntimeInfo:
        info = super().preflight()
        # llama.cpp's build_info of the wheel is "b0-unknown" whatever its
        # version, so the wheel's version is what tells two runtimes apart.
        version = f"xllamacpp {_xllamacpp_version()}" + (f" ({info.version})" if info.version else "")
        return info.model_copy(
            update={
                "version": version,
                "model_digest": self.model_file.sha256,
                "quantization": "F32" if self.model_file.size is not None else None,
            }
        )


def require_xllamacpp() -> None:
    """Refuse (exit 2) before starting anything when the extra is not installed."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise MissingExtraError(MISSING_EXTRA)


def _xllamacpp_version() -> str:
    try:
        return importlib.metadata.version("xllamacpp")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def resolve_model(config: PerfgateConfig) -> ModelFile:
    """The user's ``runtime.gguf`` if set, else the generated ``runtime.model_size`` model (cached)."""
    rt = config.runtime
    if rt.gguf is not None:
        path = Path(rt.gguf).expanduser()
        if not path.is_file():
            raise UsageError(f"runtime.gguf: no such file: {path}")
        try:
            digest = file_sha256(path)
        except OSError as exc:
            raise UsageError(f"runtime.gguf: cannot read {path}: {exc}") from exc
        return ModelFile(path=path.resolve(), sha256=digest, size=None)
    cache_dir = Path(rt.model_cache_dir).expanduser() if rt.model_cache_dir else default_cache_dir()
    return ensure_model(cache_dir, rt.model_size)


def served_alias(config: PerfgateConfig, model_file: ModelFile) -> str:
    """``runtime.model`` when it was configured, else a name derived from the model file."""
    rt = config.runtime
    return rt.model if "model" in rt.model_fields_set else model_file.alias


def harness_friendly_threads() -> int | None:
    """CPU threads for the server: llama.cpp's own choice unless that would take every CPU.

    llama.cpp defaults to one thread per physical core, which on a VM
    without hyper-threads is every CPU. Its threads meet at a spinning
    barrier after each layer, so when anything else needs a CPU -- the
    harness reading the stream, the memory sampler, another job -- one
    descheduled thread stalls them all: on a 2-CPU machine with one busy
    neighbour the small model fell from ~550 to ~150 tok/s with 2 threads
    but held ~550 with 1. So on such machines one CPU is left to the rest.
    """
    logical = os.cpu_count() or 1
    physical = psutil.cpu_count(logical=False) or logical
    if physical < logical:
        return None  # llama.cpp takes the physical cores and leaves the hyper-threads free
    return max(1, logical - 1)


def context_size(config: PerfgateConfig) -> int:
    """The server's n_ctx: the largest context any configured scenario asks for."""
    return max((scenario.num_ctx for scenario in config.scenarios.values()), default=4096)
