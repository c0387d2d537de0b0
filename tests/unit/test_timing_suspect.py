"""A sample timed while perfgate was starved of CPU is marked, left out of the statistics, and too many fail the run.

All on synthetic observations: the rules are about the numbers, not about a live machine
(the live check is in tests/integration/test_timing_accuracy.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perfgate.contracts.results import Sample, ScenarioOptions, ScenarioResult, StreamObservation, metric_values
from perfgate.measure.samples import CPU_WAIT_FLOOR_MS, build_sample, summarise_samples
from perfgate.render.text import scenario_table
from perfgate.runtimes.clock import CpuWaits, WaitClock

MS = 1_000_000


def stream(*, ttft_ms: float = 20.0, gap_ms: float = 10.0, tokens: int = 10, server: bool = False) -> StreamObservation:
    chunks = tuple(int((ttft_ms + i * gap_ms) * MS) for i in range(tokens))
    extra = {"eval_count": tokens, "eval_ns": int((tokens - 1) * 10.0 * MS)} if server else {}
    return StreamObservation(
        sent_ns=0,
        first_content_ns=chunks[0],
        last_content_ns=chunks[-1],
        done_ns=chunks[-1] + MS,
        content_chunk_ns=chunks,
        text="x" * tokens,
        output_tokens=tokens,
        prompt_tokens=12,
        **extra,
    )


def sample(obs: StreamObservation, cpu_wait_ms: float | None = None, *, decode_wait_ms: float = 0.0) -> Sample:
    """``cpu_wait_ms`` waited before the first content, ``decode_wait_ms`` between the first and the last."""
    waits = None
    if cpu_wait_ms is not None:
        waits = CpuWaits(total_ms=cpu_wait_ms + decode_wait_ms, ttft_ms=cpu_wait_ms, decode_ms=decode_wait_ms)
    return build_sample(obs, iteration=0, memory=None, cold_load_ms=500, cpu_waits=waits)


def test_a_quiet_sample_is_trusted():
    quiet = sample(stream(), cpu_wait_ms=0.3)
    assert quiet.suspect_reason is None
    assert quiet.cpu_wait_ms == 0.3


def test_waiting_for_a_cpu_longer_than_half_the_ttft_marks_the_sample():
    # A TTFT of 60 ms read up to 35 ms late may be off by more than 2x: marked.
    starved = sample(stream(ttft_ms=60), cpu_wait_ms=35.0)
    assert starved.suspect_reason == "perfgate waited 35.0 ms for a CPU during a 60.0 ms TTFT"
    # ... and 25 ms cannot double it: kept.
    assert sample(stream(ttft_ms=60), cpu_wait_ms=25.0).suspect_reason is None
    # A wait under the floor marks nothing, even against a TTFT of a few ms (routine on a shared runner).
    assert sample(stream(ttft_ms=3), cpu_wait_ms=CPU_WAIT_FLOOR_MS).suspect_reason is None


def test_waiting_longer_than_half_the_decode_window_marks_the_sample():
    # 10 tokens 5 ms apart: a 45 ms window; TTFT 200 ms is safe, the decode rate is not.
    starved = sample(stream(ttft_ms=200, gap_ms=5.0), cpu_wait_ms=0.0, decode_wait_ms=25.0)
    assert starved.suspect_reason == "perfgate waited 25.0 ms for a CPU during a 45.0 ms decode"


def test_clocks_that_disagree_by_more_than_2x_mark_the_sample_without_the_oss_word():
    # The runtime streamed 9 gaps of 10 ms; perfgate read them 1 ms apart (a burst after a stall).
    burst = sample(stream(gap_ms=1.0, server=True))
    assert burst.suspect_reason is not None
    assert "on perfgate's clock" in burst.suspect_reason
    assert sample(stream(gap_ms=10.0, server=True)).suspect_reason is None


def test_a_stream_read_in_bursts_is_marked_when_nothing_else_can_tell():
    # No server clock, no schedstat (macOS against a generic OpenAI server): the chunks' own spacing.
    burst = sample(stream(gap_ms=0.01, tokens=12))
    assert burst.suspect_reason == "11 of 11 chunk gaps under 50 µs: read in bursts"
    assert sample(stream(gap_ms=0.5, tokens=12)).suspect_reason is None
    # Where the OS said the thread did not wait, a fast stream is just fast.
    assert sample(stream(gap_ms=0.01, tokens=12), cpu_wait_ms=0.0).suspect_reason is None


def test_a_suspect_samples_client_clock_figures_stay_out_of_the_statistics():
    good = sample(stream(ttft_ms=40, server=True), cpu_wait_ms=0.1)
    starved = sample(stream(ttft_ms=40, server=True), cpu_wait_ms=25.0)
    assert starved.suspect_reason is not None
    both = [good, starved]
    for metric in ("ttft_ms", "e2e_ms", "client_decode_tok_s", "itl_ms_p50"):
        assert len(metric_values(both, metric)) == 1, metric
    # The runtime's own clock is not perfgate's: its decode rate stays.
    assert len(metric_values(both, "decode_tok_s")) == 2
    client_only = sample(stream(ttft_ms=40), cpu_wait_ms=25.0)
    assert client_only.decode_source == "client"
    assert metric_values([client_only], "decode_tok_s") == []


def test_the_clock_notes_the_run_queue_wait_at_each_reading(tmp_path: Path):
    stat = tmp_path / "schedstat"
    stat.write_text("123456 7000000 42\n", encoding="utf-8")
    clock = WaitClock(stat)
    sent = clock()
    stat.write_text("223456 9500000 50\n", encoding="utf-8")
    first = clock()
    stat.write_text("323456 9600000 51\n", encoding="utf-8")
    last = clock()
    stat.write_text("423456 9700000 52\n", encoding="utf-8")
    done = clock()
    obs = StreamObservation(
        sent_ns=sent,
        first_content_ns=first,
        last_content_ns=last,
        done_ns=done,
        content_chunk_ns=(first, last),
        text="ab",
        output_tokens=2,
        prompt_tokens=1,
    )
    assert clock.waits(obs) == CpuWaits(total_ms=2.7, ttft_ms=2.5, decode_ms=pytest.approx(0.1))
    clock.reset()
    assert clock.waits(obs) is None  # readings of an earlier request are forgotten
    clock.close()


def test_the_clock_says_nothing_where_the_os_keeps_no_count(tmp_path: Path):
    clock = WaitClock(tmp_path / "absent")
    now = clock()
    obs = StreamObservation(
        sent_ns=now, first_content_ns=None, last_content_ns=None, done_ns=now,
        content_chunk_ns=(), text="", output_tokens=0, prompt_tokens=1,
    )  # fmt: skip
    assert clock.waits(obs) is None


def _scenario(samples: list[Sample]) -> ScenarioResult:
    return ScenarioResult(
        name="prefill",
        prompt_sha256="x",
        prompt_chars=1,
        options=ScenarioOptions(num_predict=10, num_ctx=2048, temperature=0, seed=1, keep_alive="1m"),
        warmups_discarded=0,
        samples=tuple(samples),
        summaries=summarise_samples(samples),
    )


def test_the_table_counts_and_names_suspect_samples_and_keeps_rows_with_no_value():
    good = sample(stream(ttft_ms=40, server=True), cpu_wait_ms=0.1)
    starved = sample(stream(ttft_ms=40, server=True), cpu_wait_ms=25.0).model_copy(update={"iteration": 1})
    table = scenario_table(_scenario([good, starved]))
    assert (
        "  1 of 2 samples left out of perfgate's clock figures (suspect timing), e.g. run 2: "
        "perfgate waited 25.0 ms for a CPU during a 40.0 ms TTFT"
    ) in table
    # No prompt timing from the runtime (a cached prompt): the row stays, with the reason.
    (prefill,) = [line for line in table.splitlines() if line.startswith("prefill_tok_s")]
    assert "runtime sent no prompt timing (prompt cached?)" in prefill
    assert "—" in prefill
    assert "peak_app_rss_mb" not in table  # not an app scenario
    assert "peak_runtime_footprint_mb" not in table  # macOS only
