"""The one registry of metrics: name, unit, label, direction, default threshold, role.

Everything that lists metrics (the samples' summaries, the gate's defaults,
the terminal table, the headline, docs) reads this table, so a new metric is
one line here plus its field on ``Sample``. ``tests/unit/test_metrics_registry.py``
checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric as every stage sees it."""

    name: str
    unit: str
    label: str
    direction: Direction
    threshold: float | None = None  # default relative threshold; None = not compared by default
    informational: bool = False  # compared and shown, never failing, outside the Holm family
    terminal: bool = True  # shown in the terminal run table
    # Gating (not informational) in an app scenario, where the figure is the app's own:
    # combined RSS is then the app's tree + the runtime's, the figure an app team reports.
    gates_for_apps: bool = False
    # Read on perfgate's own clock while it waits for the runtime: a sample taken while
    # perfgate was starved of CPU (``Sample.suspect_reason``) leaves these out.
    client_clock: bool = False
    # The session-to-session offset assumed when a baseline was measured in one session
    # (``perfgate.decide.sessions``): timings move with the machine's state, memory barely.
    session_spread: float = 0.02
    # Where a second figure of the same memory is measured, the OSes on which this one is
    # informational by default (one memory figure gates per platform; docs/metrics.md).
    informational_on: frozenset[str] = frozenset()


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("ttft_ms", "ms", "TTFT", "lower", 0.10, client_clock=True),
    MetricSpec("e2e_ms", "ms", "end-to-end latency", "lower", 0.10, client_clock=True),
    MetricSpec("app_wall_ms", "ms", "app wall time", "lower", 0.10, client_clock=True),
    MetricSpec("decode_tok_s", "tok/s", "decode tok/s", "higher", 0.05),
    MetricSpec(
        "client_decode_tok_s", "tok/s", "client decode tok/s", "higher", 0.05, informational=True, client_clock=True
    ),
    MetricSpec("prefill_tok_s", "tok/s", "prefill tok/s", "higher", 0.10),
    # Not compared by default: on a warm run it is the scheduler's queue wait, noise (docs/metrics.md).
    MetricSpec("load_ms", "ms", "load time", "lower"),
    MetricSpec("itl_ms_p50", "ms", "inter-chunk p50", "lower", 0.10, informational=True, client_clock=True),
    MetricSpec("itl_ms_p90", "ms", "inter-chunk p90", "lower", terminal=False, client_clock=True),
    MetricSpec("itl_ms_p99", "ms", "inter-chunk p99", "lower", terminal=False, client_clock=True),
    MetricSpec("output_tokens", "tok", "output tokens", "lower", terminal=False, session_spread=0.005),
    # macOS gates the footprint, Linux the RSS: Ollama mmaps the weights (and Metal maps them without
    # copying), so RSS moves with how much of the file is resident, the footprint with what the runtime allocates.
    MetricSpec(
        "peak_runtime_rss_mb",
        "MB",
        "runtime RSS",
        "lower",
        0.05,
        session_spread=0.005,
        informational_on=frozenset({"darwin"}),
    ),
    MetricSpec("peak_runtime_footprint_mb", "MB", "runtime footprint", "lower", 0.05, session_spread=0.005),
    MetricSpec("peak_runtime_resident_mb", "MB", "runtime resident", "lower", terminal=False, session_spread=0.005),
    MetricSpec("peak_runtime_wired_mb", "MB", "runtime wired", "lower", terminal=False, session_spread=0.005),
    MetricSpec("peak_app_rss_mb", "MB", "app RSS", "lower", 0.05, session_spread=0.005),
    MetricSpec("peak_harness_rss_mb", "MB", "harness RSS", "lower", 0.05, informational=True, session_spread=0.005),
    MetricSpec(
        "peak_combined_rss_mb",
        "MB",
        "combined RSS",
        "lower",
        0.05,
        informational=True,
        gates_for_apps=True,
        session_spread=0.005,
    ),
    # A cold-start scenario's (``kind = "cold"``): the model unloaded, then loaded for its first request.
    MetricSpec("load_cold_ms", "ms", "cold load time", "lower", 0.10),
    MetricSpec("ttft_cold_ms", "ms", "TTFT cold", "lower", 0.10, client_clock=True),
)

