"""What a measured figure can be: the checks every sample and baseline value passes when it is made or read.

A time, a rate or a memory peak is above 0 (a request takes time, a live
process holds memory); a count, a gap between chunks, a load time or a wait
may be 0. None is NaN or infinite. A file holding anything else was not
written by a measurement, and is refused when read, naming the sample and
the field (``Sample`` in ``contracts/results.py`` uses the types;
``Baseline``, whose values are bare numbers per metric, uses
:func:`figure_problem`).
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field

PositiveFigure = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Figure = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FiniteFigure = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]

# The metrics above 0 and the ones that may be 0 (the rest, an app's own figures, need only be finite):
# a baseline's bare values are checked against these. tests/unit/test_bad_inputs.py checks them against Sample.
POSITIVE_METRICS = frozenset(
    {
        "ttft_ms",
        "ttft_cold_ms",
        "e2e_ms",
        "app_wall_ms",
        "decode_tok_s",
        "client_decode_tok_s",
        "prefill_tok_s",
        "peak_runtime_rss_mb",
        "peak_runtime_footprint_mb",
        "peak_runtime_resident_mb",
        "peak_app_rss_mb",
        "peak_harness_rss_mb",
        "peak_combined_rss_mb",
    }
)
NON_NEGATIVE_METRICS = frozenset(
    {"load_ms", "load_cold_ms", "itl_ms_p50", "itl_ms_p90", "itl_ms_p99", "output_tokens", "peak_runtime_wired_mb"}
)


def figure_problem(metric: str, value: float) -> str | None:
    """Why ``value`` cannot be a measured ``metric`` (NaN, infinite, or 0 or below where impossible), or None."""
    if not math.isfinite(value):
        return f"{metric} is {value!r}: a measured figure is a finite number"
    if metric in POSITIVE_METRICS and value <= 0:
        return f"{metric} is {value!r}: a measured {metric} is above 0"
    if metric in NON_NEGATIVE_METRICS and value < 0:
        return f"{metric} is {value!r}: a measured {metric} is 0 or more"
    return None
