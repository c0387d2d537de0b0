"""Reading and writing perfgate's versioned JSON files.

Every file has ``schema_version``. Newer versions are refused ("upgrade
perfgate"); a corrupt file gives an error naming the file and the field.
Files are written deterministically (sorted keys, two-space indent, trailing
newline) and atomically, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from perfgate.errors import BadFileError, NewerSchemaError, UsageError

M = TypeVar("M", bound=BaseModel)


def dumps_model(model: BaseModel) -> str:
    """Deterministic JSON text of a model: sorted keys, trailing newline."""
    data = model.model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


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


# Brings a file's data of an older schema version to the current one (``where`` names it in errors).
Migration = Callable[[dict[str, Any], str], dict[str, Any]]


def read_model(
    path: Path, model_cls: type[M], *, what: str, current_version: int, migrate: Migration | None = None
) -> M:
    """Load and validate one versioned file; errors name the file and field."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadFileError(f"{path}: {what} file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadFileError(f"{path}: cannot read {what} file: {exc}") from exc
    return parse_model(raw, str(path), model_cls, what=what, current_version=current_version, migrate=migrate)


def parse_model(
    raw: str, path: str, model_cls: type[M], *, what: str, current_version: int, migrate: Migration | None = None
) -> M:
    """Validate one versioned file's text; ``path`` names it in errors (may be ``REF:path``)."""
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
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(root)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise BadFileError(f"{path}: invalid {what} file at field '{where}': {first['msg']}{more}") from exc
