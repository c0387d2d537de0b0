"""The runtime's memory read through ``perfgate-rusage`` when it runs as another user.

macOS lets a process read another's memory only when both run as the same
user, or as root (``owner.py``). The recommended runner keeps Ollama under its
own user (docs/ci-setup.md, step 2), so the sampler cannot read it in
process. ``tools/perfgate-rusage`` is a small stdlib-only script installed
root-owned and allowed by one sudoers rule; it takes only ``PID INTERVAL_MS``,
reads that runtime's process tree, and writes one JSON line per sample:

    {"t": 812.5, "procs": [{"pid": 812, "rss": 1, "footprint": 1, "resident": 1, "wired": 0, "hwm": null}]}

The sampler starts it once per run, as a child (``sudo -n HELPER PID MS``),
and reads its lines in its own thread; closing its stdin ends it. Any byte
written to its stdin asks for a sample now, so a tick never waits a whole
interval. The figures are the in-process path's: RSS, and on macOS footprint,
resident and wired, each summed over the tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from perfgate.config import RuntimeConfig
from perfgate.measure.footprint import MacMemory
from perfgate.measure.owner import current_user

DEFAULT_VIA = ("/usr/bin/sudo", "-n")
MIN_INTERVAL_MS, MAX_INTERVAL_MS = 10, 1000  # what the helper accepts
MAX_LINE = 1 << 16  # a tree of 64 processes is ~8 KB; more is not the helper talking
STARTUP_S = 10.0  # sudo and a cold Python interpreter, on a busy machine
DOCS = "docs/ci-setup.md step 2b"


class HelperFailed(Exception):
    """The helper could not start, refused, ended or spoke out of protocol: ``str()`` is the one-line reason.

    Internal to the measure layer: the sampler turns it into the memory's
    ``unavailable_reason``; it never reaches a user as an exception.
    """


@dataclass(frozen=True)
class HelperReading:
    """One helper line: the tree's members and their figures summed, in bytes."""

    t: float  # the helper's time.monotonic(), the same clock as perfgate's on one machine
    pids: tuple[int, ...]
    rss: int
    mac: MacMemory | None  # footprint, resident, wired (macOS); None when the helper read none


class HelperSource(Protocol):
    """A started helper as the sampler uses it (``MemoryHelper``; a fake in unit tests)."""

    def readings(self) -> list[HelperReading]: ...
    def close(self) -> None: ...


class HelperStarter(Protocol):
    """Starts a helper for one runtime PID (``HelperSpec``; a fake in unit tests); raises HelperFailed."""

    def start(self, pid: int, interval_s: float) -> HelperSource: ...


def helper_interval_ms(interval_s: float) -> int:
    """The sampler's interval as the helper takes it: whole milliseconds, 10 to 1000."""
    return min(MAX_INTERVAL_MS, max(MIN_INTERVAL_MS, round(interval_s * 1000)))


def sudoers_line(helper: str, user: str | None = None) -> str:
    """The sudoers rule that allows exactly the helper, without a password, as root."""
    return f"{user or current_user()} ALL=(root) NOPASSWD: {helper}"


def _count(value: object, what: str) -> int:
    if type(value) is not int or value < 0:  # bool is not a figure
        raise HelperFailed(f"memory helper sent {what}={value!r}, not a byte count")
    return value


