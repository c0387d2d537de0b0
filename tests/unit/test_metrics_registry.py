"""perfgate.metrics is the one list of metrics; everything that lists them must agree with it."""

from __future__ import annotations

import types
import typing

import pytest

from perfgate.contracts.results import MemoryPeaks, Sample, StreamObservation
from perfgate.measure.samples import build_sample, summarise_samples
from perfgate.metrics import BY_NAME, METRIC_UNITS, METRICS, TERMINAL_METRICS, direction_of, label, unit_of

# Numbers on a Sample that are not summarised metrics, each with the reason.
NOT_METRICS = {
    "iteration": "the sample's position, not a measurement",
    "sequence": "the sample's place in the run's order of requests, not a measurement",
    "decode_clock_ratio": "a cross-check of two clocks, reported as a note",
    "prompt_tokens": "an input size, fixed by the scenario",
    "retries_before_first_byte": "a count of transport retries, reported as a note",
    "server_reported_tok_s": "the runtime's own decode figure (n over n-1 gaps), kept for reading, never compared",
    "cpu_wait_ms": "evidence about perfgate's own clock, not about the runtime",
}


def _numeric_fields(model: type[Sample]) -> list[str]:
    """Sample fields whose type is a number (or a number or None)."""
    hints = typing.get_type_hints(model)
    out = []
    for name in model.model_fields:
        hint = hints[name]
        # `float | None` is a types.UnionType; an Annotated float (a checked figure) `| None` is a typing.Union.
        args = set(typing.get_args(hint)) if typing.get_origin(hint) in {types.UnionType, typing.Union} else {hint}
        if args - {type(None)} and args - {type(None)} <= {int, float}:
            out.append(name)
    return out


def test_the_registry_lists_every_numeric_sample_field_that_is_summarised():
    numeric = {name for name in _numeric_fields(Sample) if name not in NOT_METRICS}
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    assert set(names) == numeric, "a new Sample metric needs its line in perfgate.metrics (or a reason in NOT_METRICS)"


def test_the_excluded_fields_exist_and_are_numbers():
    assert set(NOT_METRICS) <= set(_numeric_fields(Sample))


def test_a_complete_sample_is_summarised_on_exactly_the_registry():
    obs = StreamObservation(
        sent_ns=0,
        first_content_ns=50_000_000,
        last_content_ns=250_000_000,
        done_ns=260_000_000,
        content_chunk_ns=tuple(50_000_000 + i * 20_000_000 for i in range(11)),
        text="x" * 11,
        output_tokens=11,
        prompt_tokens=20,
        uncached_prompt_tokens=20,
        prompt_eval_ns=10_000_000,
        eval_count=10,
        eval_ns=200_000_000,
        load_ns=1_000_000,
    )
    memory = MemoryPeaks(
        peak_runtime_rss_mb=900.0,
        peak_runtime_footprint_mb=800.0,
        peak_runtime_resident_mb=4900.0,
        peak_runtime_wired_mb=10.0,
        peak_harness_rss_mb=80.0,
        peak_combined_rss_mb=980.0,
    )
    sample = build_sample(obs, iteration=0, memory=memory, cold_load_ms=500)
    # An app scenario's sample adds the command's own wall time and tree memory; a cold start's, its cold figures.
    sample = sample.model_copy(
        update={"app_wall_ms": 900.0, "peak_app_rss_mb": 150.0, "load_cold_ms": 700.0, "ttft_cold_ms": 760.0}
    )
    assert list(summarise_samples([sample])) == [m.name for m in METRICS]


def test_the_derived_tables_follow_the_registry():
    assert list(METRIC_UNITS) == [m.name for m in METRICS]
    assert list(BY_NAME) == [m.name for m in METRICS]
    assert set(TERMINAL_METRICS) <= set(BY_NAME)


@pytest.mark.parametrize("spec", METRICS, ids=lambda m: m.name)
def test_every_metric_has_a_unit_a_label_and_a_direction(spec):
    assert unit_of(spec.name) == spec.unit != ""
    assert label(spec.name) == spec.label != ""
    # Throughputs are higher-is-better, everything else lower: the rule for names the registry does not know.
    assert direction_of(spec.name) == spec.direction == ("higher" if spec.name.endswith("_tok_s") else "lower")


def test_an_unknown_metric_is_shown_by_name_with_the_naming_rule_for_direction():
    assert label("new_metric_ms") == "new_metric_ms"
    assert unit_of("new_metric_ms") == ""
    assert direction_of("new_metric_ms") == "lower"
    assert direction_of("new_tok_s") == "higher"
