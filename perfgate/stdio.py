"""The standard streams perfgate prints to: safe for a reader that leaves early, and for a CI log.

A GitHub Actions runner reads every line a step prints for workflow commands:
a line starting with ``::`` (``::error::``, ``::add-mask::``,
``::stop-commands::``) and ``##[command]`` anywhere in a line. Text perfgate
prints can carry what a results file, a runtime or an app said, so every line
goes through ``log_safe`` on its way out (``perfgate.commands.Console``): no
control character (an ANSI escape, a carriage return the runner would read as
a line break), no line that starts a command, no ``##[``. A message meant to
be one line is made one with ``one_line`` first.
"""

from __future__ import annotations

import io
import os
import re
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


# C0 controls but tab and newline, DEL, C1 controls (CSI, NEL...) and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# The runner trims leading whitespace before it looks for "::" (ActionCommand.TryParseV2).
_COMMAND_LINE = re.compile(r"^(?=[^\S\n]*::)", re.MULTILINE)


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def one_line(text: str) -> str:
    """``text`` on one line: each line break written as a visible ``\\n``, other control characters as ``\\xNN``."""
    return _CONTROL.sub(_visible, _LINE_BREAK.sub("\\\\n", text.strip("\r\n")))


def log_safe(text: str) -> str:
    """``text`` (any number of lines) with no control character, workflow command or ``##[`` left live.

    A carriage return is a line break to the runner: ``\\r\\n`` becomes ``\\n`` and a lone
    one is written ``\\x0d``. A line that would start a workflow command gets a
    leading backslash (``\\::error::``), and ``##[`` becomes ``##\\[``.
    """
    text = _CONTROL.sub(_visible, text.replace("\r\n", "\n"))
    return _COMMAND_LINE.sub("\\\\", text).replace("##[", "##\\[")


def json_for_log(text: str) -> str:
    """JSON text (perfgate's own dump) that ``log_safe`` leaves as it is, and still the same JSON.

    What ``log_safe`` would change can only be inside a JSON string here (a key or
    a value: pretty-printed JSON starts no line with ``::`` and has ``#`` only in
    strings), and JSON writes any character inside a string as ``\\uXXXX``.
    """
    text = _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text.replace("##[", "##\\u005b")
