"""TODO"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import UTC, datetime


def utc_now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def command_line(argv: Sequence[str]) -> str:
    """The command as a user could paste it back into a shell."""
    return shlex.join(["perfgate", *argv])
