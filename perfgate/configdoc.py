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
from perfgate.metrics import BY_NAME, default_informational

HEADER = """# Configuration

<!-- Generated from perfgate/config/model.py by `nox -s docs`; do not edit by hand. -->

perfgate reads its settings in layers, each overriding the one before:

1. built-in defaults (below);
2. one config file, the first of: the TOML file given with `--config FILE` (or
   `PERFGATE_CONFIG`); `perfgate.toml` in the working directory (a repository
   without a pyproject, e.g. a Swift package; `perfgate init` writes one); the
   `[tool.perfgate]` table of the working directory's `pyproject.toml`. When
   both `perfgate.toml` and a `[tool.perfgate]` table exist, perfgate refuses
   (exit 2) rather than silently read one of them;
3. `PERFGATE_*` environment variables: the key path in capitals with `__`
   between levels, values parsed as JSON when they parse
   (`PERFGATE_RUNS=7`, `PERFGATE_RUNTIME__BASE_URL=http://127.0.0.1:8080`);
4. command-line flags.

Each layer is merged key by key onto the one before, tables of named entries
included (`scenarios`, `tiers`, `gate.metrics`, `triage.owners`,
`triage.severities`): setting one key of a built-in entry changes that key
and keeps the rest of it (`PERFGATE_TIERS__SIM__DESCRIPTION=x` leaves `sim`
simulated), a new name adds an entry, and `enabled = false` switches a
built-in scenario, tier or metric off. The built-in entries are listed at the
end of this page.

Unknown keys are errors (exit 2), naming the key, and so are names that do
not exist: a metric under `gate.metrics` or in a tier's
`informational_metrics`, a fingerprint field in `must_match`, a forced `tier`
that is not configured. A `PERFGATE_*` variable whose first part is no
top-level key below (a team's `PERFGATE_SLACK_WEBHOOK`) is not perfgate's: it
is ignored, with one warning line. Tier and scenario names (`SafeName`) are at
most 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit:
they become file names (`baselines/<tier>.json`) and Markdown. No setting
takes NaN or infinity (TOML can spell both).

A small example:

```toml
[tool.perfgate]
runs = 7

[tool.perfgate.runtime]
model = "qwen2.5:7b-instruct-q4_K_M"

[tool.perfgate.gate]
fail_on_inconclusive = true

[tool.perfgate.gate.metrics]
itl_ms_p50.enabled = false  # stop comparing one built-in metric

[tool.perfgate.gate.metrics.ttft_ms]  # TTFT's thresholds; every other metric keeps its own
threshold_worse = 0.15
threshold_better = 0.15

[tool.perfgate.scenarios]
prefill.enabled = false  # run only the built-in short-explain scenario
```
"""


def _type_name(field: FieldInfo) -> str:
    text = str(field.annotation).replace("typing.", "")
    for noise in ("perfgate.config.model.", "perfgate.config.sections.", "perfgate.config.runtime.", "<class '", "'>"):
        text = text.replace(noise, "")
    if text.startswith("Optional[") and text.endswith("]"):  # how `SafeName | None` prints
        text = f"{text.removeprefix('Optional[')[:-1]} or None"
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
        return "(built-in entries at the end)"
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
    lines += _built_in_entries(PerfgateConfig())
    return "\n".join(lines).rstrip() + "\n"


def _row(*cells: object) -> str:
    return "| " + " | ".join(" ".join(str(c).split()).replace("|", "\\|") for c in cells) + " |"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _informational_cell(metric: str, configured: bool | None) -> str:
    if configured is not None:
        return _yes(configured)
    own, app = default_informational(metric, app_scenario=False), default_informational(metric, app_scenario=True)
    cell = _yes(own) if own == app else f"{_yes(own)} (app scenarios: {_yes(app)})"
    on = sorted(BY_NAME[metric].informational_on) if metric in BY_NAME else []
    return f"{cell}; yes on {', '.join(on)}" if on else cell


def _built_in_entries(config: PerfgateConfig) -> list[str]:
    """What the named tables hold before a file, the environment or flags are merged onto them."""
    lines = ["## Built-in entries", "", "Set a key of one to change it; `enabled = false` switches it off.", ""]
    lines += ["### `gate.metrics`", "", "Defaults from perfgate's metric registry (`perfgate/metrics.py`).", ""]
    lines += [_row("metric", "unit", "threshold_worse", "threshold_better", "informational"), _row(*["---"] * 5)]
    for name, p in config.gate.metrics.items():
        lines.append(
            _row(
                f"`{name}`",
                BY_NAME[name].unit,
                f"{p.threshold_worse:g}",
                f"{p.threshold_better:g}",
                _informational_cell(name, p.informational),
            )
        )
    others = ", ".join(f"`{name}`" for name in BY_NAME if name not in config.gate.metrics)
    lines += ["", f"Metrics that can be added (give both thresholds): {others}.", ""]
    lines += ["### `tiers`", "", _row("tier", "description", "auto-detected", "simulated"), _row(*["---"] * 4)]
    for name, tier in config.tiers.items():
        lines.append(_row(f"`{name}`", tier.description, _yes(tier.auto_detect), _yes(tier.simulated)))
    lines += ["", "### `scenarios`", "", _row("scenario", "num_predict", "prompt"), _row(*["---"] * 3)]
    for name, scenario in config.scenarios.items():
        text = scenario.prompt or ""  # the built-in scenarios are perfgate's own requests, each with a prompt
        prompt = text if len(text) <= 60 else f"{text[:57]}…"
        lines.append(_row(f"`{name}`", scenario.num_predict, prompt))
    return [*lines, ""]
