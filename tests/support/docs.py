"""The lines docs/troubleshooting.md quotes, so tests can check perfgate prints exactly those."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TROUBLESHOOTING = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
QUOTED = [line for line in TROUBLESHOOTING.splitlines() if line.startswith("perfgate: ")]


def quoted(prefix: str) -> str:
    """The one quoted message starting ``perfgate: <prefix>``, without that ``perfgate: ``."""
    (line,) = [q for q in QUOTED if q.startswith(f"perfgate: {prefix}")]
    return line.removeprefix("perfgate: ")
