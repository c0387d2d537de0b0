"""``nox -s maccheck``: print every host fact, memory figure and Ollama field perfgate reads, for a new runner.

A maintainer runs it once on a new (or misbehaving) Mac, as the runner's user,
and reads what perfgate would record: every fact from its absolute-path
command (or "unknown"), the Ollama server's process tree with footprint,
RSS, resident and wired size, whose process it is, its ``OLLAMA_*``
settings, and the fields of ``/api/version``, ``/api/tags`` and ``/api/ps``.
On another OS it says so and exits 0: the facts are macOS ones.

Usage: ``python tools/maccheck.py [BASE_URL]`` (default http://127.0.0.1:11434). A
maintainer's script, not part of the package: it prints, which perfgate's own
modules leave to the CLI.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator

import httpx
import psutil

from perfgate.errors import MemoryUnavailable
from perfgate.measure.footprint import MacFootprintReader, RusageDenied
from perfgate.measure.host import probe_host, run_command
from perfgate.measure.locate import locate_runtime
from perfgate.measure.macos import PS, missing_host_commands, parse_ps_user, read_thermal_state, show
from perfgate.measure.owner import current_user, memory_access_problem, process_owner
from perfgate.measure.runtime_identity import read_runtime_settings

DEFAULT_URL = "http://127.0.0.1:11434"
MIB = 2**20


def host_lines() -> Iterator[str]:
    host = probe_host()
    for field, value in host.model_dump().items():
        yield f"host.{field:<20} {show(value)}"
    yield f"host.{'thermal_now':<20} {show(read_thermal_state(run_command))}"
    missing = missing_host_commands()
    yield f"host.{'missing_commands':<20} {', '.join(missing) if missing else 'none'}"


def _memory(pid: int, reader: MacFootprintReader) -> str:
    try:
        rss = psutil.Process(pid).memory_info().rss
    except psutil.Error as exc:
        return f"RSS unreadable ({type(exc).__name__})"
    try:
        mac = reader(pid)
    except RusageDenied:
        return f"rss {rss / MIB:.1f} MB; proc_pid_rusage denied (EPERM)"
    if mac is None:
        return f"rss {rss / MIB:.1f} MB; proc_pid_rusage: process gone"
    return (
        f"rss {rss / MIB:.1f} MB, footprint {mac.footprint / MIB:.1f} MB, resident {mac.resident / MIB:.1f} MB, "
        f"wired {mac.wired / MIB:.1f} MB"
    )


def runtime_lines(base_url: str) -> Iterator[str]:
    try:
        pid = locate_runtime(base_url, process_name="ollama", access_problem=lambda _pid: None)
    except MemoryUnavailable as exc:
        yield f"runtime.process          not found: {exc}"
        return
    yield f"runtime.pid              {pid} (user {show(process_owner(pid))}; perfgate runs as {current_user()})"
    yield f"runtime.ps_user          {show(parse_ps_user(run_command((PS, '-o', 'user=', '-p', str(pid)))))}"
    problem = memory_access_problem(pid)
    yield f"runtime.memory_readable  {'yes' if problem is None else problem}"
    for key, value in (read_runtime_settings("ollama", pid) or {}).items():
        yield f"runtime.setting          {key}={value}"
    reader = MacFootprintReader()
    try:
        tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error as exc:
        yield f"runtime.tree             unreadable ({type(exc).__name__})"
        return
    for proc in tree:
        try:
            name = proc.name()
        except psutil.Error:
            name = "?"
        yield f"runtime.memory           {proc.pid} {name}: {_memory(proc.pid, reader)}"


def ollama_lines(base_url: str, get: Callable[[str], object]) -> Iterator[str]:
    for path in ("/api/version", "/api/tags", "/api/ps"):
        try:
            body = get(f"{base_url.rstrip('/')}{path}")
        except httpx.HTTPError as exc:
            yield f"ollama{path:<19} unreachable: {exc}"
            continue
        yield f"ollama{path:<19} {json.dumps(body, sort_keys=True)}"


def _get_json(url: str) -> object:
    response = httpx.get(url, timeout=5.0)
    response.raise_for_status()
    return response.json()


def main(argv: list[str] | None = None, *, platform_name: str | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    base_url = args[0] if args else DEFAULT_URL
    name = platform_name or sys.platform
    if name != "darwin":
        print(f"maccheck: this is {name}, not macOS; the facts it prints are a Mac's (nothing to check here)")
        return 0
    for line in (*host_lines(), *runtime_lines(base_url), *ollama_lines(base_url, _get_json)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