def parse_line(line: bytes) -> HelperReading:
    """A helper line as a reading; HelperFailed names what is wrong with it."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise HelperFailed(f"memory helper sent a line that is not JSON: {line[:80]!r}") from exc
    procs = data.get("procs") if isinstance(data, dict) else None
    t = data.get("t") if isinstance(data, dict) else None
    if not isinstance(procs, list) or not procs or not isinstance(t, int | float) or isinstance(t, bool):
        raise HelperFailed(f"memory helper sent a line without 't' and 'procs': {line[:80]!r}")
    pids: list[int] = []
    rss = 0
    mac: list[int] | None = [0, 0, 0]
    for proc in procs:
        if not isinstance(proc, dict):
            raise HelperFailed(f"memory helper sent a process that is not an object: {proc!r:.80}")
        pids.append(_count(proc.get("pid"), "pid"))
        rss += _count(proc.get("rss"), "rss")
        figures = [proc.get(key) for key in ("footprint", "resident", "wired")]
        if mac is None or any(value is None for value in figures):
            mac = None  # an incomplete sum is not the tree's figure (as in process)
        else:
            mac = [
                total + _count(value, key) for total, value, key in zip(mac, figures, MacMemory._fields, strict=True)
            ]
    return HelperReading(float(t), tuple(pids), rss, None if mac is None else MacMemory(*mac))


def failure_message(argv: Sequence[str], helper: str, returncode: int | None, stderr: str) -> str:
    """Why the helper stopped, in one line; a sudo refusal names the sudoers rule to add."""
    said = next((line.strip() for line in stderr.splitlines() if line.strip()), "")
    if said.startswith("sudo:") or (returncode not in (None, 0) and Path(argv[0]).name == "sudo" and not said):
        return (
            f"sudo refused to run the memory helper {helper} ({said or f'exit {returncode}'}); allow it with "
            f"/etc/sudoers.d/perfgate: '{sudoers_line(helper)}' — see {DOCS}"
        )
    said = said.removeprefix("perfgate-rusage: ")
    if returncode == 0 and said.startswith("process ") and said.endswith(" ended"):
        return f"runtime {said.removesuffix(' ended')} exited"  # as the in-process sampler says it
    return f"memory helper {helper} stopped (exit {returncode}): {said or 'no reason given'} — see {DOCS}"


@dataclass(frozen=True)
class HelperSpec:
    """How to start the helper: ``via`` (default ``sudo -n``) then ``path PID INTERVAL_MS``."""

    path: str
    via: tuple[str, ...] = DEFAULT_VIA

    def argv(self, pid: int, interval_s: float) -> list[str]:
        return [*self.via, self.path, str(pid), str(helper_interval_ms(interval_s))]

    def start(self, pid: int, interval_s: float) -> MemoryHelper:
        return MemoryHelper(self.argv(pid, interval_s), helper=self.path, interval_s=interval_s)


def helper_spec(runtime: RuntimeConfig) -> HelperSpec | None:
    """The configured helper (``runtime.memory_helper``), or None."""
    if runtime.memory_helper is None:
        return None
    return HelperSpec(runtime.memory_helper, runtime.memory_helper_via)


class MemoryHelper:
    """One running helper: ``readings()`` drains its lines, ``close()`` ends it."""

    def __init__(self, argv: Sequence[str], *, helper: str, interval_s: float) -> None:
        self._argv = list(argv)
        self._helper = helper
        self._wait_s = 2 * helper_interval_ms(interval_s) / 1000 + 1.0
        self._buffer = b""
        self._started = False  # a first line has come
        try:
            self._proc = subprocess.Popen(
                self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise HelperFailed(f"cannot start the memory helper ({' '.join(self._argv)}): {exc}") from exc
        assert self._proc.stdout is not None  # stdout=PIPE above
        self._fd = self._proc.stdout.fileno()

    def readings(self) -> list[HelperReading]:
        """The lines sent since the last call, or (none yet) the next one; HelperFailed when it has stopped."""
        lines = self._drain(0.0)
        if not lines:
            self._ask()
            lines = self._drain(self._wait_s if self._started else STARTUP_S)
        if not lines:
            raise HelperFailed(f"memory helper {self._helper} sent no sample for {self._wait_s:.1f} s")
        self._started = True
        return [parse_line(line) for line in lines]

    def _ask(self) -> None:
        try:
            assert self._proc.stdin is not None  # stdin=PIPE above
            self._proc.stdin.write(b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it has ended: the read below says why

    def _drain(self, timeout_s: float) -> list[bytes]:
        deadline = time.monotonic() + timeout_s
        while True:
            ready, _, _ = select.select([self._fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(self._fd, 65536)
            if not chunk:
                raise HelperFailed(self._stopped())
            self._buffer += chunk
            if b"\n" in self._buffer:
                break
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > MAX_LINE:
            raise HelperFailed(f"memory helper {self._helper} sent a line longer than {MAX_LINE} bytes")
        return [line for line in lines if line.strip()]

    def _stopped(self) -> str:
        try:
            returncode: int | None = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            returncode = None
        stderr = b""
        if returncode is not None and self._proc.stderr is not None:
            stderr = self._proc.stderr.read(4096)
        return failure_message(self._argv, self._helper, returncode, stderr.decode("utf-8", "replace"))

    def close(self) -> None:
        """Close its stdin (it ends within one interval); kill it if it does not."""
        proc = self._proc
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):  # already broken: nothing more to say to it
                    stream.close()
        try:
            proc.wait(timeout=self._wait_s + 1)
        except subprocess.TimeoutExpired:
            # Under sudo the helper is root's and cannot be signalled by us; sudo relays the kill.
            proc.kill()
            proc.wait()
