"""Benchmark (not a test): the harness's own cost per streamed token.

Streams from the simulator at 2,000 tok/s, measuring the CPU time this
process spends per token (a) through perfgate's Ollama client and (b) in a
bare httpx line loop over the same server, side by side in one run, and
prints the ratio plus this process's peak RSS. Run: ``nox -s bench -- harness``.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time

import httpx

from perfgate.contracts.results import ScenarioOptions
from perfgate.runtimes.ollama import OllamaClient
from perfgate.sim.launch import SimProcess
from perfgate.sim.profile import SimProfile

TOKENS = 2000
ROUNDS = 7
OPTIONS = ScenarioOptions(num_predict=TOKENS, num_ctx=4096, temperature=0.0, seed=42, keep_alive="10m")


def bare_loop(http: httpx.Client, base_url: str, model: str) -> int:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "options": {"num_predict": TOKENS, "num_ctx": 4096, "temperature": 0, "seed": 42},
    }
    lines = 0
    with http.stream("POST", f"{base_url}/api/chat", json=body, timeout=60) as response:
        for _line in response.iter_lines():
            lines += 1
    return lines


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is bytes on macOS and KiB on Linux.
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def main() -> None:
    profile = SimProfile(ttft_ms=5, tok_s=2000, jitter_cv=0, load_ms=0, ballast_mb=0)
    with SimProcess(profile) as sim, httpx.Client() as http:
        client = OllamaClient(http, base_url=sim.base_url, model=profile.model)
        client.preflight()
        client.preload(OPTIONS)
        harness, bare, rates = [], [], []
        for _ in range(ROUNDS):
            # Interleave the two so machine noise hits both alike.
            start = time.thread_time_ns()
            obs = client.stream("hi", OPTIONS)
            harness.append((time.thread_time_ns() - start) / TOKENS)
            start = time.thread_time_ns()
            bare_loop(http, sim.base_url, profile.model)
            bare.append((time.thread_time_ns() - start) / TOKENS)
            if obs.first_content_ns is not None and obs.last_content_ns is not None:
                rates.append((TOKENS - 1) / ((obs.last_content_ns - obs.first_content_ns) / 1e9))
    h, b = statistics.median(harness), statistics.median(bare)
    print(f"streamed tokens per request     {TOKENS} at 2,000 tok/s, {ROUNDS} rounds (medians)")
    print(f"client-measured decode rate     {statistics.median(rates):,.0f} tok/s")
    print(f"harness CPU per token           {h / 1000:6.1f} µs")
    print(f"bare httpx loop CPU per token   {b / 1000:6.1f} µs")
    print(f"ratio harness / bare            {h / b:6.2f}x")
    print(f"harness peak RSS                {peak_rss_mb():6.1f} MB")


if __name__ == "__main__":
    main()
