"""The command line's values, checked as argparse reads them: a bad one is a usage error (exit 2) naming the flag.

Each check returns the value as the commands already take it (a comma list
stays a string), so only what is accepted changes. Settings that are also
config keys (``--runs``, ``--sim-tok-s`` ...) are checked by the config model,
which names them; these are the flags that are not settings, or that become a
file name, a URL, a port or a git argument before any setting sees them.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import cast

from annotated_types import Ge, Gt
from pydantic.fields import FieldInfo

from perfgate.config import base_url_problem
from perfgate.files import clip, name_problem, path_problem

_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def _refuse(message: str, given: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{message} (got {clip(given)!r})")


def port(text: str) -> int:
    """A TCP port to listen on: 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise _refuse("a port is a number from 0 to 65535", text) from None
    if not 0 <= value <= 65535:
        raise _refuse("a port is a number from 0 to 65535", text)
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _refuse("expected a whole number above 0", text) from None
    if value < 1:
        raise _refuse("expected a whole number above 0", text)
    return value


def positive_float(text: str) -> float:
    """A finite number above 0 (``float()`` alone takes nan, inf and -1)."""
    try:
        value = float(text)
    except ValueError:
        raise _refuse("expected a number above 0", text) from None
    if not math.isfinite(value) or value <= 0:
        raise _refuse("expected a finite number above 0", text)
    return value


def bounded(field: FieldInfo, kind: type[int] | type[float]) -> Callable[[str], float]:
    """A number within the bounds a model field declares (``ge`` / ``gt``), finite."""
    floor = next((m for m in field.metadata if isinstance(m, Ge | Gt)), None)
    rule = "" if floor is None else f" {'at least' if isinstance(floor, Ge) else 'above'} {_bound(floor):g}"
    expected = f"expected a {'whole number' if kind is int else 'finite number'}{rule}"

    def check(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise _refuse(expected, text) from None
        low_ok = (
            floor is None
            or (isinstance(floor, Ge) and value >= _bound(floor))
            or (isinstance(floor, Gt) and value > _bound(floor))
        )
        if not math.isfinite(value) or not low_ok:
            raise _refuse(expected, text)
        return value

    return check


def _bound(floor: Ge | Gt) -> float:
    value = floor.ge if isinstance(floor, Ge) else floor.gt
    return float(cast("float", value))  # the models' bounds are numbers


def name(what: str) -> Callable[[str], str]:
    """A tier or scenario name (it becomes a file name and Markdown)."""

    def check(text: str) -> str:
        problem = name_problem(text)
        if problem is not None:
            raise argparse.ArgumentTypeError(f"{what} {problem}")
        return text

    return check


def names(what: str) -> Callable[[str], str]:
    """A comma-separated list of names (``--expect-tiers base,pro``), returned as given."""
    one = name(what)

    def check(text: str) -> str:
        for part in text.split(","):
            if part.strip():
                one(part.strip())
        return text

    return check


def base_url(text: str) -> str:
    problem = base_url_problem(text)
    if problem is not None:
        raise _refuse(problem, text)
    return text


def path(text: str) -> str:
    """A file or directory path the OS can open (a longer one fails deep inside with ENAMETOOLONG)."""
    problem = path_problem(text)
    if problem is not None:
        raise _refuse(problem, text)
    return text


def repository(text: str) -> str:
    if not _REPOSITORY.fullmatch(text):
        raise _refuse("expected OWNER/NAME", text)
    return text


def git_ref(text: str) -> str:
    """A git ref given to git as an argument: never one git would read as an option."""
    if not text or text.startswith("-") or not text.isprintable() or any(c.isspace() for c in text):
        raise _refuse("expected a git ref such as HEAD, main or origin/main", text)
    return text
