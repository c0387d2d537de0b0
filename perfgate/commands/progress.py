"""A one-line progress indicator for long runs: redrawn in place on a TTY, plain lines in CI logs."""

from __future__ import annotations

from typing import TextIO

from perfgate.measure.harness import Progress


class ProgressLine:
    """Shows each warm-up and measured request as it happens, on stderr."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, event: Progress) -> None:
        prefix = "\r\x1b[K" if self.tty else ""
        if event.phase == "done":
            self.stream.write(f"{prefix}{event.scenario}: {event.total} runs done\n")
        elif event.sample is not None or self.tty:
            detail = ""
            if event.sample is not None and event.sample.ttft_ms is not None:
                detail = f"  ttft {event.sample.ttft_ms:.1f} ms"
            if event.sample is not None and event.sample.app_wall_ms is not None:
                detail += f"  app {event.sample.app_wall_ms:.0f} ms"
            end = "" if self.tty else "\n"
            self.stream.write(f"{prefix}{event.scenario}: {event.phase} {event.index}/{event.total}{detail}{end}")
        self.stream.flush()
