"""Reading and writing perfgate's versioned JSON files.

Every file has ``schema_version``. Newer versions are refused ("upgrade
perfgate"); a corrupt file gives an error naming the file and the field.
Files are written deterministically (sorted keys, two-space indent, trailing
newline) and atomically, so a crash never leaves half a file behind, and as
standard JSON: a NaN is refused before anything is written.

Every file perfgate reads is read through :func:`read_text_limited`, so a
wrong file (a disk image, ``/dev/zero``) is refused by its size, not by
exhausting memory. Tier and scenario names are checked here too
(:data:`SafeName`): they become file names and Markdown.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationError, WithJsonSchema
from typing_extensions import TypeAliasType

from perfgate.errors import BadFileError, NewerSchemaError, UsageError

M = TypeVar("M", bound=BaseModel)

# A results file holds about 1.5 KiB per sample: 50 MiB is over thirty thousand
# samples, twice the largest sequential run (50 scenarios x 300 samples, about 20 MB),
# and small enough to read and validate in well under two seconds. A larger file
# is refused by its size before a byte of it is read (docs/troubleshooting.md).
MAX_JSON_BYTES = 50 * 2**20
# A pyproject.toml or perfgate TOML file.
MAX_TOML_BYTES = 2**20

NAME_MAX = 64
NAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{NAME_MAX - 1}}}$"
NAME_RULE = f"at most {NAME_MAX} letters, digits, '.', '_' or '-', starting with a letter or digit"
_NAME = re.compile(NAME_PATTERN)


def clip(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking a cut (a name quoted in a one-line error)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a tier or scenario name (it becomes a file name and Markdown), or None."""
    if _NAME.fullmatch(name):
        return None
    if len(name) > NAME_MAX:
        return f"name {clip(name)!r} is {len(name)} characters long: use {NAME_RULE}"
    return f"name {clip(name)!r} is not valid: use {NAME_RULE}"


def _check_name(name: str) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


SafeName = TypeAliasType(
    "SafeName",
    Annotated[
        str,
        AfterValidator(_check_name),
        WithJsonSchema(
            {
                "type": "string",
                "pattern": NAME_PATTERN,
                "maxLength": NAME_MAX,
                "description": f"A tier or scenario name: {NAME_RULE} (it becomes a file name and Markdown).",
            }
        ),
    ],
)
"""A tier or scenario name: letters, digits, ``.``, ``_`` and ``-`` (at most 64; it becomes a file name)."""


# Linux's and macOS's limits: a longer file name or path is refused by the OS (ENAMETOOLONG).
NAME_MAX_BYTES = 255
PATH_MAX_BYTES = 4095


def path_problem(text: str) -> str | None:
    """Why ``text`` cannot be a path the OS opens (empty, a NUL, a name or path too long), or None."""
    if not text or "\0" in text:
        return "expected a path"
    encoded = os.fsencode(text)
    if len(encoded) > PATH_MAX_BYTES:
        return f"a path is at most {PATH_MAX_BYTES} bytes long, this one is {len(encoded)}"
    longest = max(len(part) for part in encoded.split(b"/"))
    if longest > NAME_MAX_BYTES:
        return f"a file name is at most {NAME_MAX_BYTES} bytes long, one here is {longest}"
    return None


# ---------------------------------------------------------------- writing


def _standard(data: object, where: str) -> object:
    """``data`` with ±infinity as null, the way pydantic writes JSON; ValueError naming the first NaN."""
    if isinstance(data, float) and not math.isfinite(data):
        if math.isnan(data):
            raise ValueError(f"{where} is NaN, which JSON cannot hold; nothing was written")
        return None  # an unbounded interval: there is no bound to write
    if isinstance(data, dict):
        return {key: _standard(value, f"{where}.{key}") for key, value in data.items()}
    if isinstance(data, list):
        return [_standard(value, f"{where}.{index}") for index, value in enumerate(data)]
    return data


def dumps_model(model: BaseModel) -> str:
    """Deterministic, standard JSON text of a model: sorted keys, trailing newline.

    JSON has no NaN: a NaN in a model is a bug upstream (every measured value is
    checked when it is made), so it is refused here, before any file is touched,
    rather than written as a file no JSON reader accepts.
    """
    data = model.model_dump(mode="json")
    try:
        return _dumps(data)
    except ValueError:  # a NaN or an infinity somewhere: rare, so looked for only now
        return _dumps(_standard(data, type(model).__name__))


