"""``perfgate proxy``: the measuring proxy on its own, for an app harness started elsewhere.

Serves until SIGINT or SIGTERM (then exits 0) and appends each completed request's record to
``--record FILE`` as one JSON line the moment it completes (flushed), so a
proxy that is killed loses nothing that had finished.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import TextIO

from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig
from perfgate.contracts.proxy import ProxyRecord, record_line
from perfgate.errors import UsageError
from perfgate.measure.proxy import MeasuringProxy
from perfgate.provenance import utc_now_iso


class _RecordFile:
    """Appends one line per record; called from the proxy's request threads."""

    def __init__(self, path: Path, console: Console) -> None:
        self.path = path
        self._console = console
        self._lock = threading.Lock()
        self._broken = False
        self._file: TextIO | None = None

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot open the records file: {exc.strerror or exc}") from exc

    def write(self, record: ProxyRecord) -> None:
        line = record_line(record, completed_at=utc_now_iso())
        with self._lock:
            if self._file is None or self._file.closed:  # a request that finished after the proxy stopped
                return
            try:
                self._file.write(line)
                self._file.flush()  # on disk (in the OS) now: a kill cannot lose it
            except OSError as exc:
                if not self._broken:  # say it once, keep proxying: the app must not break because of us
                    self._broken = True
                    self._console.fail(f"{self.path}: cannot write a record: {exc.strerror or exc}")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()


def execute(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    records = _RecordFile(Path(args.record), console)
    proxy = MeasuringProxy(
        args.upstream or config.runtime.base_url,
        host=args.host,
        port=args.port,
        on_record=records.write,
        keep_records=False,
        connect_timeout_s=config.runtime.connect_timeout_s,
        read_timeout_s=config.runtime.read_timeout_s,
    )
    records.open()  # once the flags are known to be good
    # The signals are blocked before the proxy's threads start (they inherit
    # the mask) and the main thread waits for one in sigwait: nothing polls.
    signals = {signal.SIGTERM, signal.SIGINT}
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        with proxy:
            console.say(f"perfgate proxy listening on {proxy.url} -> {proxy.upstream.base_url}")
            console.out.flush()
            signal.sigwait(signals)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        records.close()
    return Outcome()
