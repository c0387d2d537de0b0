"""JSON Schemas of perfgate's files, generated from the models into ``docs/schema/``.

``nox -s docs`` rewrites them; a test fails when the committed copies drift.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from perfgate.contracts.baseline import Baseline
from perfgate.contracts.confirmation import Confirmation
from perfgate.contracts.gate import GateReport
from perfgate.contracts.history import HistoryEntry
from perfgate.contracts.proxy import ProxyRecordLine
from perfgate.contracts.results import RunResult
from perfgate.contracts.triage import TriageLedger

SCHEMAS: dict[str, type[BaseModel]] = {
    "results.schema.json": RunResult,
    "baseline.schema.json": Baseline,
    "gate.schema.json": GateReport,
    "triage-ledger.schema.json": TriageLedger,
    "proxy-record.schema.json": ProxyRecordLine,  # one line of a `perfgate proxy --record` file
    "confirmation.schema.json": Confirmation,
    "history-entry.schema.json": HistoryEntry,  # one file of the history store (issue 19)
}


def render_schemas() -> dict[str, str]:
    """File name -> deterministic JSON Schema text."""
    return {
        name: json.dumps(model.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, model in SCHEMAS.items()
    }


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
