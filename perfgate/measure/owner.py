"""Whose process the runtime is, and whether perfgate may read its memory.

macOS lets a process read another's memory figures (``proc_pid_rusage``,
psutil's ``memory_info``, its command line and environment) only when both
run as the same user, or as root. A runtime started by Ollama.app or
``brew services`` under the logged-in user, measured by a runner under a
service user, is exactly that case: the figures cannot be read. This module
turns it into one line that names both users and the fix, instead of a
silent 0 or a bare "access denied".

Public, for ``perfgate doctor`` too: ``process_owner``, ``current_user``,
``other_user_message``, ``memory_access_problem``.
"""

from __future__ import annotations

import os
import pwd
import sys
from collections.abc import Callable

import psutil

DOCS_HINT = "docs/ci-setup.md"


def user_name(uid: int) -> str:
    """The login name of ``uid`` (the number itself when the user database has none)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def process_owner(pid: int) -> str | None:
    """The user process ``pid`` runs as (its real uid), or None when it is gone.

    The uid comes from the process table (``sysctl kern.proc.pid`` on macOS,
    ``/proc/PID/status`` on Linux), which any user may read.
    """
    try:
        uid = psutil.Process(pid).uids().real
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return user_name(uid)


def current_user() -> str:
    """The user perfgate runs as."""
    return user_name(os.getuid())


def other_user_message(pid: int, owner: str, me: str) -> str:
    """The one line perfgate says when the runtime belongs to another user."""
    return (
        f"runtime PID {pid} runs as user {owner}, perfgate as {me}: memory cannot be read; run the runner as "
        f"the runtime's user or the runtime under the runner's user, or set runtime.memory_helper (perfgate-rusage "
        f"through sudo) — see {DOCS_HINT}"
    )


def denied_message(pid: int, *, owner_of: Callable[[int], str | None] | None = None, me: str | None = None) -> str:
    """Why reading ``pid``'s memory was refused: another user's process, named, or (same user) the bare refusal."""
    me = current_user() if me is None else me
    owner = (owner_of or process_owner)(pid)
    if owner is not None and owner != me:
        return other_user_message(pid, owner, me)
    return f"access denied to runtime process {pid} (perfgate and the runtime both run as {me}; is it sandboxed?)"


def memory_access_problem(
    pid: int,
    *,
    owner_of: Callable[[int], str | None] | None = None,
    me: str | None = None,
    is_root: bool | None = None,
    platform_name: str | None = None,
) -> str | None:
    """The other-user line when ``pid`` runs as another user and perfgate is not root; None when readable.

    A check made before measuring (and by ``perfgate doctor``): the reads
    themselves raise on the first sample, this says why before any. Only on
    macOS: Linux lets any user read another's RSS (``/proc/PID/statm``).
    """
    if (platform_name or sys.platform) != "darwin":
        return None
    if (os.geteuid() == 0) if is_root is None else is_root:
        return None
    me = current_user() if me is None else me
    owner = (owner_of or process_owner)(pid)
    if owner is None or owner == me:
        return None
    return other_user_message(pid, owner, me)
