"""macOS memory figures of one process through libproc's ``proc_pid_rusage``, via ctypes.

One call (flavor ``RUSAGE_INFO_V4``) answers three figures at once:
``ri_phys_footprint`` (Activity Monitor's "Memory": the process's own dirty and
compressed pages, *not* clean file-backed pages such as Ollama's mmap'd
weights), ``ri_resident_size`` (what the RSS column shows) and
``ri_wired_size`` (pages that cannot be paged out). XNU answers only for a
process of the caller's own user (or root): for another user's process the
call fails with EPERM, which is raised as ``RusageDenied`` so the caller can
say whose process it is, never read as 0.

Importable and testable on any platform: libproc is loaded lazily, on darwin only.
"""

from __future__ import annotations

import ctypes
import errno
import sys
from collections.abc import Callable
from typing import NamedTuple, Protocol


class MacMemory(NamedTuple):
    """One process's figures from one ``proc_pid_rusage`` call, in bytes."""

    footprint: int  # ri_phys_footprint
    resident: int  # ri_resident_size
    wired: int  # ri_wired_size


class RusageDenied(PermissionError):
    """``proc_pid_rusage`` refused the process (EPERM): it belongs to another user."""

    def __init__(self, pid: int) -> None:
        super().__init__(errno.EPERM, f"proc_pid_rusage({pid}) denied: the process belongs to another user")
        self.pid = pid


class FootprintReader(Protocol):
    """Reads one process's macOS memory figures; None when it is gone; raises ``RusageDenied`` on EPERM."""

    def __call__(self, pid: int) -> MacMemory | None: ...


RUSAGE_INFO_V4 = 4

_U64 = ctypes.c_uint64


class RusageInfoV4(ctypes.Structure):
    """``struct rusage_info_v4`` from Apple's <sys/resource.h>, fields in header order."""

    _fields_ = (
        ("ri_uuid", ctypes.c_uint8 * 16),
        ("ri_user_time", _U64),
        ("ri_system_time", _U64),
        ("ri_pkg_idle_wkups", _U64),
        ("ri_interrupt_wkups", _U64),
        ("ri_pageins", _U64),
        ("ri_wired_size", _U64),
        ("ri_resident_size", _U64),
        ("ri_phys_footprint", _U64),
        ("ri_proc_start_abstime", _U64),
        ("ri_proc_exit_abstime", _U64),
        ("ri_child_user_time", _U64),
        ("ri_child_system_time", _U64),
        ("ri_child_pkg_idle_wkups", _U64),
        ("ri_child_interrupt_wkups", _U64),
        ("ri_child_pageins", _U64),
        ("ri_child_elapsed_abstime", _U64),
        ("ri_diskio_bytesread", _U64),
        ("ri_diskio_byteswritten", _U64),
        ("ri_cpu_time_qos_default", _U64),
        ("ri_cpu_time_qos_maintenance", _U64),
        ("ri_cpu_time_qos_background", _U64),
        ("ri_cpu_time_qos_utility", _U64),
        ("ri_cpu_time_qos_legacy", _U64),
        ("ri_cpu_time_qos_user_initiated", _U64),
        ("ri_cpu_time_qos_user_interactive", _U64),
        ("ri_billed_system_time", _U64),
        ("ri_serviced_system_time", _U64),
        ("ri_logical_writes", _U64),
        ("ri_lifetime_max_phys_footprint", _U64),
        ("ri_instructions", _U64),
        ("ri_cycles", _U64),
        ("ri_billed_energy", _U64),
        ("ri_serviced_energy", _U64),
        ("ri_interval_max_phys_footprint", _U64),
        ("ri_runnable_time", _U64),
    )


ProcPidRusage = Callable[[int, int, int], int]
"""``proc_pid_rusage(pid, flavor, buffer_address) -> 0 | -1``, as libproc exports it."""

LIBPROC_PATH = "/usr/lib/libproc.dylib"


def _load_proc_pid_rusage() -> ProcPidRusage | None:
    # Only macOS has libproc; elsewhere there is nothing to load, and trying
    # would make the import (or ldconfig lookups) platform-dependent.
    if sys.platform != "darwin":
        return None
    try:
        libproc = ctypes.CDLL(LIBPROC_PATH, use_errno=True)
        func = libproc.proc_pid_rusage
    except (OSError, AttributeError):
        return None
    func.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
    func.restype = ctypes.c_int
    reader: ProcPidRusage = func
    return reader


class MacFootprintReader:
    """Footprint, resident and wired size via ``proc_pid_rusage(pid, RUSAGE_INFO_V4)``.

    No root is needed for the user's own processes; another user's raises
    ``RusageDenied``. libproc is loaded on the first call, so the class
    imports (and is testable with an injected function, e.g. a fake libproc's
    ``proc_pid_rusage`` that sets errno with ``ctypes.set_errno``) on any platform.
    """

    def __init__(self, proc_pid_rusage: ProcPidRusage | None = None) -> None:
        self._func = proc_pid_rusage
        self._loaded = proc_pid_rusage is not None

    def __call__(self, pid: int) -> MacMemory | None:
        if not self._loaded:
            self._func = _load_proc_pid_rusage()
            self._loaded = True
        if self._func is None:
            return None
        info = RusageInfoV4()
        ctypes.set_errno(0)
        if self._func(pid, RUSAGE_INFO_V4, ctypes.addressof(info)) != 0:
            # libproc is loaded with use_errno=True, so ctypes holds the call's errno.
            if ctypes.get_errno() == errno.EPERM:
                raise RusageDenied(pid)
            return None  # ESRCH: the process is gone
        return MacMemory(int(info.ri_phys_footprint), int(info.ri_resident_size), int(info.ri_wired_size))


def default_footprint_reader() -> FootprintReader | None:
    """The macOS reader on darwin; None elsewhere (phys_footprint is a macOS notion)."""
    return MacFootprintReader() if sys.platform == "darwin" else None
