"""The base of every contract."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Base for every contract: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
