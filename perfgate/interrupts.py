"""SIGINT and SIGTERM stop perfgate the same way: one exception, raised once, then held.

Python turns SIGINT into ``KeyboardInterrupt`` and lets SIGTERM kill the
process on the spot, so a CI job cancelled with SIGTERM lost every
measurement while Ctrl-C kept them. With :func:`handling` in force both raise
:class:`Interrupted` (a ``KeyboardInterrupt``, so it passes every ``except
Exception``) in the main thread, wherever it is -- including a socket read
that would otherwise block for minutes.

It is raised **once**. Every later signal is only recorded, so the work that
must follow an interrupt -- stopping the runtime and app perfgate started,
writing what was measured -- cannot itself be cut short and lose the
measurements (SIGKILL still ends perfgate at once). :func:`hold` asks for the
same before an interrupt came: ``perfgate run`` holds them from the end of the
measurement until its results file is written, then :func:`resume` raises one
that came meanwhile.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The user (Ctrl-C, SIGINT) or the system (SIGTERM: a cancelled CI job, a service stop) stopped perfgate."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class _State:
    def __init__(self) -> None:
        self.installed = False
        self.holding = False  # signals are recorded, not raised
        self.received: int | None = None  # the first signal seen since install()


_state = _State()


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    if _state.received is None:
        _state.received = signum
    if _state.holding:
        return
    _state.holding = True  # raised once: the clean-up that follows must not be cut short
    raise Interrupted(signum)


@contextmanager
def handling(*, restore: bool = True) -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` inside the block (main thread only; elsewhere a no-op).

    ``restore=False`` blocks them afterwards instead of restoring the previous
    handlers: for the program itself, whose exit code is decided when the block
    ends, so that a signal in its last moments cannot turn a finished command's
    code into a death by signal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {sig: signal.signal(sig, _on_signal) for sig in SIGNALS}
    _state.installed, _state.holding, _state.received = True, False, None
    try:
        yield
    finally:
        _state.holding = True
        if restore:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _state.installed, _state.received = False, None
        else:
            # Blocked, not merely held: Python puts the default handlers back while it shuts
            # down, and a signal then would still kill the process and lose its exit code.
            signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


def received() -> int | None:
    """The first SIGINT/SIGTERM received while :func:`handling` was in force (None: none)."""
    return _state.received


def hold() -> None:
    """From now on a signal is recorded, not raised (until :func:`resume`)."""
    _state.holding = True


def resume() -> None:
    """Raise now the signal that came while held, if one did; otherwise raise the next one again."""
    if not _state.installed:
        return
    if _state.received is not None:
        raise Interrupted(_state.received)
    _state.holding = False


def signal_of(exc: BaseException) -> int:
    """The signal behind a ``KeyboardInterrupt`` (a plain one, from Python's own handler, is SIGINT)."""
    return exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
