"""The standard streams perfgate prints to, made safe for a reader that leaves early (``| head -1``)."""

from __future__ import annotations

import io
import os
from typing import TextIO, cast

from typing_extensions import Buffer


class _UntilReaderLeaves(io.BufferedIOBase):
    """A standard stream's descriptor whose writes are dropped once its reader has gone (EPIPE).

    ``perfgate compare … | head -1``: head exits after one line, and the next
    write fails with EPIPE (Python ignores SIGPIPE). A classic filter dies of
    SIGPIPE there; perfgate has files to finish and a verdict to exit with, so
    it stops printing, finishes, and exits with its own code, without a word
    about the pipe. Unbuffered, like a progress line needs.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.reader_gone = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: Buffer) -> int:
        view = memoryview(data).cast("B")
        total = view.nbytes
        while view.nbytes and not self.reader_gone:
            try:
                view = view[os.write(self._fd, view) :]
            except BrokenPipeError:
                self.reader_gone = True
        return total


def until_reader_leaves(stream: TextIO) -> TextIO:
    """``stream`` (stdout, stderr) written straight to its descriptor, quietly dropped once its reader is gone."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError):  # a test's capture buffer has no descriptor, and no reader to lose
        return stream
    stream.flush()
    raw = cast("io.BufferedWriter", _UntilReaderLeaves(fd))  # typeshed wants a buffered writer; this is one
    return io.TextIOWrapper(raw, encoding=stream.encoding, errors=stream.errors, write_through=True)
