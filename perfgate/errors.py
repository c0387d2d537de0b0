"""The one error tree of perfgate. Every error carries its exit code.

::

    PerfgateError                      (exit 2 unless a subclass says otherwise)
    ├── UsageError                     2  bad flags, bad config, bad input file
    │   ├── ConfigError                2  config file/env/flags do not validate
    │   ├── BadFileError               2  a results/baseline/ledger file is corrupt (names file + field)
    │   │   └── NewerSchemaError       2  file written by a newer perfgate ("upgrade perfgate")
    │   ├── BaselineRefused            2  a baseline update that must not happen
    │   └── MissingExtraError          2  an optional dependency is not installed
    ├── CouldNotMeasure                3  no trustworthy number could be produced (``kind`` says why)
    │   ├── RuntimeUnavailable         3  nothing listening on the base URL
    │   ├── ModelMissing               3  runtime answered 404 for the model
    │   ├── RuntimeFailure             3  5xx or an {"error"} line inside a stream
    │   ├── StreamTruncated            3  stream ended without done / [DONE]
    │   ├── RuntimeTimeout             3  connect/read timeout
    │   ├── ProtocolError              3  a line/event that is not the documented format
    │   ├── MemoryUnavailable          3  no runtime process found to sample
    │   ├── AppFailed                  3  the app's benchmark command exited non-zero
    │   ├── AppNoRequest               3  the app's command made no LLM request through the proxy
    │   ├── AppTimeout                 3  the app's command did not end within its timeout
    │   ├── TimingUnreliable           3  perfgate was starved of CPU for every sample of a scenario
    │   └── BaselineMissing            3  no baseline for the tier
    ├── LookFailed                     3  a sequential run's look could not be decided
    └── PublishError                   5  GitHub (or another sink) refused or failed

A measurement error is never turned into a verdict: the harness records it as a
``Failure`` in the results file and the CLI exits with its code. An interrupt
(SIGINT, SIGTERM: ``perfgate.interrupts.Interrupted``, a ``KeyboardInterrupt``)
is not an error of this tree: the harness records it as an ``interrupted``
failure and the CLI exits 128 + the signal's number (130, 143).

"What went wrong" has one vocabulary, ``Kind``: an error's ``kind``, a
``Failure`` in a results file, a ``Problem`` in ``gate.json`` and a triage
entry all use its values. Each file format allows the subset named below
(``FailureKind``, ``ProblemKind``, ``TriageKind``); ``docs/schema/`` lists them.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType


class ExitCode(IntEnum):
    """Process exit codes; ``docs/exit-codes.md`` documents each."""

    OK = 0
    REGRESSION = 1
    USAGE = 2
    COULD_NOT_MEASURE = 3
    INCONCLUSIVE = 4
    PUBLISH_FAILED = 5
    INTERNAL = 70  # EX_SOFTWARE: a bug in perfgate, never a verdict


class Kind(StrEnum):
    """What went wrong: the one vocabulary of errors, failures, gate problems and triage entries."""

    REGRESSION = "regression"  # a gating metric got worse (triage only)
    RUNTIME_UNAVAILABLE = "runtime_unavailable"
    MODEL_MISSING = "model_missing"
    RUNTIME_ERROR = "runtime_error"
    STREAM_TRUNCATED = "stream_truncated"
    TIMEOUT = "timeout"
    PROTOCOL_ERROR = "protocol_error"
    MEMORY_UNAVAILABLE = "memory_unavailable"
    TIER_MISSING = "tier_missing"
    BASELINE_MISSING = "baseline_missing"
    INCOMPARABLE = "incomparable"
    # a scenario or gating metric of the baseline with no valid value in the results, or nothing compared at all
    MEASUREMENT_MISSING = "measurement_missing"
    APP_FAILED = "app_failed"  # the app's benchmark command exited non-zero
    APP_NO_REQUEST = "app_no_request"  # ... ended without one LLM request through the proxy
    APP_TIMEOUT = "app_timeout"  # ... did not end within its timeout (its process tree was killed)
    TIMING_UNRELIABLE = "timing_unreliable"  # perfgate's clock readings were starved of CPU in every sample
    INTERRUPTED = "interrupted"  # SIGINT/SIGTERM stopped the run: nobody's defect, so never a triage entry
    # a results or baseline file the gate would not read (corrupt, too large, too new, a bad name): its tier
    # fails the gate (exit 2) while the others are decided; never a triage entry (its content is not trusted)
    BAD_INPUT = "bad_input"
    DRIFT = "drift"  # the default branch's history moved past a threshold (``perfgate history drift``; triage only)


# The subsets each file format allows. Literal types, so mypy checks them; named
# aliases, so each is one definition in docs/schema. The order is the schemas' order.
_MeasurementKind = Literal[
    Kind.RUNTIME_UNAVAILABLE,
    Kind.MODEL_MISSING,
    Kind.RUNTIME_ERROR,
    Kind.STREAM_TRUNCATED,
    Kind.TIMEOUT,
    Kind.PROTOCOL_ERROR,
    Kind.MEMORY_UNAVAILABLE,
    Kind.APP_FAILED,
    Kind.APP_NO_REQUEST,
    Kind.APP_TIMEOUT,
    Kind.TIMING_UNRELIABLE,
    Kind.INTERRUPTED,
]
_ProblemKind = Literal[
    _MeasurementKind,
    Kind.TIER_MISSING,
    Kind.BASELINE_MISSING,
    Kind.INCOMPARABLE,
    Kind.MEASUREMENT_MISSING,
    Kind.BAD_INPUT,
]
_TriageKind = Literal[
    Kind.REGRESSION,
    Kind.RUNTIME_UNAVAILABLE,
    Kind.MODEL_MISSING,
    Kind.RUNTIME_ERROR,
    Kind.TIER_MISSING,
    Kind.BASELINE_MISSING,
    Kind.INCOMPARABLE,
    Kind.MEMORY_UNAVAILABLE,
    Kind.APP_FAILED,
    Kind.APP_NO_REQUEST,
    Kind.APP_TIMEOUT,
    Kind.TIMING_UNRELIABLE,
    Kind.MEASUREMENT_MISSING,
    Kind.DRIFT,
]


def _spelled_as_in_files(allowed: object) -> WrapValidator:
    """A bad kind in a file is reported with the allowed values as the file spells them, not as Python reprs."""
    values = [repr(kind.value) for kind in get_args(allowed)]
    expected = f"{', '.join(values[:-1])} or {values[-1]}"

    def check(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected}) from None

    return WrapValidator(check)


FailureKind = TypeAliasType(
    "FailureKind",
    Annotated[
        _MeasurementKind,
        _spelled_as_in_files(_MeasurementKind),
        Field(title="FailureKind", description="Why a measurement could not be made."),
    ],
)
"""A ``Failure`` in a results file: why a measurement could not be made."""

ProblemKind = TypeAliasType(
    "ProblemKind",
    Annotated[
        _ProblemKind,
        _spelled_as_in_files(_ProblemKind),
        Field(title="ProblemKind", description="Why (part of) a gate could not be decided."),
    ],
)
"""A ``Problem`` in ``gate.json``: a failure, or a tier, baseline or comparison that is missing."""

TRIAGE_KINDS: tuple[str, ...] = tuple(kind.value for kind in get_args(_TriageKind))
"""The kinds a triage entry can have, as the config spells them (``triage.owners`` keys)."""

TriageKind = TypeAliasType(
    "TriageKind", Annotated[_TriageKind, _spelled_as_in_files(_TriageKind), Field(title="TriageKind")]
)
"""A triage entry: a regression or a problem (stream-level failures are filed as ``runtime_error``)."""


class PerfgateError(Exception):
    """Root of every error perfgate raises on purpose."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PerfgateError):
    """The user asked for something perfgate cannot do as asked."""


