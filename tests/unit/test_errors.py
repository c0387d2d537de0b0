"""One vocabulary for what went wrong: Kind, its subsets per file format, and the errors that carry it."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from perfgate import errors
from perfgate.contracts.gate import Problem
from perfgate.contracts.results import Failure
from perfgate.contracts.triage import TriageEntry
from perfgate.errors import CouldNotMeasure, FailureKind, Kind, ProblemKind, TriageKind
from perfgate.triage.policy import IMPACT, triage_kind


def members(alias: typing.Any) -> list[Kind]:
    """The Kind members a subset alias allows, in order."""
    annotated = alias.__value__  # TypeAliasType -> Annotated[Literal[...], Field(...)]
    return list(typing.get_args(typing.get_args(annotated)[0]))


# The values on disk: results files, gate.json and triage ledgers written before Kind existed must still load.
ON_DISK = {
    "FailureKind": [
        "runtime_unavailable",
        "model_missing",
        "runtime_error",
        "stream_truncated",
        "timeout",
        "protocol_error",
        "memory_unavailable",
        "app_failed",
        "app_no_request",
        "app_timeout",
        "timing_unreliable",
        "interrupted",
    ],
    "ProblemKind": [
        "runtime_unavailable",
        "model_missing",
        "runtime_error",
        "stream_truncated",
        "timeout",
        "protocol_error",
        "memory_unavailable",
        "app_failed",
        "app_no_request",
        "app_timeout",
        "timing_unreliable",
        "interrupted",
        "tier_missing",
        "baseline_missing",
        "incomparable",
        "measurement_missing",
        "bad_input",
    ],
    "TriageKind": [
        "regression",
        "runtime_unavailable",
        "model_missing",
        "runtime_error",
        "tier_missing",
        "baseline_missing",
        "incomparable",
        "memory_unavailable",
        "app_failed",
        "app_no_request",
        "app_timeout",
        "timing_unreliable",
        "measurement_missing",
        "drift",
    ],
}


@pytest.mark.parametrize("alias", [FailureKind, ProblemKind, TriageKind], ids=lambda a: a.__name__)
def test_each_file_format_allows_the_values_it_always_has(alias):
    assert [k.value for k in members(alias)] == ON_DISK[alias.__name__]


def test_kind_is_exactly_the_union_of_the_subsets():
    used = set(members(FailureKind)) | set(members(ProblemKind)) | set(members(TriageKind))
    assert used == set(Kind)


def test_every_failure_is_a_problem():
    assert set(members(FailureKind)) <= set(members(ProblemKind))


def _could_not_measure_errors() -> list[type[CouldNotMeasure]]:
    return [cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, CouldNotMeasure)]


@pytest.mark.parametrize("cls", _could_not_measure_errors(), ids=lambda c: c.__name__)
def test_every_could_not_measure_error_names_a_problem_kind(cls):
    assert isinstance(cls.kind, Kind)
    assert cls.kind in members(ProblemKind)
    problem = Problem(kind=cls.kind, tier="pro", message=cls("x").message)
    assert problem.kind is cls.kind


def test_the_measurement_errors_are_failures_and_a_missing_baseline_is_not():
    failing = {cls.kind for cls in _could_not_measure_errors() if cls is not errors.BaselineMissing}
    # An interrupt is a failure of the run but no error of perfgate's tree (perfgate.interrupts.Interrupted).
    assert failing | {Kind.INTERRUPTED} == set(members(FailureKind))
    assert errors.BaselineMissing.kind is Kind.BASELINE_MISSING
    with pytest.raises(ValidationError):
        Failure(kind=Kind.BASELINE_MISSING, message="a baseline is not measured")


def test_validation_keeps_each_format_to_its_subset():
    assert Failure.model_validate_json('{"kind": "timeout", "message": "m"}').kind is Kind.TIMEOUT
    assert Problem.model_validate({"kind": "tier_missing", "tier": "t", "message": "m"}).kind is Kind.TIER_MISSING
    with pytest.raises(ValidationError):
        Failure.model_validate_json('{"kind": "tier_missing", "message": "m"}')
    with pytest.raises(ValidationError):
        Problem.model_validate({"kind": "regression", "tier": "t", "message": "m"})
    with pytest.raises(ValidationError, match="kind"):
        TriageEntry.model_validate({"kind": "timeout"})


def test_the_json_is_the_plain_value():
    assert (
        Failure(kind=Kind.TIMEOUT, message="m").model_dump_json()
        == '{"kind":"timeout","message":"m","scenario":null,"iteration":null}'
    )


@pytest.mark.parametrize(
    "kind", [k for k in members(ProblemKind) if k not in (Kind.INTERRUPTED, Kind.BAD_INPUT)], ids=str
)
def test_every_problem_files_as_a_triage_kind_with_an_impact(kind):
    filed = triage_kind(kind)
    assert filed in members(TriageKind)
    assert filed in IMPACT
    expected = Kind.RUNTIME_ERROR if kind in (Kind.STREAM_TRUNCATED, Kind.TIMEOUT, Kind.PROTOCOL_ERROR) else kind
    assert filed is expected


def test_an_interrupted_run_is_nobodys_defect_and_files_no_triage_entry():
    assert triage_kind(Kind.INTERRUPTED) is None
    assert Kind.INTERRUPTED not in members(TriageKind)


def test_a_refused_input_file_files_no_triage_entry():
    # Its tier is what the refused file says: not trusted into an issue's title or marker.
    assert triage_kind(Kind.BAD_INPUT) is None
    assert Kind.BAD_INPUT not in members(TriageKind)


def test_every_triage_kind_has_an_impact():
    assert list(IMPACT) == members(TriageKind)


def test_a_bad_kind_in_a_file_lists_the_allowed_values_as_the_file_spells_them():
    with pytest.raises(ValidationError) as info:
        Failure.model_validate_json('{"kind": "oops", "message": "m"}')
    (error,) = info.value.errors()
    assert error["loc"] == ("kind",)
    expected = ", ".join(repr(v) for v in ON_DISK["FailureKind"][:-1]) + f" or {ON_DISK['FailureKind'][-1]!r}"
    assert error["msg"] == f"Input should be {expected}"
