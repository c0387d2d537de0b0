"""perfgate: a performance regression gate for apps that run a local LLM."""

from __future__ import annotations

__version__ = "0.1.0"