BY_NAME: dict[str, MetricSpec] = {m.name: m for m in METRICS}

# Metrics summarised per scenario, in display order, with their unit.
METRIC_UNITS: dict[str, str] = {m.name: m.unit for m in METRICS}

# The metrics a person reads first in the terminal; the rest stay in the JSON file.
TERMINAL_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS if m.terminal)

# decode_tok_s is on the client's clock only when no server clock was sent (``Sample.decode_source``).
CLIENT_CLOCK_METRICS: frozenset[str] = frozenset(m.name for m in METRICS if m.client_clock)


def session_spread_of(metric: str) -> float:
    """The session offset assumed for ``metric`` with a one-session baseline (an app's figure: as a timing)."""
    spec = BY_NAME.get(metric)
    return 0.02 if spec is None else spec.session_spread


# perfgate's own figures whose session offsets are one machine state's: timings and throughputs move
# together with thermal state and background load, memory figures together with the runtime's allocations.
_SESSION_FAMILIES = {"ms": "speed", "tok/s": "speed", "MB": "memory"}


def session_pool(tier: str, metric: str) -> str:
    """The group whose baselines estimate ``metric``'s session spread together (``MetricTest.pool``).

    Three baseline sessions give one metric on one scenario 2 degrees of freedom for the spread
    between sessions; the same machine state moves a tier's timings alike (on the log scale), so
    they are pooled over the tier's scenarios and its speed figures (24 degrees of freedom with 4
    figures × 3 scenarios), memory figures apart. An app's own figure is pooled only with itself.
    """
    spec = BY_NAME.get(metric)
    family = _SESSION_FAMILIES.get(spec.unit) if spec is not None else None
    return f"{tier}\x00{family or metric}"


MEMORY_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS if m.unit == "MB")

# An app's own figures (``PERFGATE {"name": value}`` lines of an app scenario's
# command) are metrics named ``app.<name>``: summarised and shown always, gated
# only when ``gate.metrics`` lists them (with their thresholds), since perfgate
# cannot know what they mean.
APP_METRIC_PREFIX = "app."
_APP_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
# The unit an app metric's name implies, by its suffix (the registry's own naming rule).
_SUFFIX_UNITS = (("_tok_s", "tok/s"), ("_ms", "ms"), ("_mb", "MB"), ("_s", "s"))


def default_informational(metric: str, *, app_scenario: bool, host_os: str | None = None) -> bool:
    """Whether ``metric`` is informational by default, in an app scenario or in one of perfgate's own.

    ``host_os`` (``darwin``, ``linux``: where the results were measured) picks the one memory
    figure that gates there; unknown, every figure keeps its platform-free default.
    """
    spec = BY_NAME.get(metric)
    if spec is None:  # an app's own figure: gated only when listed, and then as configured
        return False
    if host_os is not None and host_os in spec.informational_on:
        return True
    return spec.informational and not (app_scenario and spec.gates_for_apps)


def is_app_key(key: str) -> bool:
    """Whether ``key`` may name an app figure: letters, digits, ``_`` and ``-``, at most 64 of them."""
    return 0 < len(key) <= 64 and set(key) <= _APP_NAME_CHARS


def is_app_metric(metric: str) -> bool:
    """Whether ``metric`` is an app's own figure (``app.<name>``)."""
    return metric.startswith(APP_METRIC_PREFIX) and is_app_key(metric.removeprefix(APP_METRIC_PREFIX))


def is_known_metric(metric: str) -> bool:
    """A registry metric, or an app's own figure."""
    return metric in BY_NAME or is_app_metric(metric)


def label(metric: str) -> str:
    """A metric's name as a person reads it (the name itself when unknown)."""
    spec = BY_NAME.get(metric)
    return spec.label if spec else metric


def direction_of(metric: str) -> Direction:
    """Throughputs are higher-is-better; latencies and memory lower-is-better."""
    spec = BY_NAME.get(metric)
    if spec is not None:
        return spec.direction
    return "higher" if metric.endswith("_tok_s") else "lower"


def unit_of(metric: str) -> str:
    spec = BY_NAME.get(metric)
    if spec is not None:
        return spec.unit
    if is_app_metric(metric):
        return next((unit for suffix, unit in _SUFFIX_UNITS if metric.endswith(suffix)), "")
    return ""
