from __future__ import annotations

from pathlib import Path

from perfgate.contracts.schemas import render_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schema"


def test_committed_schemas_match_the_models():
    for name, text in render_schemas().items():
        committed = (DOCS / name).read_text(encoding="utf-8")
        assert committed == text, f"docs/schema/{name} is stale: run `nox -s docs`"


def test_results_schema_names_the_contract_fields():
    schema = render_schemas()["results.schema.json"]
    for field in ("schema_version", "ttft_ms", "decode_source", "peak_runtime_rss_mb", "failures", "fingerprint"):
        assert f'"{field}"' in schema
