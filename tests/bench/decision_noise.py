"""The decision benchmark's simulated gate and noise models: seeded samples of whole gates.

A gate is what ``perfgate gate`` decides with the shipped defaults: 2 tiers ×
3 scenarios × every metric that gates in one of perfgate's own scenarios. The
metrics, their directions and thresholds are read from the registry
(``perfgate.metrics``) and the gate's default policies (``GateConfig``), so
the benchmark follows them when they change. Informational metrics
(``itl_ms_p50``) are left out: they are outside the Holm family, so they
never change a gating verdict, and deciding them only costs time.

Samples are drawn on the log scale, oriented so that "worse" is positive
(slower, larger, or lower throughput), then turned into values around a
plausible median per metric. One *session* is one measuring session on one
machine: the current session of a tier (its first runs and every run the
sequential policy adds, drawn one run after the other so AR(1), drift and the
session's offset carry over), and each baseline session. Every series is
drawn run by run, so run j is the same whatever the number of runs asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perfgate.config.model import GateConfig
from perfgate.metrics import default_informational, direction_of

TIERS, SCENARIOS = 2, 3
N_SCENARIOS = TIERS * SCENARIOS
# Measured only when a scenario runs an app's command: not in perfgate's own scenarios.
APP_ONLY = frozenset({"app_wall_ms", "peak_app_rss_mb"})
# Measured only in a cold-start scenario (kind = "cold"), whose TTFT is one of them: not in the warm ones modelled.
COLD_ONLY = frozenset({"load_cold_ms", "ttft_cold_ms"})
# A plausible median per metric (the rule works on ratios; only the quantized model cares).
MEDIANS = {
    "ttft_ms": 180.0,
    "e2e_ms": 2400.0,
    "decode_tok_s": 45.0,
    "prefill_tok_s": 900.0,
    "peak_runtime_rss_mb": 5200.0,
    "peak_runtime_footprint_mb": 5600.0,
}
# Slowed by a thermally throttled run; memory peaks are not.
CLOCKED = frozenset({"ttft_ms", "e2e_ms", "decode_tok_s", "prefill_tok_s"})


@dataclass(frozen=True)
class GateShape:
    """Test i is metric i % len(metrics) of scenario i // len(metrics), tier-major, as a gate lists them."""

    metrics: tuple[str, ...]
    directions: tuple[str, ...]  # per test
    threshold_worse: tuple[float, ...]
    threshold_better: tuple[float, ...]
    scenario_of: tuple[int, ...]  # per test, 0 .. N_SCENARIOS - 1
    tier_of: tuple[int, ...]

    @property
    def n_tests(self) -> int:
        return len(self.directions)

    def test_index(self, tier: int, scenario: int, metric: str) -> int:
        return (tier * SCENARIOS + scenario) * len(self.metrics) + self.metrics.index(metric)