class ConfigError(UsageError):
    """Configuration does not validate."""


class BadFileError(UsageError):
    """A file perfgate reads is corrupt; the message names the file and field."""


class NewerSchemaError(BadFileError):
    """A file was written by a newer perfgate."""


class BaselineRefused(UsageError):
    """A baseline update was refused (failures, too few samples, simulated data...)."""


class MissingExtraError(UsageError):
    """An optional dependency group is not installed."""


class CouldNotMeasure(PerfgateError):
    """No trustworthy number could be produced. ``kind`` says why."""

    exit_code = ExitCode.COULD_NOT_MEASURE
    kind: ClassVar[Kind] = Kind.RUNTIME_ERROR


class RuntimeUnavailable(CouldNotMeasure):
    """Nothing is listening on the runtime's base URL."""

    kind = Kind.RUNTIME_UNAVAILABLE


class ModelMissing(CouldNotMeasure):
    """The runtime does not have the model (HTTP 404)."""

    kind = Kind.MODEL_MISSING


class RuntimeFailure(CouldNotMeasure):
    """The runtime reported an error (5xx, or an error line inside a stream)."""

    kind = Kind.RUNTIME_ERROR


class StreamTruncated(CouldNotMeasure):
    """The stream ended before its documented end marker."""

    kind = Kind.STREAM_TRUNCATED


class RuntimeTimeout(CouldNotMeasure):
    """Connect or read timed out."""

    kind = Kind.TIMEOUT


class ProtocolError(CouldNotMeasure):
    """The runtime sent something that is not its documented wire format."""

    kind = Kind.PROTOCOL_ERROR


class MemoryUnavailable(CouldNotMeasure):
    """No runtime process could be found to sample."""

    kind = Kind.MEMORY_UNAVAILABLE


class AppFailed(CouldNotMeasure):
    """The app's benchmark command exited non-zero (its last stderr lines are in the message)."""

    kind = Kind.APP_FAILED


class AppNoRequest(CouldNotMeasure):
    """The app's benchmark command ended without making one LLM request through perfgate's proxy."""

    kind = Kind.APP_NO_REQUEST


class AppTimeout(CouldNotMeasure):
    """The app's benchmark command did not end within its timeout; its whole process tree was killed."""

    kind = Kind.APP_TIMEOUT


class TimingUnreliable(CouldNotMeasure):
    """Every sample of a scenario was timed while perfgate was starved of CPU: its clock readings lag the runtime.

    Their memory figures and the runtime's own clocks are kept; the client-clock figures are not.
    """

    kind = Kind.TIMING_UNRELIABLE


class BaselineMissing(CouldNotMeasure):
    """No baseline exists for the tier."""

    kind = Kind.BASELINE_MISSING


class LookFailed(PerfgateError):
    """A sequential run's look could not be decided (its child process failed or refused the baseline)."""

    exit_code = ExitCode.COULD_NOT_MEASURE


class PublishError(PerfgateError):
    """Publishing (GitHub comment, issues) failed; the gate result is kept."""

    exit_code = ExitCode.PUBLISH_FAILED
