"""Turn one stream observation into a sample, and samples into summaries.

Pure functions: no clock, no I/O. ``docs/metrics.md`` defines every metric.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

from perfgate.contracts.results import MemoryPeaks, Sample, StreamObservation
from perfgate.contracts.summaries import summarise, summarise_samples
from perfgate.runtimes.clock import CpuWaits

__all__ = ["build_sample", "cold_start_sample", "summarise", "summarise_samples", "timing_suspect"]

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of sorted values."""
    pos = (len(sorted_values) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def _rate(count: int | None, duration_ns: int | None) -> float | None:
    if count is None or duration_ns is None or count <= 0 or duration_ns <= 0:
        return None
    return count / (duration_ns / NS_PER_S)


# A stream whose content chunks mostly arrive this close together came in bursts after stalls.
BURST_GAP_NS = 50_000
BURST_SHARE = 0.5
BURST_MIN_CHUNKS = 8
# A wait for a CPU shorter than this does not mark a sample: on a shared runner a few ms of
# waiting is routine, and runtimes whose figures are a few ms long would otherwise be marked
# whole; the waits that collapsed perfgate's figures were 27-52 ms. An unmarked sample's
# client-clock span is thus off by at most this much or by 2x, whichever is larger.
CPU_WAIT_FLOOR_MS = 20.0
# Clocks whose decode rates differ by more than this factor do not describe one stream.
CLOCKS_DISAGREE = 2.0


def build_sample(
    obs: StreamObservation,
    *,
    iteration: int,
    memory: MemoryPeaks | None,
    cold_load_ms: float,
    cpu_waits: CpuWaits | None = None,
) -> Sample:
    """Derive every per-request metric from what the client observed.

    ``cpu_waits``: how long the measuring thread waited for a CPU within the request, if the OS says.
    """
    n_out = obs.output_tokens if obs.output_tokens is not None else len(obs.content_chunk_ns)
    client_rate: float | None = None
    if obs.first_content_ns is not None and obs.last_content_ns is not None and n_out >= 2:
        # n tokens span n-1 gaps between the first and the last token.
        client_rate = _rate(n_out - 1, obs.last_content_ns - obs.first_content_ns)
    # The server's duration spans the same n-1 gaps (its first token comes with the prompt's
    # evaluation), so its rate is counted alike; its own n/duration is kept as reported.
    server_rate = _rate(obs.eval_count - 1, obs.eval_ns) if obs.eval_count is not None else None
    decode = server_rate if server_rate is not None else client_rate
    source: Literal["server", "client"] | None = None
    if decode is not None:
        source = "server" if server_rate is not None else "client"
    gaps = sorted((b - a) / NS_PER_MS for a, b in zip(obs.content_chunk_ns, obs.content_chunk_ns[1:], strict=False))
    load_ms = None if obs.load_ns is None else obs.load_ns / NS_PER_MS
    ttft_ms = None if obs.first_content_ns is None else (obs.first_content_ns - obs.sent_ns) / NS_PER_MS
    return Sample(
        iteration=iteration,
        ttft_ms=ttft_ms,
        e2e_ms=(obs.done_ns - obs.sent_ns) / NS_PER_MS,
        decode_tok_s=decode,
        decode_source=source,
        server_reported_tok_s=_rate(obs.eval_count, obs.eval_ns),
        client_decode_tok_s=client_rate,
        decode_clock_ratio=server_rate / client_rate if server_rate is not None and client_rate else None,
        prefill_tok_s=_rate(obs.uncached_prompt_tokens, obs.prompt_eval_ns),
        load_ms=load_ms,
        cold=load_ms is not None and load_ms > cold_load_ms,
        output_tokens=obs.output_tokens if obs.output_tokens is not None else len(obs.content_chunk_ns),
        prompt_tokens=obs.prompt_tokens,
        itl_ms_p50=_percentile(gaps, 0.50) if gaps else None,
        itl_ms_p90=_percentile(gaps, 0.90) if gaps else None,
        itl_ms_p99=_percentile(gaps, 0.99) if gaps else None,
        done_reason=obs.done_reason,
        token_count_source=obs.token_count_source,
        retries_before_first_byte=obs.retries_before_first_byte,
        peak_runtime_rss_mb=memory.peak_runtime_rss_mb if memory else None,
        peak_runtime_footprint_mb=memory.peak_runtime_footprint_mb if memory else None,
        peak_runtime_resident_mb=memory.peak_runtime_resident_mb if memory else None,
        peak_runtime_wired_mb=memory.peak_runtime_wired_mb if memory else None,
        peak_harness_rss_mb=memory.peak_harness_rss_mb if memory else None,
        peak_combined_rss_mb=memory.peak_combined_rss_mb if memory else None,
        peak_app_rss_mb=memory.peak_app_rss_mb if memory else None,
        cpu_wait_ms=None if cpu_waits is None else cpu_waits.total_ms,
        suspect_reason=timing_suspect(
            obs, ttft_ms=ttft_ms, cpu_waits=cpu_waits, server_rate=server_rate, client_rate=client_rate
        ),
    )


def cold_start_sample(sample: Sample, obs: StreamObservation, *, began_ns: int, load_ns: int | None) -> Sample:
    """A cold start's sample: its TTFT counted from when the unloaded model was asked for, and its load time.

    ``began_ns`` is on the client's clock, before the load (llama.cpp: the server's start) or the request
    (Ollama, which loads on it); ``load_ns`` is the load's own duration where it was a step of its own, else
    the runtime's ``load_duration``. ``ttft_ms`` is left empty: a cold TTFT is another metric, never a warm one.
    """
    load = load_ns if load_ns is not None else obs.load_ns
    first = obs.first_content_ns
    return sample.model_copy(
        update={
            "ttft_ms": None,
            "ttft_cold_ms": None if first is None else max(first - began_ns, 1) / NS_PER_MS,
            "load_cold_ms": None if load is None else load / NS_PER_MS,
            "cold": True,
        }
    )


def timing_suspect(
    obs: StreamObservation,
    *,
    ttft_ms: float | None,
    cpu_waits: CpuWaits | None,
    server_rate: float | None,
    client_rate: float | None,
) -> str | None:
    """Why this stream's client-clock timings cannot be trusted, or None.

    A reading taken after the thread waited W ms for a CPU since an earlier
    reading is at most W ms late relative to it, and the request is stamped
    before it is written, so a span m between two readings is off by more than
    2x only if the wait between them exceeds m / 2: such a sample is marked,
    for TTFT (sent to first content) and the decode span (first to last
    content), once the wait is past ``CPU_WAIT_FLOOR_MS``. Without the OS's word (macOS), a server clock that
    disagrees with the client's by more than 2x, or a stream that mostly
    arrived in bursts, says it.
    """
    window_ms = None
    if obs.first_content_ns is not None and obs.last_content_ns is not None:
        window_ms = (obs.last_content_ns - obs.first_content_ns) / NS_PER_MS
    if cpu_waits is not None:
        ttft_wait, decode_wait = cpu_waits.ttft_ms, cpu_waits.decode_ms
        if ttft_wait is not None and ttft_wait <= CPU_WAIT_FLOOR_MS:
            ttft_wait = None
        if decode_wait is not None and decode_wait <= CPU_WAIT_FLOOR_MS:
            decode_wait = None
        if ttft_ms is not None and ttft_wait is not None and ttft_wait > ttft_ms / 2:
            return f"perfgate waited {ttft_wait:.1f} ms for a CPU during a {ttft_ms:.1f} ms TTFT"
        if (
            window_ms is not None
            and client_rate is not None
            and decode_wait is not None
            and decode_wait > window_ms / 2
        ):
            return f"perfgate waited {decode_wait:.1f} ms for a CPU during a {window_ms:.1f} ms decode"
    if server_rate is not None and client_rate is not None:
        ratio = client_rate / server_rate
        if ratio > CLOCKS_DISAGREE or ratio < 1 / CLOCKS_DISAGREE:
            return (
                f"decode rate {client_rate:,.0f} tok/s on perfgate's clock, {server_rate:,.0f} on the runtime's: "
                "the chunks were not read as they came"
            )
    elif cpu_waits is None:
        chunks = obs.content_chunk_ns
        if len(chunks) >= BURST_MIN_CHUNKS:
            close = sum(1 for a, b in itertools.pairwise(chunks) if b - a < BURST_GAP_NS)
            if close > BURST_SHARE * (len(chunks) - 1):
                return f"{close} of {len(chunks) - 1} chunk gaps under {BURST_GAP_NS // 1000} µs: read in bursts"
    return None