def shipped_shape() -> GateShape:
    """Every metric that gates in a perfgate scenario by default, with its default thresholds."""
    policies = GateConfig().metrics
    metrics = tuple(
        name
        for name in policies
        if name not in APP_ONLY | COLD_ONLY
        and not default_informational(name, app_scenario=False)
        and not name.startswith("app.")
    )
    unknown = [name for name in metrics if name not in MEDIANS]
    if unknown:
        raise SystemExit(f"bench_decision: give {', '.join(unknown)} a median in decision_noise.MEDIANS")
    tests = [(j, name) for j in range(N_SCENARIOS) for name in metrics]
    return GateShape(
        metrics=metrics,
        directions=tuple(direction_of(name) for _, name in tests),
        threshold_worse=tuple(policies[name].threshold_worse for _, name in tests),
        threshold_better=tuple(policies[name].threshold_better for _, name in tests),
        scenario_of=tuple(j for j, _ in tests),
        tier_of=tuple(j // SCENARIOS for j, _ in tests),
    )


@dataclass(frozen=True)
class Noise:
    """One noise model. Every effect is in the worse direction (throughputs fall, times and memory rise)."""

    key: str  # for --noise
    label: str
    seed: int  # its own: adding or dropping a model changes no other model's figures
    cv: float = 0.05  # marginal CV of the run-to-run noise (lognormal)
    phi: float = 0.0  # AR(1) coefficient between successive runs of a session
    session_cv: float = 0.0  # each session × its own lognormal offset
    outliers: float = 0.0  # each run × 1.5 (worse) with this probability, per metric
    throttled: float = 0.0  # each run throttled with this probability: its clocked metrics × 1.25 worse
    drift: float = 0.0  # × (1 + drift) per run from the session's start
    true_shift: float = 0.0  # the current session, every test: a real change below every threshold
    quantized_ttft_ms: float | None = None  # TTFT at this median, on a 1 ms timer (rounded to whole ms)
    by_default: bool = True  # run without --noise (the others cost a third more time and test no floor)

    @property
    def powered(self) -> bool:
        """Whether power is simulated too (a true shift on every test leaves no clean A/A to inject into)."""
        return self.true_shift == 0


NOISES: tuple[Noise, ...] = (
    Noise("iid5", "iid CV 5 %", seed=1),
    Noise("iid3", "iid CV 3 %", seed=2, cv=0.03, by_default=False),
    Noise("iid8", "iid CV 8 %", seed=3, cv=0.08, by_default=False),
    Noise("outliers", "CV 5 % + 5 % outliers ×1.5", seed=4, outliers=0.05, by_default=False),
    Noise("ar1", "AR(1) φ 0.5, CV 5 %", seed=5, phi=0.5),
    Noise("ar1-offsets", "AR(1) φ 0.5 + session offsets CV 3 %", seed=6, phi=0.5, session_cv=0.03),
    Noise("shift3", "true +3 % on every test, CV 5 %", seed=7, true_shift=0.03),
    Noise("thermal", "thermal: 20 % of runs ×1.25, CV 3 %", seed=8, cv=0.03, throttled=0.20),
    Noise("drift", "drift +1 % per run, CV 5 %", seed=9, drift=0.01),
    Noise("quantized", "TTFT 3 ms on a 1 ms timer, CV 5 %", seed=10, quantized_ttft_ms=3.0),
)
BY_KEY = {noise.key: noise for noise in NOISES}


def _sigma(cv: float) -> float:
    """The log-scale sd of a lognormal with this CV."""
    return math.sqrt(math.log1p(cv * cv))


def session_logs(rng: np.random.Generator, noise: Noise, shape: GateShape, gates: int, runs: int) -> np.ndarray:
    """(gates, tests, runs) oriented log deviations of one session, drawn run by run."""
    size = (gates, shape.n_tests)
    sigma = _sigma(noise.cv)
    offset = rng.normal(0.0, _sigma(noise.session_cv), size) if noise.session_cv > 0 else 0.0
    clocked = np.array([shape.metrics[i % len(shape.metrics)] in CLOCKED for i in range(shape.n_tests)])
    scenario_of = np.array(shape.scenario_of)
    out = np.empty((*size, runs))
    state = np.zeros(size)
    innovation = math.sqrt(1.0 - noise.phi**2)
    for j in range(runs):
        # Run 0 starts the AR(1) at its stationary law, so every run has the marginal CV.
        step = rng.normal(0.0, sigma, size)
        state = step if j == 0 else noise.phi * state + innovation * step
        run = state + offset + j * math.log1p(noise.drift)
        if noise.outliers > 0:
            run = run + np.where(rng.random(size) < noise.outliers, math.log(1.5), 0.0)
        if noise.throttled > 0:
            # One throttled run slows every clocked metric of its scenario's run together.
            hot = (rng.random((gates, N_SCENARIOS)) < noise.throttled)[:, scenario_of]
            run = run + np.where(hot & clocked, math.log(1.25), 0.0)
        out[..., j] = run
    return out


def worse_log(change: float, direction: str) -> float:
    """The oriented log of a relative change for the worse: +r for lower-is-better, -r for higher."""
    return math.log1p(change) if direction == "lower" else -math.log1p(-change)


def to_values(logs: np.ndarray, noise: Noise, shape: GateShape) -> np.ndarray:
    """Oriented log deviations -> measured values (quantized TTFT read on its 1 ms timer)."""
    names = [shape.metrics[i % len(shape.metrics)] for i in range(shape.n_tests)]
    medians = np.array([MEDIANS[name] for name in names])
    sign = np.array([1.0 if d == "lower" else -1.0 for d in shape.directions])
    if noise.quantized_ttft_ms is not None:
        medians = np.where(np.array(names) == "ttft_ms", noise.quantized_ttft_ms, medians)
    values = medians[None, :, None] * np.exp(sign[None, :, None] * logs)
    if noise.quantized_ttft_ms is not None:
        ttft = np.array(names) == "ttft_ms"
        values[:, ttft, :] = np.maximum(1.0, np.round(values[:, ttft, :]))
    return values


@dataclass(frozen=True)
class GateSamples:
    """One chunk of simulated gates: the baseline's sessions and the current session, as values."""

    baseline: list[np.ndarray]  # per session, (gates, tests, runs of that session)
    current: np.ndarray  # (gates, tests, most runs any policy may take)


def draw(
    noise: Noise,
    shape: GateShape,
    *,
    seed: tuple[int, ...],
    gates: int,
    session_runs: tuple[int, ...],
    current_runs: int,
    injected: tuple[int, float] | None,
) -> GateSamples:
    """The baseline sessions (each its own stream), then the current session with its shifts.

    ``injected`` = (test, relative change for the worse) multiplies that test's
    current values; ``noise.true_shift`` every test's. Quantization comes last,
    as a timer reads the shifted time.
    """
    baseline = [
        to_values(session_logs(np.random.default_rng([*seed, 1, s]), noise, shape, gates, runs), noise, shape)
        for s, runs in enumerate(session_runs)
    ]
    logs = session_logs(np.random.default_rng([*seed, 0]), noise, shape, gates, current_runs)
    if noise.true_shift > 0:
        logs += np.array([worse_log(noise.true_shift, d) for d in shape.directions])[None, :, None]
    if injected is not None:
        test, change = injected
        logs[:, test, :] += worse_log(change, shape.directions[test])
    return GateSamples(baseline, to_values(logs, noise, shape))
