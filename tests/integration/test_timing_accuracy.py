"""Timing accuracy: what perfgate and the simulator measure, against the timing the simulator was told to inject.

This is the one module whose assertions depend on live timings. Each asserts
only what still holds when other processes keep every core busy, because
scheduling can only make things *late*:

- The simulator never sends a token before its deadline (it sleeps until an
  absolute deadline counted from when the request arrived), and a client never
  sees a line before it was sent. So a time measured from *before the request
  was built* to a line is never shorter than the injected truth: that is
  checked for every sample, one-sided, with only clock-resolution slack.
- A late wake-up or a descheduled reader only ever adds time, and not to every
  sample of a series alike. So the *best* sample (the minimum, or the sample
  closest to the truth for a rate) is compared with the truth, and the
  tolerance is what a loaded 2-core machine needs (``LOADED_MS``, ``LOADED_REL``);
  an idle machine meets the truth within about 1 ms or 0.1 %. No median or
  single sample is bounded from above: that is exactly what load moves.
- Where perfgate stamps "sent" only after the request's last byte is written
  (its TTFT definition), a reader descheduled right after writing can stamp
  late, making one sample look early. Lower bounds on those use the median,
  which one such sample cannot move.

What these bounds still catch: a simulator that is early or systematically
late (a wrong unit, a gap added twice, bursting overdue tokens), a client that
counts its own overhead as the runtime's, a rate off by the n/(n-1) Ollama
convention.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

import pytest
from support.cli import load_results as load
from support.cli import perfgate
from support.cli import write_project as write_config
from support.runs import assert_runs
from support.sim import StartSim, gen, oai, stream
from support.sim import chat as chat_body

from perfgate.errors import Kind
from perfgate.sim.engine import SimEngine
from perfgate.sim.generate import FAULT_TOKENS
from perfgate.sim.launch import SimProcess
from perfgate.sim.profile import SimProfile

CLOCK_SLACK_MS = 0.2  # perf_counter resolution and rounding, nothing else
# How far the best of several samples may be off on a loaded machine. Measured on a 2-core VM: about
# 1 ms and 0.2 % with both cores busy, up to 6 ms and 1 % with six busy loops on the two cores
# (the medians there were 10 ms late); an idle machine is within 1 ms and 0.1 %.
LOADED_MS = 10.0
LOADED_REL = 0.03


def ms(ns: int) -> float:
    return ns / 1e6


def closest(values: list[float], truth: float) -> float:
    """The relative error of the value closest to ``truth``."""
    return min(abs(v / truth - 1) for v in values)


# ---------------------------------------------------------------- `perfgate run` against `perfgate sim`


@pytest.mark.parametrize(("tok_s", "tokens"), [(20, 10), (200, 60), (2000, 600)])
def test_timing_accuracy_against_injected_truth(tmp_path, tok_s, tokens):
    """(Moved from test_cli_run.py.) TTFT 60 ms and ``tok_s`` injected; 7 samples measured end to end."""
    write_config(tmp_path, num_predict=tokens, runs=7, extra="memory_interval_ms = 50")
    out = tmp_path / "r.json"
    proc = perfgate(
        "run", "--runtime", "sim", "--sim-ttft-ms", "60", "--sim-tok-s", str(tok_s), "--sim-jitter-cv", "0",
        "--sim-ballast-mb", "0", "--out", out, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    samples = load(out).scenarios[0].samples
    ttft = sorted(s.ttft_ms for s in samples if s.ttft_ms is not None)
    assert len(ttft) == 7
    # Never early (beyond a late "sent" stamp on a minority of samples), and the best sample on time.
    assert statistics.median(ttft) >= 60 - CLOCK_SLACK_MS, ttft
    assert ttft[0] <= 60 + LOADED_MS, ttft
    # The decode span is first to last token: nothing is sent before its deadline, so from the
    # request to the done line is at least TTFT plus every gap.
    decode_ms = (tokens - 1) / tok_s * 1000
    e2e = sorted(s.e2e_ms for s in samples)
    assert statistics.median(e2e) >= 60 + decode_ms - CLOCK_SLACK_MS, e2e
    assert e2e[0] <= 60 + decode_ms + LOADED_MS, e2e
    # Ollama's eval_duration starts at the first sampled token: perfgate counts the
    # tokens - 1 gaps on both clocks, so both see the true pacing; the runtime's own
    # figure (eval_count / eval_duration) stays tokens/(tokens - 1) above it.
    server = [s.decode_tok_s for s in samples if s.decode_tok_s is not None]
    client = [s.client_decode_tok_s for s in samples if s.client_decode_tok_s is not None]
    reported = [s.server_reported_tok_s for s in samples if s.server_reported_tok_s is not None]
    assert closest(server, tok_s) <= LOADED_REL, server
    assert closest(client, tok_s) <= LOADED_REL, client
    assert closest(reported, tok_s * tokens / (tokens - 1)) <= LOADED_REL, reported


def test_ttft_noise_is_reported_as_spread(tmp_path):
    """(Moved from test_cli_run.py.) A 20 % injected jitter shows as spread; load only adds spread."""
    write_config(tmp_path, num_predict=16, runs=8)
    out = tmp_path / "r.json"
    proc = perfgate(
        "run", "--runtime", "sim", "--sim-ttft-ms", "40", "--sim-jitter-cv", "0.2", "--out", out, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    values = [s.ttft_ms for s in load(out).scenarios[0].samples]
    assert statistics.stdev(values) / statistics.mean(values) > 0.05


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2 or shutil.which("taskset") is None,
    reason="needs Linux CPU affinity, two usable cores and taskset",
)
def test_a_starved_perfgate_marks_what_it_cannot_time_and_never_reports_a_collapsed_ttft(tmp_path):
    """perfgate pinned to one core beside a busy loop on it; the runtime (OpenAI-compatible) on another core.

    The client was stamped before its request was written, so no TTFT can come out shorter than
    the runtime's own (the simulator never answers before its deadline); every sample whose client
    clock could be off by more than 2x is marked and left out, or the run fails as timing_unreliable
    (exit 3) rather than reporting fiction. The busy loop only adds delay, so these hold under any load.
    """
    cores = sorted(os.sched_getaffinity(0))
    mine, other = cores[0], cores[1]
    write_config(tmp_path, num_predict=64, runs=10, warmup=1)
    out = tmp_path / "r.json"
    profile = SimProfile(ttft_ms=3.0, tok_s=2000.0, jitter_cv=0, load_ms=0, ballast_mb=0)
    with SimProcess(profile) as sim:
        os.sched_setaffinity(sim.pid, {other})
        hog = subprocess.Popen(["taskset", "-c", str(mine), sys.executable, "-c", "while True: pass"])
        try:
            proc = perfgate(
                "run", "--runtime", "openai", "--base-url", f"{sim.base_url}/v1", "--tier", "sim",
                "--scenario", "short", "--out", out, cwd=tmp_path, wrap=("taskset", "-c", str(mine)),
            )  # fmt: skip
        finally:
            hog.kill()
            hog.wait()
    assert proc.returncode in (0, 3), proc.stderr
    result = load(out)
    if proc.returncode == 3:
        assert [f.kind for f in result.failures] == [Kind.TIMING_UNRELIABLE], proc.stderr
    (scenario,) = result.scenarios
    assert_runs(scenario, 10)
    for sample in scenario.samples:
        assert sample.cpu_wait_ms is not None  # Linux says how long the thread waited
        assert sample.ttft_ms is not None
        assert sample.ttft_ms >= 3.0 - CLOCK_SLACK_MS, sample  # never collapsed, marked or not
        if sample.suspect_reason is None and sample.decode_clock_ratio is not None:
            assert 0.5 <= sample.decode_clock_ratio <= 2.0, sample
    trusted = [s for s in scenario.samples if s.suspect_reason is None]
    assert scenario.summaries.get("ttft_ms") is None or scenario.summaries["ttft_ms"].n == len(trusted)


@pytest.mark.parametrize("load_ms", [60.0, 400.0])
def test_a_cold_start_measures_the_injected_load_time_within_5_ms_or_5_percent(tmp_path, load_ms):
    """A cold-start scenario (kind = "cold") on `perfgate sim` with ``load_ms`` injected; 5 cold starts.

    The simulator waits at least the injected load before it is ready, so no sample is early; the best one
    is within max(5 ms, 5 %) of the truth (the issue's bound). Cold TTFT is counted from before the request,
    so it is never shorter than the load plus the warm TTFT.
    """
    write_config(tmp_path, num_predict=4, runs=5)
    config = tmp_path / "pyproject.toml"
    config.write_text(config.read_text(encoding="utf-8") + 'kind = "cold"\n', encoding="utf-8")
    out = tmp_path / "r.json"
    proc = perfgate(
        "run", "--runtime", "sim", "--sim-load-ms", str(load_ms), "--sim-ttft-ms", "10", "--sim-tok-s", "1000",
        "--sim-jitter-cv", "0", "--sim-ballast-mb", "0", "--out", out, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    samples = load(out).scenarios[0].samples
    loads = sorted(s.load_cold_ms for s in samples if s.load_cold_ms is not None)
    assert len(loads) == 5
    assert loads[0] >= load_ms - CLOCK_SLACK_MS, loads
    assert loads[0] <= load_ms + max(5.0, 0.05 * load_ms), loads
    cold_ttft = sorted(s.ttft_cold_ms for s in samples if s.ttft_cold_ms is not None)
    assert cold_ttft, "every cold TTFT was left out as suspect"
    assert cold_ttft[0] >= load_ms + 10 - CLOCK_SLACK_MS, cold_ttft


# ---------------------------------------------------------------- the simulator, talked to in process


def test_ttft_matches_profile(start_sim: StartSim):
    """(Moved from test_sim_server.py.)"""
    _, client = start_sim(ttft_ms=30)
    stream(client, "/api/generate", gen(2))  # connection and first-request warm-up
    results = [stream(client, "/api/generate", gen(2)) for _ in range(7)]
    # From before the request existed, the first token can only come 30 ms or later ...
    from_before = [ms(r.stamps[0] - r.before_ns) for r in results]
    assert min(from_before) >= 30 - CLOCK_SLACK_MS, from_before
    # ... and measured from the wire (the way perfgate does), the best request is on time.
    from_sent = [ms(r.stamps[0] - r.sent_ns) for r in results]
    assert min(from_sent) <= 30 + LOADED_MS, from_sent


@pytest.mark.parametrize(("tok_s", "tokens"), [(20, 10), (200, 60), (2000, 600)])
def test_client_decode_rate_matches_profile(start_sim: StartSim, tok_s, tokens):
    """(Moved from test_sim_server.py.)"""
    _, client = start_sim(tok_s=tok_s)
    stream(client, "/api/generate", gen(2))
    rates, spans = [], []
    for _ in range(5):
        result = stream(client, "/api/generate", gen(tokens))
        stamps = result.stamps[:-1]  # drop the done line
        assert len(stamps) == tokens
        rates.append((tokens - 1) / ((stamps[-1] - stamps[0]) / 1e9))
        spans.append(ms(stamps[-1] - result.before_ns))
    # The last token is due TTFT (2 ms) plus every gap after the request: never sooner.
    assert min(spans) >= 2 + (tokens - 1) / tok_s * 1000 - CLOCK_SLACK_MS, spans
    assert closest(rates, tok_s) <= LOADED_REL, rates


def test_jitter_varies_requests_around_the_mean(start_sim: StartSim):
    """(Moved from test_sim_server.py.) Each wait is the seeded jitter's, as the server reports it."""
    profile = {"ttft_ms": 20, "jitter_cv": 0.3, "seed": 5}
    _, client = start_sim(**profile)
    done = [stream(client, "/api/generate", gen(1)).json_lines()[-1] for _ in range(8)]
    waits = [line["prompt_eval_duration"] for line in done]
    # The waits the server drew: the same seeded engine, asked in the same order (one draw per 1-token request).
    engine = SimEngine(SimProfile(**{"tok_s": 1000.0, "load_ms": 0.0, "ballast_mb": 0, **profile}), threading.Event())
    drawn = [engine.ttft_ns(line["prompt_eval_count"]) for line in done]
    assert len(set(waits)) == 8
    assert max(drawn) / min(drawn) > 1.2
    assert 10e6 < statistics.fmean(drawn) < 30e6
    # A warm request's bookkeeping (at most 2 ms) comes out of its wait; lateness only adds to it.
    early = [ms(w - d) for w, d in zip(waits, drawn, strict=True)]
    assert min(early) >= -2 - CLOCK_SLACK_MS, early
    assert min(early) <= LOADED_MS, early


@pytest.mark.parametrize(
    ("path", "body", "field"), [("/api/chat", chat_body, "message"), ("/api/generate", gen, "response")]
)
def test_ollama_eval_duration_is_the_span_the_client_sees(start_sim: StartSim, path, body, field):
    """(The timing half of test_sim_server.py::test_ollama_stream_shape.)

    Honest server: eval_duration is its own first-to-last emission (6 gaps of 2 ms when
    nothing is late), which the client sees too, give or take transit.
    """
    _, client = start_sim(tok_s=500)
    results = [stream(client, path, body(7)) for _ in range(5)]
    evals = [r.json_lines()[-1]["eval_duration"] for r in results]
    # The server's span lies within what the client waited from before the request to the last token.
    assert all(e <= r.stamps[-2] - r.before_ns for e, r in zip(evals, results, strict=True))
    # The best request: the client's first-to-last token span matches the server's within transit.
    differences = [ms(abs((r.stamps[-2] - r.stamps[0]) - e)) for e, r in zip(evals, results, strict=True)]
    assert min(differences) <= 1.5, differences
    assert any(6_000_000 < e < 30_000_000 for e in evals), evals


def test_openai_predicted_ms_is_the_span_the_client_sees(start_sim: StartSim):
    """(The timing half of test_sim_server.py::test_openai_sse_shape_with_usage.)"""
    _, client = start_sim()
    differences = []
    for _ in range(5):
        result = stream(client, "/v1/chat/completions", oai(4, stream_options={"include_usage": True}))
        usage = json.loads(result.events()[-2].removeprefix("data: "))
        token_stamps = [t for line, t in zip(result.lines, result.stamps, strict=True) if '"content":" ' in line]
        assert len(token_stamps) == 4
        differences.append(ms(token_stamps[-1] - token_stamps[0]) - usage["timings"]["predicted_ms"])
    # Coalesced reads only shorten the client's view; the best request is within transit.
    assert min(differences) <= 1.5, differences


# ---------------------------------------------------------------- a stall, then pacing again


def test_stall_then_resumes_to_done(start_sim: StartSim):
    """(Moved from test_sim_faults.py.) 3 tokens, a 0.3 s stall, then 5 more at 50 tok/s (20 ms apart)."""
    _, client = start_sim(fault="stall", stall_s=0.3, tok_s=50)
    stamps: list[float] = []
    before = time.monotonic()
    with client.stream("POST", "/api/generate", json=gen(8)) as response:
        lines = []
        for line in response.iter_lines():
            stamps.append(time.monotonic())
            lines.append(json.loads(line))
    assert lines[-1]["done"] is True
    assert lines[-1]["eval_count"] == 8
    since = [t - before for t in stamps]
    slack = CLOCK_SLACK_MS / 1000
    # The stall sits between token 3 and 4: token 4 is due 2 ms + 2 gaps + 0.3 s + 1 gap after the
    # request, never sooner ...
    assert since[FAULT_TOKENS] >= 0.002 + 2 * 0.020 + 0.3 + 0.020 - slack, since
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps[: FAULT_TOKENS + 1]) == gaps[FAULT_TOKENS - 1], gaps  # ... and it is the longest wait
    # Then pacing resumes at 50 tok/s instead of bursting the overdue tokens: the 8th token is due
    # 4 gaps after the 4th, never sooner (a burst would bring it right after the stall, at ~0.34 s).
    assert since[7] >= 0.002 + 2 * 0.020 + 0.3 + 5 * 0.020 - slack, since
