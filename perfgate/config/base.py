"""The base of every config table (frozen, unknown keys refused) and the one-line refusal of unknown names."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _refuse_unknown(what: str, given: Iterable[str], known: Collection[str]) -> None:
    """One line naming the first unknown name and every valid one (a typo must not pass silently)."""
    for name in given:
        if name not in known:
            raise ValueError(f"unknown {what} {name!r} (known: {', '.join(known)})")
