from __future__ import annotations

import json

import pytest

from perfgate.contracts.results import Failure, MetricSummary
from perfgate.errors import BadFileError, Kind, NewerSchemaError
from perfgate.files import dumps_model, read_model, write_model


class Versioned(MetricSummary):
    schema_version: int = 1


def test_round_trip_is_deterministic(tmp_path):
    model = Versioned(n=2, median=1.5, mean=1.5, stdev=0.7, cv=0.47, min=1.0, max=2.0)
    path = tmp_path / "sub" / "f.json"
    write_model(path, model)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert list(json.loads(text)) == sorted(json.loads(text))
    assert text == dumps_model(model)
    assert read_model(path, Versioned, what="test", current_version=1) == model
    assert not list(path.parent.glob(".*tmp"))


def test_errors_name_file_and_field(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(BadFileError, match=r"x.json: test file is not valid JSON"):
        read_model(path, Versioned, what="test", current_version=1)
    path.write_text(json.dumps({"schema_version": 1, "n": "many"}), encoding="utf-8")
    with pytest.raises(BadFileError, match=r"x.json: invalid test file at field 'n'"):
        read_model(path, Versioned, what="test", current_version=1)
    path.write_text(json.dumps({"n": 1}), encoding="utf-8")
    with pytest.raises(BadFileError, match="schema_version"):
        read_model(path, Versioned, what="test", current_version=1)
    path.write_text(json.dumps({"schema_version": 9}), encoding="utf-8")
    with pytest.raises(NewerSchemaError, match="upgrade perfgate"):
        read_model(path, Versioned, what="test", current_version=1)
    with pytest.raises(BadFileError, match="not found"):
        read_model(tmp_path / "missing.json", Versioned, what="test", current_version=1)


def test_non_ascii_written_as_is(tmp_path):
    path = tmp_path / "f.json"
    write_model(path, Failure(kind=Kind.TIMEOUT, message="Ross’s Mac mini"))
    assert "Ross’s Mac mini" in path.read_text(encoding="utf-8")
