"""The tiers' runner_labels (config) and the perf workflow's runs-on must name the same runners."""

from __future__ import annotations

import re
from pathlib import Path

from perfgate.config import PerfgateConfig

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "perf.yml"


def workflow_labels() -> tuple[list[str], list[str]]:
    text = WORKFLOW.read_text(encoding="utf-8")
    runs_on = re.search(r"runs-on: \[([^\]]*matrix\.tier[^\]]*)\]", text)
    tiers = re.search(r"^\s+tier: \[([^\]]+)\]", text, flags=re.M)
    assert runs_on is not None, "the measure job's runs-on list names the tier"
    assert tiers is not None, "the measure job has a tier matrix"
    labels = [part.strip().strip('"') for part in runs_on.group(1).split(",")]
    return labels, [t.strip() for t in tiers.group(1).split(",")]


def test_every_workflow_tier_runs_on_the_labels_its_config_declares() -> None:
    labels, tiers = workflow_labels()
    config = PerfgateConfig()
    assert tiers, "no tier in the workflow matrix"
    for tier in tiers:
        expected = [label.replace("${{ matrix.tier }}", tier) for label in labels]
        assert list(config.tiers[tier].runner_labels) == expected, tier
