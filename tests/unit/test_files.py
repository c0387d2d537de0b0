from __future__ import annotations

import json
from typing import Any

import pytest

from perfgate.contracts.results import Failure, MetricSummary
from perfgate.errors import BadFileError, Kind, NewerSchemaError
from perfgate.files import dumps_model, parse_model, read_model, write_model


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


def test_a_current_file_reads_the_same_whichever_way_it_is_parsed():
    from support.synthetic import baseline_of, make_result, summarised  # noqa: PLC0415 -- only this test

    result = summarised(make_result(seed=3, n=5))
    for model in (result, baseline_of(result)):
        text = dumps_model(model)
        current = json.loads(text)["schema_version"]
        kind = type(model)
        read = parse_model(text, "f.json", kind, what="test", current_version=current)
        assert read == kind.model_validate(json.loads(text)) == model  # the one-pass read: same model


def test_an_older_file_still_goes_through_its_migration():
    seen: list[int] = []

    def migrate(data: dict[str, Any], where: str) -> dict[str, Any]:
        seen.append(data["schema_version"])
        return {**data, "schema_version": 2, "n": data["n"] + 1}

    fields = {"n": 2, "median": 1.0, "mean": 1.0, "stdev": 0.0, "cv": 0.0, "min": 1.0, "max": 1.0}
    old = json.dumps({"schema_version": 1, **fields})
    read = parse_model(old, "f.json", Versioned, what="test", current_version=2, migrate=migrate)
    assert seen == [1]
    assert (read.schema_version, read.n) == (2, 3)
