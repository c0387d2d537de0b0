"""Benchmark (not a test): what the memory sampler costs, and whether it delays token stamps.

Two tables, each on the machine as it is and with ``EXTRA_PROCESSES`` idle
processes added (a logged-in desktop runs 400–600; psutil's recursive
``children()`` scanned every one of them on every tick):

1. CPU per tick of this thread, over the simulator's real process tree (the
   server and its runner child): the tick as it was before (psutil's
   ``children(recursive=True)`` plus status and memory reads, every tick),
   and ``MemorySampler.sample()`` as it is now (OS child listing every few
   ticks, /proc statm reads), measured alternately in the same process.
   Also the cost of one listing, and the listing method this machine uses.
2. TTFT p50/p90 of perfgate's measuring client (``OllamaClient.stream``)
   against the simulator with no sampler, the old sampler and the new one
   running in a background thread at 50 ms, alternating every ``BLOCK``
   requests; and, within each sampler's run, the median TTFT of requests
   during whose wait a tick began against those with no tick near them (the
   direct answer to "does a tick delay a token stamp?"). Figures are medians
   over ``ROUNDS`` rounds.

Run: ``nox -s bench -- sampler``.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import psutil

from perfgate.contracts.results import ScenarioOptions
from perfgate.measure.memory import MemorySampler
from perfgate.measure.proctree import TreeLister, default_tree_lister
from perfgate.runtimes.ollama import OllamaClient
from perfgate.sim.launch import SimProcess
from perfgate.sim.profile import SimProfile

EXTRA_PROCESSES = 300
TICKS = 300  # per measurement of the per-tick cost
ROUNDS = 7
BLOCK = 20  # requests in a row under one condition
BLOCKS = 6  # blocks per condition per round
INTERVAL_S = 0.05  # perfgate's default memory_interval_ms
# Every wait for a first token lasts at least the sim's 5 ms TTFT: a tick that
# begins within 4 ms of the send falls inside it. "Clear" requests had no tick
# begin from 20 ms before the send (the old tick lasts up to ~10 ms) to 10 ms after.
HIT_WINDOW_NS = 4_000_000
CLEAR_BEFORE_NS = 20_000_000
CLEAR_AFTER_NS = 10_000_000
OPTIONS = ScenarioOptions(num_predict=8, num_ctx=2048, temperature=0.0, seed=42, keep_alive="10m")


# --------------------------------------------------------------------------- the sampler as it was


def old_tick(root: psutil.Process, harness: psutil.Process) -> int:
    """One tick of the sampler before it listed trees cheaply (its reads, in its order): the tree's RSS."""
    harness.memory_info()
    if not root.is_running() or root.status() == psutil.STATUS_ZOMBIE:
        return 0
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            if proc.status() != psutil.STATUS_ZOMBIE:
                total += proc.memory_info().rss
    return total


Span = tuple[int, int]  # a tick's start and end, perf_counter_ns (the client's clock)


class OldSampler:
    """The old tick in a background thread every ``INTERVAL_S``, as the sampler ran it; records its ticks."""

    def __init__(self, pid: int) -> None:
        self._root, self._harness = psutil.Process(pid), psutil.Process()
        self.ticks: list[Span] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter_ns()
            old_tick(self._root, self._harness)
            self.ticks.append((start, time.perf_counter_ns()))
            self._stop.wait(INTERVAL_S)

    def __enter__(self) -> OldSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


class NewSampler(MemorySampler):
    """perfgate's sampler as ``perfgate run`` starts it; records its ticks."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid, interval_s=INTERVAL_S)
        self.ticks: list[Span] = []

    def sample(self) -> None:
        start = time.perf_counter_ns()
        super().sample()
        self.ticks.append((start, time.perf_counter_ns()))


class NoSampler:
    """No sampler thread: the baseline."""

    def __init__(self) -> None:
        self.ticks: list[Span] = []

    def __enter__(self) -> NoSampler:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass


# --------------------------------------------------------------------------- measurements


def cpu_us_per_call(call: Callable[[], object], calls: int) -> float:
    start = time.thread_time_ns()
    for _ in range(calls):
        call()
    return (time.thread_time_ns() - start) / calls / 1000


class CountingLister(TreeLister):
    """The machine's tree listing, counting its calls."""

    def __init__(self) -> None:
        fastest = default_tree_lister()
        super().__init__(fastest._children_of, fastest.method)  # the same listing, counted
        self.calls = 0

    def __call__(self, root: int) -> list[int]:
        self.calls += 1
        return super().__call__(root)


