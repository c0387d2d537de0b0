"""Finding the runtime process to sample: by PID, by the port it listens on, or by name."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Callable
from pathlib import PurePath
from urllib.parse import urlsplit

import psutil

from perfgate.errors import MemoryUnavailable
from perfgate.measure.memory import DENIED, GONE
from perfgate.measure.owner import memory_access_problem

_Targets = set[ipaddress.IPv4Address | ipaddress.IPv6Address]


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _target_addresses(host: str) -> tuple[_Targets, bool]:
    """Addresses the URL host stands for, and whether it is this machine."""
    local_ips = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    try:
        for addrs in psutil.net_if_addrs().values():
            for addr in addrs:
                try:
                    local_ips.add(ipaddress.ip_address(addr.address.split("%", maxsplit=1)[0]))
                except ValueError:
                    continue  # MAC addresses and the like
    except OSError:
        pass  # interface list unreadable: loopback still counts as local
    if host.lower() in {"localhost", ""}:
        targets = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    else:
        try:
            targets = {ipaddress.ip_address(host)}
        except ValueError:
            # A hostname: resolve it to see whether it is one of ours; a DNS
            # failure simply means "not local".
            try:
                infos = socket.getaddrinfo(host, None)
            except OSError:
                infos = []
            targets = {ipaddress.ip_address(str(info[4][0]).split("%", maxsplit=1)[0]) for info in infos}
    is_local = any(t.is_loopback or t in local_ips or t.is_unspecified for t in targets)
    return targets, is_local


def _serves(status: str, laddr: tuple[str, int] | tuple[()], want_port: int, targets: _Targets) -> bool:
    """Whether a socket is a listener that answers ``targets:want_port``."""
    if status != psutil.CONN_LISTEN or not laddr:
        return False
    ip, port = laddr
    if port != want_port:
        return False
    try:
        addr = ipaddress.ip_address(ip.split("%", maxsplit=1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    # A wildcard listener (0.0.0.0 / ::) serves every local address.
    if addr.is_unspecified or addr in targets:
        return True
    # localhost may resolve to ::1 while the server bound 127.0.0.1 (or vice versa).
    return addr.is_loopback and any(t.is_loopback for t in targets)


def _listening_pids(want_port: int, targets: _Targets) -> set[int]:
    try:
        # One system-wide call where allowed (Linux); macOS needs root for it.
        pids = {
            conn.pid
            for conn in psutil.net_connections(kind="inet")
            if conn.pid is not None and _serves(conn.status, conn.laddr, want_port, targets)
        }
        if pids:
            return pids
    except DENIED:
        pids = set()
    # Per-process fallback: sees every process of our own user without root.
    for proc in psutil.process_iter():
        try:
            conns = proc.net_connections(kind="inet")
        except (*GONE, *DENIED):
            continue
        if any(_serves(conn.status, conn.laddr, want_port, targets) for conn in conns):
            pids.add(proc.pid)
    return pids


def _named_pids(process_name: str) -> set[int]:
    wanted = process_name.lower()
    own = os.getpid()
    pids: set[int] = set()
    for proc in psutil.process_iter():
        if proc.pid == own:
            continue
        try:
            name = proc.name()
        except (*GONE, *DENIED):
            continue
        try:
            cmdline = proc.cmdline()
        except GONE:
            continue
        except DENIED:
            # Another user's process (macOS shows its command line only to its user): the name
            # alone still identifies it, and locate_runtime then says whose it is.
            cmdline = []
        # Exact name or argv[0] basename: a substring match over the whole
        # command line would also hit e.g. `perfgate run --process-name ollama`.
        argv0 = PurePath(cmdline[0]).name.lower() if cmdline else ""
        if name.lower() == wanted or argv0 == wanted:
            pids.add(proc.pid)
    return pids


def _topmost(pids: set[int]) -> int:
    """The candidate whose parent is not itself a candidate (the server, not its runner)."""

    def parent_pid(pid: int) -> int | None:
        try:
            return psutil.Process(pid).ppid()
        except GONE:
            return None

    roots = sorted(pid for pid in pids if parent_pid(pid) not in pids)
    return roots[0] if roots else min(pids)


def locate_runtime(
    base_url: str,
    *,
    pid: int | None = None,
    process_name: str | None = None,
    access_problem: Callable[[int], str | None] = memory_access_problem,
    memory_helper: bool = False,
) -> int:
    """The PID to sample: ``pid`` if given, else the listener on ``base_url``, else a process by name.

    Raises MemoryUnavailable with a one-line reason when nothing is found, or
    when the runtime found runs as another user whose memory perfgate cannot
    read (macOS), naming both users: never a silent 0. With ``memory_helper``
    (runtime.memory_helper is set) such a runtime is found: the helper reads it.
    """
    found = _find(base_url, pid, process_name)
    problem = None if memory_helper else access_problem(found)
    if problem is not None:
        raise MemoryUnavailable(problem)
    return found


def _find(base_url: str, pid: int | None, process_name: str | None) -> int:
    if pid is not None:
        if pid <= 0 or not psutil.pid_exists(pid):
            raise MemoryUnavailable(f"runtime pid {pid} does not exist")
        return pid
    parts = urlsplit(base_url if "//" in base_url else f"http://{base_url}")
    host = parts.hostname or "127.0.0.1"
    try:
        port = parts.port or _default_port(parts.scheme)
    except ValueError as exc:
        raise MemoryUnavailable(f"cannot read a port from runtime URL {base_url!r}: {exc}") from exc
    targets, is_local = _target_addresses(host)
    if is_local:
        listeners = _listening_pids(port, targets)
        if listeners:
            return _topmost(listeners)
    if process_name:
        named = _named_pids(process_name)
        if named:
            return _topmost(named)
    where = f"{host}:{port}" if is_local else f"{host}:{port} (not this machine)"
    tried_name = f" and no process named {process_name!r}" if process_name else ""
    # macOS shows a process's sockets only to its own user: another user's runtime is invisible by port.
    other_users = (
        " (on macOS another user's runtime cannot be found by its port: set runtime.process_name; see docs/ci-setup.md)"
        if sys.platform == "darwin" and is_local and not process_name
        else ""
    )
    raise MemoryUnavailable(
        f"no process found listening on {where}{tried_name}; pass --runtime-pid or set runtime.process_name"
        f"{other_users}"
    )
