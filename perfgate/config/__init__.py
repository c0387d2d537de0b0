"""perfgate's one configuration model (``model``) and its layered loading (``load``).

Precedence, lowest first: built-in defaults < ``[tool.perfgate]`` in the
working directory's ``pyproject.toml`` (or ``--config FILE``) < ``PERFGATE_*``
environment variables < command-line flags. ``docs/configuration.md`` is
generated from the model.
"""

from __future__ import annotations

from perfgate.config.base import base_url_problem
from perfgate.config.load import env_overrides, load_config, read_config_file, unknown_env
from perfgate.config.model import (
    ENVIRONMENT_FIELDS,
    FINGERPRINT_FIELDS,
    PREFILL_PROMPT,
    SEED_PROMPT,
    TREATMENT_FIELDS,
    GateConfig,
    MetricPolicy,
    PerfgateConfig,
    ScenarioConfig,
    TierConfig,
    TierMatch,
)
from perfgate.config.runtime import RuntimeConfig
from perfgate.config.sections import (
    ConfirmConfig,
    GitHubConfig,
    HistoryConfig,
    SequentialConfig,
    SimConfig,
    TriageConfig,
)

__all__ = [
    "ENVIRONMENT_FIELDS",
    "FINGERPRINT_FIELDS",
    "PREFILL_PROMPT",
    "SEED_PROMPT",
    "TREATMENT_FIELDS",
    "ConfirmConfig",
    "GateConfig",
    "GitHubConfig",
    "HistoryConfig",
    "MetricPolicy",
    "PerfgateConfig",
    "RuntimeConfig",
    "ScenarioConfig",
    "SequentialConfig",
    "SimConfig",
    "TierConfig",
    "TierMatch",
    "TriageConfig",
    "base_url_problem",
    "env_overrides",
    "load_config",
    "read_config_file",
    "unknown_env",
]