def tick_costs(pid: int) -> dict[str, float]:
    """Median CPU µs per tick: old tick, new tick, one listing of the tree (alternating, ROUNDS times)."""
    root, harness = psutil.Process(pid), psutil.Process()
    lister = CountingLister()
    sampler = MemorySampler(pid, interval_s=INTERVAL_S, tree_lister=lister)  # not started: this thread ticks
    old, new, listing = [], [], []
    for _ in range(ROUNDS):
        old.append(cpu_us_per_call(lambda: old_tick(root, harness), TICKS // 3))
        new.append(cpu_us_per_call(sampler.sample, TICKS))
        listing.append(cpu_us_per_call(lambda: default_tree_lister()(pid), TICKS // 3))
    return {
        "old": statistics.median(old),
        "new": statistics.median(new),
        "listing": statistics.median(listing),
        "members": float(len(sampler.window().runtime_pids)),
        "listings_per_tick": lister.calls / (ROUNDS * TICKS + 1),
    }


@dataclass
class Ttfts:
    """One condition's TTFTs (ms), and which waited through a sampler tick."""

    all: list[float] = field(default_factory=list)
    hit: list[float] = field(default_factory=list)  # a tick began while the client waited for the first token
    clear: list[float] = field(default_factory=list)  # no tick anywhere near the wait


def ttft_block(client: OllamaClient, ticks: list[Span], into: Ttfts) -> None:
    spans = []
    for _ in range(BLOCK):
        obs = client.stream("hi", OPTIONS)
        if obs.first_content_ns is not None:
            spans.append((obs.sent_ns, obs.first_content_ns))
    starts = [start for start, _end in ticks]
    for sent, first in spans:
        ttft = (first - sent) / 1e6
        into.all.append(ttft)
        # Classified by when ticks *started* relative to the send, never by
        # when the first token came: a long wait is likelier to overlap a
        # tick, and that would make "hit" look slow for no fault of the tick.
        if any(sent <= start < sent + HIT_WINDOW_NS for start in starts):
            into.hit.append(ttft)
        elif not any(sent - CLEAR_BEFORE_NS <= start < sent + CLEAR_AFTER_NS for start in starts):
            into.clear.append(ttft)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def median_or_nan(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


Condition = OldSampler | NewSampler | NoSampler


def ttft_table(client: OllamaClient, pid: int) -> dict[str, dict[str, float]]:
    """Per condition, medians over rounds: TTFT p50, p90, and the median TTFT of requests with a tick and without.

    A shared machine's load drifts by more than the effect looked for, so the
    conditions alternate every ``BLOCK`` requests, ``BLOCKS`` times per round,
    and each round's figures pool its blocks.
    """
    conditions: dict[str, Callable[[], Condition]] = {
        "no sampler": NoSampler,
        "old sampler": lambda: OldSampler(pid),
        "new sampler": lambda: NewSampler(pid),
    }
    names = list(conditions)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(ROUNDS):
        pooled = {name: Ttfts() for name in names}
        for block in range(BLOCKS):
            # Rotate the order so no condition always runs first (or right after the noisiest).
            for name in names[block % 3 :] + names[: block % 3]:
                with conditions[name]() as sampler:
                    # A sampler ticks as it starts; wait that tick out so the
                    # block sees ticks at their ordinary, unaligned times.
                    time.sleep(INTERVAL_S / 2)
                    ttft_block(client, sampler.ticks, pooled[name])
        for name, ttfts in pooled.items():
            rounds[name].append(
                {
                    "p50": statistics.median(ttfts.all),
                    "p90": p90(ttfts.all),
                    "hit": median_or_nan(ttfts.hit),
                    "clear": median_or_nan(ttfts.clear),
                    "hit_share": len(ttfts.hit) / len(ttfts.all),
                }
            )
    return {name: {key: statistics.median(r[key] for r in rounds[name]) for key in rounds[name][0]} for name in names}


@contextlib.contextmanager
def idle_processes(count: int) -> Iterator[None]:
    sleep = shutil.which("sleep")
    if count == 0 or sleep is None:
        yield
        return
    procs = [subprocess.Popen([sleep, "3600"]) for _ in range(count)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def main() -> None:
    profile = SimProfile(ttft_ms=5, tok_s=2000, jitter_cv=0, load_ms=0, ballast_mb=16)
    method = MemorySampler(None).listing_method
    rows: list[tuple[str, dict[str, float], dict[str, dict[str, float]]]] = []
    with SimProcess(profile) as sim, httpx.Client() as http:
        client = OllamaClient(http, base_url=sim.base_url, model=profile.model)
        client.preflight()
        client.preload(OPTIONS)
        for extra in (0, EXTRA_PROCESSES):
            with idle_processes(extra):
                machine = f"{len(psutil.pids())} processes"
                rows.append((machine, tick_costs(sim.pid), ttft_table(client, sim.pid)))

    per_ms = INTERVAL_S * 1e3
    print(f"memory sampler: {ROUNDS} rounds, medians; listing method here: {method}; a tick every {per_ms:g} ms")
    print()
    print("CPU per tick, µs (this thread)   old: psutil scan   new: sample()   one listing   listings/tick   old/new")
    for machine, cost, _ in rows:
        print(
            f"{machine:<33}{cost['old']:>17.0f}{cost['new']:>16.0f}{cost['listing']:>14.0f}"
            f"{cost['listings_per_tick']:>16.2f}{cost['old'] / cost['new']:>9.0f}x"
        )
    print(f"(the runtime tree: the simulator and its runner, {rows[0][1]['members']:.0f} processes)")
    print()
    print(f"TTFT of OllamaClient.stream, sim TTFT 5 ms, {BLOCK * BLOCKS} requests per condition a round (ms)")
    print(f"{'':<33}{'':<12}{'no sampler':>12}{'old sampler':>13}{'new sampler':>13}")
    labels = {"p50": "p50", "p90": "p90", "clear": "p50 no tick", "hit": "p50 a tick", "hit_share": "tick share"}
    for machine, _, ttft in rows:
        for key, label in labels.items():
            cells = "".join(
                f"{ttft[name][key] * (100 if key == 'hit_share' else 1):>{width}.{1 if key == 'hit_share' else 2}f}"
                + ("%" if key == "hit_share" else " ")
                for name, width in zip(ttft, (11, 12, 12), strict=True)
            )
            print(f"{machine if key == 'p50' else '':<33}{label:<12}{cells}")
    print("(a tick: a sampler tick began within 4 ms of the send, inside the wait for the first token; no tick:")
    print(" none began from 20 ms before the send to 10 ms after; tick share: the requests with a tick)")
    print()
    for machine, cost, _ in rows:
        old_share, new_share = (cost[key] / (INTERVAL_S * 1e6) * 100 for key in ("old", "new"))
        print(f"sampler CPU, share of a core, {machine}: old {old_share:.1f} %, new {new_share:.2f} %")
    print(f"(cores: {os.cpu_count()})")


if __name__ == "__main__":
    main()
