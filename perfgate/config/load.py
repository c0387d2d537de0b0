"""Layered loading: defaults < the config file < ``PERFGATE_*`` env < flags.

The config file is the first of: ``--config FILE``, ``$PERFGATE_CONFIG``, ``./perfgate.toml`` (for a
repository without a pyproject, e.g. a Swift package), the ``[tool.perfgate]`` table of
``./pyproject.toml``. When both ``./perfgate.toml`` and a ``[tool.perfgate]`` table exist, perfgate
refuses (exit 2) rather than silently ignore one of them.

Every layer is merged key by key onto the one below, starting from the
defaults themselves, so a table of named entries (tiers, scenarios,
``gate.metrics``, triage owners) keeps every entry and key a layer does not set.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from perfgate.config.model import PerfgateConfig
from perfgate.errors import ConfigError
from perfgate.files import MAX_TOML_BYTES, clip, read_text_limited

# PERFGATE_* variables that are not settings: the config file's path, and the
# proxy URL perfgate gives an app's command (which may itself run perfgate).
NOT_SETTINGS = frozenset({"PERFGATE_CONFIG", "PERFGATE_PROXY_URL"})


def _nested_set(target: dict[str, Any], dotted: list[str], value: object) -> None:
    for key in dotted[:-1]:
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            raise ConfigError(f"cannot set {'.'.join(dotted)}: {key} is not a table")
    target[dotted[-1]] = value


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _setting_path(name: str) -> list[str] | None:
    """``PERFGATE_RUNTIME__BASE_URL`` -> ``["runtime", "base_url"]``; None for a variable that is not a setting."""
    if not name.startswith("PERFGATE_") or name in NOT_SETTINGS:
        return None
    return [part.lower() for part in name.removeprefix("PERFGATE_").split("__")]


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``PERFGATE_RUNS=7``, ``PERFGATE_RUNTIME__BASE_URL=...``: ``__`` nests.

    Values are parsed as JSON when they parse (numbers, booleans, lists), else
    taken as strings. Only variables under one of the config's own top-level
    keys are read, and strictly (a misspelt key inside ``runtime`` is refused);
    others with the prefix belong to someone else (``unknown_env``).
    """
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        path = _setting_path(name)
        if path is None or path[0] not in PerfgateConfig.model_fields:
            continue
        try:
            value: Any = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            value = raw
        _nested_set(out, path, value)
    return out


def unknown_env(environ: Mapping[str, str]) -> list[str]:
    """``PERFGATE_*`` variables under no top-level setting (a team's ``PERFGATE_SLACK_WEBHOOK``): ignored, and named."""
    return sorted(
        name
        for name in environ
        if (path := _setting_path(name)) is not None and path[0] not in PerfgateConfig.model_fields
    )


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``[tool.perfgate]`` table of a pyproject.toml, or a whole perfgate TOML file."""
    text = read_text_limited(path, "config", limit=MAX_TOML_BYTES, error=ConfigError)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: cannot read config: its arrays or tables are nested too deeply") from exc
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("perfgate", {})
        return dict(table) if isinstance(table, dict) else {}
    return data


PERFGATE_TOML = "perfgate.toml"


def _default_config_file(cwd: Path) -> Path | None:
    """``./perfgate.toml``, else ``./pyproject.toml`` (its ``[tool.perfgate]``); both holding settings: refused."""
    own, pyproject = cwd / PERFGATE_TOML, cwd / "pyproject.toml"
    if not own.is_file():
        return pyproject if pyproject.is_file() else None
    if pyproject.is_file() and read_config_file(pyproject):
        raise ConfigError(
            f"{own} and the [tool.perfgate] table of {pyproject} both hold perfgate's settings; keep one of them "
            "(or name one with --config)"
        )
    return own


def _where(loc: Iterable[int | str]) -> str:
    """``tiers.sim.must_match[0]``; pydantic's ``[key]`` marker (an invalid dict key) is dropped."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":
            # A key too long to be a name is shown cut, so the error stays one readable line.
            text += f".{clip(part)}" if text else clip(part)
    return text or "(root)"


def _describe_validation(exc: ValidationError, source: str) -> str:
    """One line: where the first error is, what is wrong, and the value when it is short and not yet named."""
    first = exc.errors()[0]
    message = " ".join(str(first["msg"]).removeprefix("Value error, ").split())
    given = first.get("input")
    if isinstance(given, str | int | float) and repr(given) not in message and len(repr(given)) <= 60:
        message += f" (got {given!r})"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: invalid config at {_where(first['loc'])}: {message}{more}"


def _added_tiers_first(layers: dict[str, Any], built_in: list[str]) -> dict[str, Any]:
    """The tiers a layer adds, then the built-in ones.

    Detection takes the first tier that matches, and the built-in ones end with
    the catch-all ``local``, which would otherwise shadow every tier added after it.
    """
    tiers = layers.get("tiers")
    if not isinstance(tiers, dict):
        return layers
    added = {name: tier for name, tier in tiers.items() if name not in built_in}
    return {**layers, "tiers": added | {name: tiers[name] for name in built_in if name in tiers}}


def _named_tables(defaults: dict[str, Any]) -> dict[str, Any]:
    """The defaults' tables of named entries, the base every layer merges onto.

    Only these: a plain setting left at its default stays *unset* (pydantic's
    ``model_fields_set``), which some code reads as "the user did not choose"
    (e.g. a managed llama.cpp server names its model after the file unless
    ``runtime.model`` was set).
    """
    return {
        "tiers": defaults["tiers"],
        "scenarios": defaults["scenarios"],
        "gate": {"metrics": defaults["gate"]["metrics"]},
        "triage": {key: defaults["triage"][key] for key in ("owners", "severities")},
    }


def load_config(
    *,
    config_file: Path | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PerfgateConfig:
    """Build the config from all layers; raise ConfigError naming the bad field.

    Every layer is merged key by key onto the defaults, tables of named entries
    included, so setting one key of a tier or metric keeps the rest of it.
    """
    environ = os.environ if environ is None else environ
    defaults = PerfgateConfig().model_dump()
    layers: dict[str, Any] = _named_tables(defaults)
    source = "defaults"
    file = config_file or (Path(environ["PERFGATE_CONFIG"]) if environ.get("PERFGATE_CONFIG") else None)
    if file is None:
        file = _default_config_file(cwd or Path.cwd())
    # A file named by --config or PERFGATE_CONFIG that is missing, a directory or unreadable is
    # refused by read_config_file, naming it (Path.is_file() raises on a name too long).
    if file is not None:
        layers = _deep_merge(layers, read_config_file(file))
        source = str(file)
    env = env_overrides(environ)
    if env:
        layers = _deep_merge(layers, env)
        source += " + PERFGATE_* env"
    if overrides:
        layers = _deep_merge(layers, overrides)
        source += " + flags"
    layers = _added_tiers_first(layers, list(defaults["tiers"]))
    try:
        return PerfgateConfig.model_validate(layers)
    except ValidationError as exc:
        raise ConfigError(_describe_validation(exc, source)) from exc
