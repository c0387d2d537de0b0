"""``docs/configuration.md``, generated from the config model so it cannot drift.

``nox -s docs`` rewrites it; ``tests/unit/test_configdoc.py`` fails when the
committed copy differs from what the model says.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from perfgate.config import PerfgateConfig

HEADER = """# Configuration

<!-- Generated from perfgate/config.py by `nox -s docs`; do not edit by hand. -->

perfgate reads its settings in layers, each overriding the one before:

1. built-in defaults (below);
2. `[tool.perfgate]` in the working directory's `pyproject.toml`, or the TOML
   file given with `--config FILE` (or `PERFGATE_CONFIG`);
3. `PERFGATE_*` environment variables: the key path in capitals with `__`
   between levels, values parsed as JSON when they parse
   (`PERFGATE_RUNS=7`, `PERFGATE_RUNTIME__BASE_URL=http://127.0.0.1:8080`);
4. command-line flags.

Unknown keys are errors (exit 2), naming the key. Tables of named entries
(`scenarios`, `tiers`, `gate.metrics`) replace the defaults as a whole when
set in a file.

A small example:

```toml
[tool.perfgate]
runs = 7

[tool.perfgate.runtime]
model = "qwen2.5:7b-instruct-q4_K_M"

[tool.perfgate.gate]
fail_on_inconclusive = true
```
"""


def _type_name(field: FieldInfo) -> str:
    text = str(field.annotation).replace("typing.", "")
    for noise in ("perfgate.config.", "<class '", "'>"):
        text = text.replace(noise, "")
    return text.replace(" | ", " or ")  # a pipe would split the table cell


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(table below)"
    if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
        return "(table below)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}…`"


def _section(title: str, model: type[BaseModel], env_prefix: str) -> list[str]:
    lines = [f"## `{title}`", "", model.__doc__.strip() if model.__doc__ else "", ""]
    lines += ["| key | type | default | env | description |", "| --- | --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        env = f"`{env_prefix}{name.upper()}`"
        desc = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | `{_type_name(field)}` | {_default(field)} | {env} | {desc} |")
    return [*lines, ""]


def _nested(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args: tuple[object, ...] = getattr(annotation, "__args__", ())
    value = args[-1] if len(args) == 2 else None  # dict[str, Model]
    if isinstance(value, type) and issubclass(value, BaseModel):
        return value
    return None


def render_configuration_md() -> str:
    lines = [HEADER, *_section("[tool.perfgate]", PerfgateConfig, "PERFGATE_")]
    queue: list[tuple[str, type[BaseModel], str]] = []
    for name, field in PerfgateConfig.model_fields.items():
        nested = _nested(field)
        if nested is not None:
            is_map = "dict" in str(field.annotation)
            queue.append((name, nested, f"PERFGATE_{name.upper()}__" + ("<NAME>__" if is_map else "")))
    seen: set[str] = set()
    while queue:
        path, model, env = queue.pop(0)
        key = f"{path}:{model.__name__}"
        if key in seen:
            continue
        seen.add(key)
        title = f"[tool.perfgate.{path}.<name>]" if env.endswith("<NAME>__") else f"[tool.perfgate.{path}]"
        lines += _section(title, model, env)
        for name, field in model.model_fields.items():
            nested = _nested(field)
            if nested is not None:
                is_map = "dict" in str(field.annotation)
                parent = f"{path}.<name>" if env.endswith("<NAME>__") else path
                queue.append((f"{parent}.{name}", nested, f"{env}{name.upper()}__" + ("<NAME>__" if is_map else "")))
    return "\n".join(lines).rstrip() + "\n"
