from __future__ import annotations

import pytest

from perfgate.contracts.results import (
    MemoryPeaks,
    MetricSummary,
    ScenarioOptions,
    ScenarioResult,
    StreamObservation,
    metric_values,
)
from perfgate.measure.samples import build_sample, summarise, summarise_samples
from perfgate.render.text import scenario_table

MS = 1_000_000


def obs(**overrides):
    base = {
        "sent_ns": 0,
        "first_content_ns": 50 * MS,
        "last_content_ns": 50 * MS + 9 * 10 * MS,
        "done_ns": 145 * MS,
        "content_chunk_ns": tuple(50 * MS + i * 10 * MS for i in range(10)),
        "text": "x" * 10,
        "output_tokens": 10,
        "prompt_tokens": 12,
    }
    base.update(overrides)
    return StreamObservation(**base)


def test_client_side_metrics_from_clock_readings():
    sample = build_sample(obs(), iteration=0, memory=None, cold_load_ms=500)
    assert sample.ttft_ms == pytest.approx(50.0)
    assert sample.e2e_ms == pytest.approx(145.0)
    # 10 tokens over 9 gaps of 10 ms
    assert sample.client_decode_tok_s == pytest.approx(100.0)
    assert sample.decode_source == "client"
    assert sample.decode_tok_s == sample.client_decode_tok_s
    assert sample.itl_ms_p50 == pytest.approx(10.0)
    assert sample.prefill_tok_s is None  # unknown, not 0
    assert sample.load_ms is None
    assert sample.cold is False


def test_server_rate_preferred_and_both_kept():
    sample = build_sample(obs(eval_count=10, eval_ns=180 * MS), iteration=0, memory=None, cold_load_ms=500)
    assert sample.decode_source == "server"
    assert sample.decode_tok_s == pytest.approx(50.0)  # 9 gaps in 180 ms
    assert sample.client_decode_tok_s == pytest.approx(100.0)


def test_both_clocks_count_the_n_minus_1_gaps_after_the_first_token():
    # Ollama's eval_duration runs from the first token to the last: 10 tokens, 9 gaps of 10 ms.
    sample = build_sample(obs(eval_count=10, eval_ns=90 * MS), iteration=0, memory=None, cold_load_ms=500)
    assert sample.decode_tok_s == pytest.approx(100.0)
    assert sample.client_decode_tok_s == pytest.approx(100.0)
    assert sample.decode_clock_ratio == pytest.approx(1.0)
    # The runtime's own figure (10 / 90 ms, as `ollama run --verbose` prints it) is kept beside it.
    assert sample.server_reported_tok_s == pytest.approx(10 / 0.090)
    # One token has no gap: no rate on either clock.
    one = build_sample(
        obs(eval_count=1, eval_ns=1, output_tokens=1, content_chunk_ns=(50 * MS,), last_content_ns=50 * MS),
        iteration=0,
        memory=None,
        cold_load_ms=500,
    )
    assert (one.decode_tok_s, one.client_decode_tok_s, one.decode_source) == (None, None, None)


def test_prefill_only_from_uncached_tokens_and_cold_flag():
    sample = build_sample(
        obs(uncached_prompt_tokens=100, prompt_eval_ns=50 * MS, load_ns=900 * MS),
        iteration=3,
        memory=None,
        cold_load_ms=500,
    )
    assert sample.prefill_tok_s == pytest.approx(2000.0)
    assert sample.load_ms == pytest.approx(900.0)
    assert sample.cold is True
    assert sample.iteration == 3


def test_no_content_means_no_ttft_and_no_rate():
    sample = build_sample(
        obs(first_content_ns=None, last_content_ns=None, content_chunk_ns=(), output_tokens=None),
        iteration=0,
        memory=None,
        cold_load_ms=500,
    )
    assert sample.ttft_ms is None
    assert sample.client_decode_tok_s is None
    assert sample.decode_tok_s is None
    assert sample.decode_source is None
    assert sample.output_tokens == 0


def test_memory_peaks_copied_and_none_stays_none():
    peaks = MemoryPeaks(
        peak_runtime_rss_mb=None, peak_harness_rss_mb=40.0, peak_combined_rss_mb=None, unavailable_reason="no runtime"
    )
    sample = build_sample(obs(), iteration=0, memory=peaks, cold_load_ms=500)
    assert sample.peak_runtime_rss_mb is None
    assert sample.peak_harness_rss_mb == 40.0
    summaries = summarise_samples([sample])
    assert "peak_runtime_rss_mb" not in summaries  # absent is never averaged as 0
    assert summaries["peak_harness_rss_mb"].median == 40.0


def test_summary_statistics():
    s = summarise([1.0, 2.0, 3.0, 10.0])
    assert s.n == 4
    assert s.median == 2.5
    assert s.mean == 4.0
    assert s.min == 1.0
    assert s.max == 10.0
    assert s.stdev == pytest.approx(4.0825, rel=1e-4)
    assert s.cv == pytest.approx(4.0825 / 4, rel=1e-4)
    single = summarise([5.0])
    assert single.stdev is None
    assert single.cv is None


def test_metric_values_skip_none():
    samples = [
        build_sample(obs(), iteration=0, memory=None, cold_load_ms=500),
        build_sample(obs(first_content_ns=None, content_chunk_ns=()), iteration=1, memory=None, cold_load_ms=500),
    ]
    assert metric_values(samples, "ttft_ms") == [50.0]


def test_server_and_client_clocks_are_cross_checked():
    agree = build_sample(obs(eval_count=10, eval_ns=85 * MS), iteration=0, memory=None, cold_load_ms=500)
    assert agree.decode_clock_ratio == pytest.approx((9 / 0.085) / 100.0)
    off = build_sample(obs(eval_count=10, eval_ns=180 * MS), iteration=1, memory=None, cold_load_ms=500)
    assert off.decode_clock_ratio == pytest.approx(0.5)
    options = ScenarioOptions(num_predict=10, num_ctx=2048, temperature=0, seed=1, keep_alive="1m")

    def table(samples):
        summaries: dict[str, MetricSummary] = summarise_samples(samples)
        result = ScenarioResult(
            name="s",
            prompt_sha256="x",
            prompt_chars=1,
            options=options,
            warmups_discarded=0,
            samples=tuple(samples),
            summaries=summaries,
        )
        return scenario_table(result)

    assert "disagree" not in table([agree])
    assert "server/client = 0.50" in table([off])


def test_session_pools_group_a_tiers_speed_figures_and_its_memory_figures() -> None:
    from perfgate.metrics import session_pool  # noqa: PLC0415

    speed = {session_pool("pro", m) for m in ("ttft_ms", "e2e_ms", "decode_tok_s", "prefill_tok_s", "load_cold_ms")}
    memory = {session_pool("pro", m) for m in ("peak_runtime_rss_mb", "peak_runtime_footprint_mb")}
    assert len(speed) == 1
    assert len(memory) == 1
    assert speed != memory
    assert session_pool("base", "ttft_ms") != session_pool("pro", "ttft_ms")  # a tier is its own machine
    assert session_pool("pro", "app.frames_ms") == "pro\x00app.frames_ms"  # an app's figure: only itself
