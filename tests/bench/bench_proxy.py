"""Benchmark (not a test): what the measuring proxy costs an app.

The simulator (``perfgate sim``, its own process) streams at 2,000 tok/s
with a fixed TTFT; ``perfgate proxy`` runs as its own process in front of it,
as an app harness would use it. A minimal app-like client (httpx, keep-alive,
streaming, one ``json.loads`` per line) then measures:

- added time to first token: TTFT direct vs through the proxy, interleaved
  pair by pair (the order alternating), as the median and p90 of the paired
  differences;
- the proxy's CPU per streamed token: the proxy process's user+system CPU
  (psutil, so every thread and the kernel's socket work count) over a batch
  of long streams, divided by the tokens streamed. Next to it, measured the
  same way in batches interleaved with the proxy's: a bare TCP relay (recv
  and sendall, no HTTP), the floor any relay pays on this machine; and the
  proxy's idle CPU, so the per-token figure can be trusted;
- why the stdlib: the CPU per token of the two upstream read loops the proxy
  could be built on (``http.client`` ``read1`` vs httpx ``iter_raw``), in this
  process, straight from the simulator.

Run: ``nox -s bench -- proxy`` or ``python tests/bench/bench_proxy.py``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

from perfgate.childproc import ChildServer
from perfgate.sim.launch import SimProcess
from perfgate.sim.profile import SimProfile

TTFT_MS = 20.0
TOK_S = 2000.0
PAIRS = 100
WARMUP_PAIRS = 5
PAIR_TOKENS = 20
CPU_STREAMS = 4
CPU_TOKENS = 2000
CPU_ROUNDS = 3
IDLE_S = 5.0
LOOP_ROUNDS = 5
TARGET_TTFT_MS = 1.0
TARGET_CPU_US = 30.0


class ProxyProcess(ChildServer):
    """``perfgate proxy`` as its own process, recording to a file."""

    ready_pattern = re.compile(r"^perfgate proxy listening on (http://\S+) -> \S+\s*$")
    runtime_name = "measuring proxy"
    program_name = "`perfgate proxy`"

    def __init__(self, upstream: str, record: Path) -> None:
        super().__init__()
        self.upstream = upstream
        self.record = record

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "perfgate", "proxy", "--port", "0",
            "--upstream", self.upstream, "--record", str(self.record),
        ]  # fmt: skip


def chat_body(model: str, tokens: int) -> dict[str, object]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Say hi."}],
        "stream": True,
        "options": {"num_predict": tokens, "temperature": 0, "seed": 42},
    }


def app_ttft_ms(client: httpx.Client, base_url: str, body: dict[str, object]) -> float:
    """What an app sees: request out -> first line with text in it. The rest of the stream is read too."""
    ttft: float | None = None
    start = time.perf_counter_ns()
    with client.stream("POST", f"{base_url}/api/chat", json=body) as response:
        for line in response.iter_lines():
            if ttft is None and line and json.loads(line).get("message", {}).get("content"):
                ttft = (time.perf_counter_ns() - start) / 1e6
    if ttft is None:
        raise SystemExit("no content streamed")
    return ttft


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def added_ttft(client: httpx.Client, sim_url: str, proxy_url: str, model: str) -> tuple[list[float], list[float]]:
    body = chat_body(model, PAIR_TOKENS)
    direct: list[float] = []
    proxied: list[float] = []
    for index in range(WARMUP_PAIRS + PAIRS):
        # Alternate which goes first, so neither always runs on a just-woken machine.
        order = (sim_url, proxy_url) if index % 2 == 0 else (proxy_url, sim_url)
        got = {url: app_ttft_ms(client, url, body) for url in order}
        if index >= WARMUP_PAIRS:
            direct.append(got[sim_url])
            proxied.append(got[proxy_url])
    return direct, proxied


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


# The floor any Python relay pays on this machine: a bare TCP relay (recv -> sendall, one
# thread per direction, no HTTP at all) in its own process.
RELAY_FLOOR = """
import socket, sys, threading
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
def pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    sink.close()
while True:
    client, _ = listener.accept()
    upstream = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
"""


def cpu_per_token_us(client: httpx.Client, url: str, pid: int, body: dict[str, object]) -> float:
    """The process's CPU µs per token over a batch of long streams through ``url``."""
    process = psutil.Process(pid)
    app_ttft_ms(client, url, body)  # warm: connections, code paths
    before = cpu_s(process)
    for _ in range(CPU_STREAMS):
        app_ttft_ms(client, url, body)
    return (cpu_s(process) - before) / (CPU_STREAMS * CPU_TOKENS) * 1e6


