"""The files a run writes: checked before anything is measured, locked against a second writer, never lost.

A measurement takes minutes and cannot be repeated for free, so ``perfgate
run`` finds out that it cannot write its results *before* measuring (exit 2,
nothing measured), refuses a second run writing the same file at the same time
(last writer would win, silently), and when writing still fails afterwards
(disk full, directory removed) puts the results in a fallback file whose path
it prints.

The lock is ``flock`` on ``<file>.lock`` next to the file: the kernel drops it
when its holder dies, however it dies, so a lock file left by a killed run is
stale by construction and simply taken over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from perfgate.errors import UsageError


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_writable(path: Path, what: str) -> None:
    """Refuse (exit 2) a file that cannot be written, before anything is measured.

    ``what`` names it as the user set it (``--out results.json``). The check is a
    real write: a probe file created and removed in the file's directory (created
    if missing), as the atomic write will need.
    """
    if path.is_dir():
        raise UsageError(f"{what}: {path} is a directory; give a file name")
    parent = path.parent
    blocker = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise UsageError(f"{what}: {blocker} is a file, not a directory; choose a writable path")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"{what}: cannot create the directory {parent} ({_reason(exc)}); choose a writable path"
        ) from exc
    try:
        handle, probe = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(handle)
        Path(probe).unlink()
    except OSError as exc:
        raise UsageError(f"{what}: cannot write in {parent} ({_reason(exc)}); choose a writable path") from exc


class OutputLock:
    """An exclusive claim on one output file for the length of a run (a context manager).

    A second claim on the same file, by another process, is refused with a
    one-line :class:`UsageError` naming the holder's PID.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self.lock_path = path.with_name(path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise UsageError(f"{self.what}: cannot create {self.lock_path} ({_reason(exc)})") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_pid(fd)
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise UsageError(f"{self.what}: cannot lock {self.lock_path} ({_reason(exc)})") from exc
                by = f" (PID {holder})" if holder else ""
                raise UsageError(
                    f"{self.what}: another perfgate run{by} is writing {self.path} (lock {self.lock_path}); "
                    "wait for it to finish or write elsewhere (--out)"
                ) from exc
            # A holder releasing just now unlinks the file we opened: then the lock is on a
            # name nobody else will open, and a fresh file must be locked instead.
            if _same_file(fd, self.lock_path):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # removed by hand: nothing to tidy
            self.lock_path.unlink()  # while still locked, so nobody locks the name being removed
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = path.stat()
    except OSError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def write_fallback(text: str, stem: str) -> Path:
    """Write ``text`` to a new file in the temporary directory ($TMPDIR); return its path (OSError if that fails)."""
    handle, name = tempfile.mkstemp(prefix=f"{stem}-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    return Path(name)