def _dumps(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same directory, then rename over the target."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):  # no half-written temp file left next to the target
                Path(tmp).unlink()
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def write_model(path: Path, model: BaseModel) -> None:
    write_text_atomic(path, dumps_model(model))


# ---------------------------------------------------------------- reading


def size_text(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"


def read_text_limited(
    path: Path, what: str, *, limit: int | None = None, error: type[UsageError] = BadFileError
) -> str:
    """A file's UTF-8 text, refused (``error``) when missing, unreadable, not UTF-8 or over ``limit`` bytes.

    ``limit`` defaults to :data:`MAX_JSON_BYTES`, read when called.
    """
    limit = MAX_JSON_BYTES if limit is None else limit
    try:
        with path.open("rb") as handle:
            # A regular file is refused by its size, unread; a pipe or device has no size
            # to check first, so one byte past the limit is read.
            size = os.fstat(handle.fileno()).st_size
            raw = b"" if size > limit else handle.read(limit + 1)
    except FileNotFoundError as exc:
        raise error(f"{path}: {what} file not found") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read {what} file: {exc.strerror or exc}") from exc
    if size > limit or len(raw) > limit:
        raise error(
            f"{path}: {what} file is over {size_text(limit)}, the most perfgate reads; check that it is the right file"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: {what} file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from exc


# Brings a file's data of an older schema version to the current one (``where`` names it in errors).
Migration = Callable[[dict[str, Any], str], dict[str, Any]]


def read_model(
    path: Path, model_cls: type[M], *, what: str, current_version: int, migrate: Migration | None = None
) -> M:
    """Load and validate one versioned file; errors name the file and field."""
    raw = read_text_limited(path, what)
    return parse_model(raw, str(path), model_cls, what=what, current_version=current_version, migrate=migrate)


def _named_parts(data: object, loc: tuple[int | str, ...]) -> list[str]:
    """The list items on an error's path, named: ``scenarios.0`` is ``scenario 'short'``, ``samples.3`` ``sample 3``."""
    named: list[str] = []
    node, key = data, ""
    for part in loc:
        if isinstance(node, dict):
            node, key = node.get(part), str(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, dict) and key:
                name = node.get("name")
                what = key.removesuffix("s")
                named.append(f"{what} {clip(name)!r}" if isinstance(name, str) else f"{what} {part}")
        else:
            break
    return named


def _describe(exc: ValidationError, data: object) -> str:
    """Where the first error is (the dotted field, its list items named) and what is wrong."""
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    where = f"field '{'.'.join(clip(str(part)) for part in loc) or '(root)'}'"
    named = _named_parts(data, loc)
    if named:
        where += f" ({', '.join(named)})"
    message = str(first["msg"]).removeprefix("Value error, ")
    given = first.get("input")
    if isinstance(given, float | int) and not isinstance(given, bool) and repr(given) not in message:
        message += f" (got {given!r})"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {message}{more}"


def parse_model(
    raw: str, path: str, model_cls: type[M], *, what: str, current_version: int, migrate: Migration | None = None
) -> M:
    """Validate one versioned file's text; ``path`` names it in errors (may be ``REF:path``)."""
    if len(raw) > MAX_JSON_BYTES:  # text from git, or a caller's own read
        raise BadFileError(f"{path}: {what} file is over {size_text(MAX_JSON_BYTES)}, the most perfgate reads")
    # A file of the current version is parsed and validated in one pass by pydantic, about
    # three times faster than json.loads and then validation (a gate reads every tier's
    # results and baseline). Anything else (a version to migrate or refuse, a bad file)
    # goes the long way below, which says what is wrong.
    try:
        fast = model_cls.model_validate_json(raw)
    except ValidationError:
        pass
    else:
        if "schema_version" in fast.model_fields_set and getattr(fast, "schema_version", None) == current_version:
            return fast
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadFileError(f"{path}: {what} file is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except RecursionError as exc:
        raise BadFileError(f"{path}: {what} file is nested too deeply to be a {what} file") from exc
    if not isinstance(data, dict):
        raise BadFileError(f"{path}: {what} file must hold a JSON object")
    version = data.get("schema_version")
    if not isinstance(version, int):
        raise BadFileError(f"{path}: {what} file has no integer field 'schema_version'")
    if version > current_version:
        raise NewerSchemaError(
            f"{path}: {what} file has schema_version {version}, newer than this perfgate supports "
            f"({current_version}); upgrade perfgate"
        )
    if version < current_version and migrate is not None:
        data = migrate(data, path)
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        raise BadFileError(f"{path}: invalid {what} file at {_describe(exc, data)}") from exc