def proxy_cpu(client: httpx.Client, proxy: ProxyProcess, sim_url: str, model: str) -> tuple[float, float, float]:
    """(proxy CPU µs per token, bare relay CPU µs per token, proxy idle CPU µs per second), batches interleaved."""
    body = chat_body(model, CPU_TOKENS)
    relay = subprocess.Popen(
        [sys.executable, "-c", RELAY_FLOOR, str(urlsplit(sim_url).port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert relay.stdout is not None
        relay_url = f"http://127.0.0.1:{int(relay.stdout.readline())}"
        proxied, floor = [], []
        for _ in range(CPU_ROUNDS):
            proxied.append(cpu_per_token_us(client, proxy.base_url, proxy.pid, body))
            floor.append(cpu_per_token_us(client, relay_url, relay.pid, body))
    finally:
        relay.kill()
        relay.wait()
        if relay.stdout is not None:
            relay.stdout.close()
    process = psutil.Process(proxy.pid)
    before = cpu_s(process)
    time.sleep(IDLE_S)
    idle = (cpu_s(process) - before) / IDLE_S * 1e6
    return statistics.median(proxied), statistics.median(floor), idle


def read_loop_cpu_us(sim_url: str, model: str) -> tuple[float, float]:
    """CPU µs per token of a bare upstream read loop: (http.client read1, httpx iter_raw)."""
    payload = json.dumps(chat_body(model, CPU_TOKENS)).encode()
    parts = urlsplit(sim_url)
    stdlib: list[float] = []
    httpx_loop: list[float] = []
    with httpx.Client(timeout=60) as client:
        for _ in range(LOOP_ROUNDS):
            start = time.thread_time_ns()
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
            conn.request("POST", "/api/chat", payload, {"Content-Type": "application/json"})
            response = conn.getresponse()
            while response.read1(65536):
                pass
            conn.close()
            stdlib.append((time.thread_time_ns() - start) / CPU_TOKENS / 1000)
            start = time.thread_time_ns()
            with client.stream("POST", f"{sim_url}/api/chat", content=payload) as streamed:
                for _chunk in streamed.iter_raw():
                    pass
            httpx_loop.append((time.thread_time_ns() - start) / CPU_TOKENS / 1000)
    return statistics.median(stdlib), statistics.median(httpx_loop)


def row(name: str, value: str, target: str = "", ok: bool | None = None) -> str:
    mark = "" if ok is None else ("✓" if ok else "✗")
    return f"{name:<44} {value:>12}  {target:<10} {mark}"


def main() -> None:
    profile = SimProfile(ttft_ms=TTFT_MS, tok_s=TOK_S, jitter_cv=0, load_ms=0, ballast_mb=0)
    with tempfile.TemporaryDirectory() as tmp, SimProcess(profile) as sim:
        record = Path(tmp) / "records.jsonl"
        with ProxyProcess(sim.base_url, record) as proxy, httpx.Client(timeout=60) as client:
            direct, proxied = added_ttft(client, sim.base_url, proxy.base_url, profile.model)
            cpu_us, floor_us, idle_us = proxy_cpu(client, proxy, sim.base_url, profile.model)
        stdlib_us, httpx_us = read_loop_cpu_us(sim.base_url, profile.model)
        records = sum(1 for _ in record.open(encoding="utf-8"))
    diffs = [p - d for d, p in zip(direct, proxied, strict=True)]
    added, added_p90 = statistics.median(diffs), percentile(diffs, 0.90)
    print(
        f"measuring proxy overhead: sim at {TOK_S:,.0f} tok/s, TTFT {TTFT_MS:g} ms; {PAIRS} interleaved pairs of "
        f"{PAIR_TOKENS}-token streams; CPU: median of {CPU_ROUNDS} batches of {CPU_STREAMS} streams x "
        f"{CPU_TOKENS} tokens; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(row("metric", "value", "target", None))
    print(row("TTFT direct, median", f"{statistics.median(direct):.2f} ms"))
    print(row("TTFT through the proxy, median", f"{statistics.median(proxied):.2f} ms"))
    print(row("added TTFT, median of paired differences", f"{added:.3f} ms", f"<= {TARGET_TTFT_MS:g} ms", added <= 1))
    print(row("added TTFT, p90 of paired differences", f"{added_p90:.3f} ms"))
    print(row("proxy CPU per streamed token", f"{cpu_us:.1f} µs", f"<= {TARGET_CPU_US:g} µs", cpu_us <= 30))
    print(row("bare TCP relay CPU per token (the floor)", f"{floor_us:.1f} µs"))
    # What perfgate adds to what any relay pays here (the target is below the floor on a VM with costly wakeups).
    print(row("proxy CPU over the bare relay's", f"+{cpu_us - floor_us:.1f} µs", f"x{cpu_us / floor_us:.2f}"))
    print(row("proxy idle CPU", f"{idle_us:.0f} µs/s"))
    print(row("read loop CPU per token: http.client read1", f"{stdlib_us:.1f} µs"))
    print(row("read loop CPU per token: httpx iter_raw", f"{httpx_us:.1f} µs"))
    print(row("records written by the proxy", f"{records}"))


if __name__ == "__main__":
    main()
