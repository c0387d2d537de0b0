"""The one error tree of perfgate. Every error carries its exit code.

::

    PerfgateError                      (exit 2 unless a subclass says otherwise)
    ├── UsageError                     2  bad flags, bad config, bad input file
    │   ├── ConfigError                2  config file/env/flags do not validate
    │   ├── BadFileError               2  a results/baseline/ledger file is corrupt (names file + field)
    │   │   └── NewerSchemaError       2  file written by a newer perfgate ("upgrade perfgate")
    │   ├── BaselineRefused            2  a baseline update that must not happen
    │   └── MissingExtraError          2  an optional dependency is not installed
    ├── CouldNotMeasure                3  no trustworthy number could be produced
    │   ├── RuntimeUnavailable         3  nothing listening on the base URL
    │   ├── ModelMissing               3  runtime answered 404 for the model
    │   ├── RuntimeFailure             3  5xx or an {"error"} line inside a stream
    │   ├── StreamTruncated            3  stream ended without done / [DONE]
    │   ├── RuntimeTimeout             3  connect/read timeout
    │   ├── ProtocolError              3  a line/event that is not the documented format
    │   ├── MemoryUnavailable          3  no runtime process found to sample
    │   └── BaselineMissing            3  no baseline for the tier
    └── PublishError                   5  GitHub (or another sink) refused or failed

A measurement error is never turned into a verdict: the harness records it as a
``Failure`` in the results file and the CLI exits with its code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; ``docs/exit-codes.md`` documents each."""

    OK = 0
    REGRESSION = 1
    USAGE = 2
    COULD_NOT_MEASURE = 3
    INCONCLUSIVE = 4
    PUBLISH_FAILED = 5


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
    """No trustworthy number could be produced. ``kind`` is the failure kind."""

    exit_code = ExitCode.COULD_NOT_MEASURE
    kind = "runtime_error"


class RuntimeUnavailable(CouldNotMeasure):
    """Nothing is listening on the runtime's base URL."""

    kind = "runtime_unavailable"


class ModelMissing(CouldNotMeasure):
    """The runtime does not have the model (HTTP 404)."""

    kind = "model_missing"


class RuntimeFailure(CouldNotMeasure):
    """The runtime reported an error (5xx, or an error line inside a stream)."""

    kind = "runtime_error"


class StreamTruncated(CouldNotMeasure):
    """The stream ended before its documented end marker."""

    kind = "stream_truncated"


class RuntimeTimeout(CouldNotMeasure):
    """Connect or read timed out."""

    kind = "timeout"


class ProtocolError(CouldNotMeasure):
    """The runtime sent something that is not its documented wire format."""

    kind = "protocol_error"


class MemoryUnavailable(CouldNotMeasure):
    """No runtime process could be found to sample."""

    kind = "memory_unavailable"


class BaselineMissing(CouldNotMeasure):
    """No baseline exists for the tier."""

    kind = "baseline_missing"


class LookFailed(PerfgateError):
    """A sequential run's look could not be decided (its child process failed or refused the baseline)."""

    exit_code = ExitCode.COULD_NOT_MEASURE


class PublishError(PerfgateError):
    """Publishing (GitHub comment, issues) failed; the gate result is kept."""

    exit_code = ExitCode.PUBLISH_FAILED
