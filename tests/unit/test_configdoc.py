from __future__ import annotations

from pathlib import Path

from perfgate.config import PerfgateConfig
from perfgate.configdoc import render_configuration_md

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_committed_configuration_doc_matches_the_model():
    assert DOC.read_text(encoding="utf-8") == render_configuration_md(), "docs/configuration.md is stale: nox -s docs"


def test_every_top_level_key_is_documented_with_its_env_var():
    text = render_configuration_md()
    for name in PerfgateConfig.model_fields:
        assert f"| `{name}` |" in text
        assert f"`PERFGATE_{name.upper()}`" in text
    assert "`PERFGATE_SCENARIOS__<NAME>__PROMPT`" in text
    assert "## `[tool.perfgate.tiers.<name>.match]`" in text
