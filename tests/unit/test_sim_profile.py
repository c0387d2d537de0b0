from __future__ import annotations

import argparse
import math
import statistics
import threading

import pytest
from pydantic import ValidationError

from perfgate.config import SimConfig
from perfgate.sim import wire
from perfgate.sim.engine import SimEngine
from perfgate.sim.profile import FAULTS, SimProfile


def _parse_like_cli(args: list[str]) -> SimProfile:
    """The flag set `perfgate sim` accepts, as an independent reader of to_args()."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    for flag in ("--ttft-ms", "--tok-s", "--prefill-tok-s", "--jitter-cv", "--load-ms", "--stall-s"):
        parser.add_argument(flag, type=float)
    for flag in ("--ballast-mb", "--fault-after", "--seed"):
        parser.add_argument(flag, type=int)
    parser.add_argument("--fault", choices=FAULTS)
    ns = parser.parse_args(args)
    values = {k: v for k, v in vars(ns).items() if v is not None}
    return SimProfile(**values)


def test_to_args_exact_order_without_fault():
    profile = SimProfile(
        ttft_ms=40, tok_s=60, prefill_tok_s=2000, jitter_cv=0.03, load_ms=800, ballast_mb=64, stall_s=30, seed=7
    )
    assert profile.to_args() == [
        "--model",
        "qwen2.5:7b-instruct-q4_K_M",
        "--ttft-ms",
        "40.0",
        "--tok-s",
        "60.0",
        "--prefill-tok-s",
        "2000.0",
        "--jitter-cv",
        "0.03",
        "--load-ms",
        "800.0",
        "--ballast-mb",
        "64",
        "--stall-s",
        "30.0",
        "--seed",
        "7",
    ]


def test_to_args_puts_fault_before_stall():
    args = SimProfile(fault="stall", fault_after=2).to_args()
    i = args.index("--fault")
    assert args[i : i + 4] == ["--fault", "stall", "--fault-after", "2"]
    assert args.index("--ballast-mb") < i < args.index("--stall-s")


@pytest.mark.parametrize("fault", [None, *FAULTS])
def test_to_args_round_trips(fault):
    profile = SimProfile(
        model="llama3.2:1b",
        ttft_ms=12.345678901,
        tok_s=1234.5,
        prefill_tok_s=333.3,
        jitter_cv=0.1,
        load_ms=0.1,
        ballast_mb=3,
        fault=fault,
        fault_after=4 if fault else 0,
        stall_s=0.25,
        seed=-3,
    )
    assert _parse_like_cli(profile.to_args()) == profile


def test_from_config_takes_sim_table_model_and_overrides():
    sim = SimConfig(ttft_ms=10, tok_s=99, load_ms=5, ballast_mb=1)
    profile = SimProfile.from_config(sim, model="m:1", fault="http_500", seed=3)
    assert (profile.model, profile.ttft_ms, profile.tok_s, profile.load_ms, profile.ballast_mb) == ("m:1", 10, 99, 5, 1)
    assert (profile.fault, profile.seed, profile.prefill_tok_s) == ("http_500", 3, sim.prefill_tok_s)


def test_from_config_rejects_unknown_and_invalid():
    with pytest.raises(ValidationError):
        SimProfile.from_config(SimConfig(), bogus=1)
    with pytest.raises(ValidationError):
        SimProfile.from_config(SimConfig(), tok_s=0)
    with pytest.raises(ValidationError):
        SimProfile(fault="explode")  # type: ignore[arg-type]


def test_profile_is_frozen():
    with pytest.raises(ValidationError):
        SimProfile().ttft_ms = 1  # type: ignore[misc]


def test_expected_ttft_grows_only_once_prefill_dominates():
    profile = SimProfile(ttft_ms=40, prefill_tok_s=1000)
    assert profile.expected_ttft_ms(10) == 40
    assert profile.expected_ttft_ms(100) == pytest.approx(100)


def test_jitter_is_seeded_mean_one_with_requested_cv():
    def draws(seed: int) -> list[float]:
        engine = SimEngine(SimProfile(jitter_cv=0.2, seed=seed), threading.Event())
        return [engine.jitter() for _ in range(20000)]

    first, again, other = draws(1), draws(1), draws(2)
    assert first == again
    assert first != other
    mean = statistics.fmean(first)
    assert mean == pytest.approx(1.0, abs=0.01)
    assert statistics.stdev(first) / mean == pytest.approx(0.2, abs=0.01)
    assert min(first) > 0


def test_zero_jitter_is_exact():
    engine = SimEngine(SimProfile(jitter_cv=0, tok_s=200, ttft_ms=30), threading.Event())
    assert {engine.gap_ns() for _ in range(10)} == {5_000_000}
    assert engine.ttft_ns(1) == 30_000_000


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 300.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("300ms", 0.3),
        (0, 0.0),
        ("0", 0.0),
        (42, 42.0),
        (-1, math.inf),
        ("-1m", math.inf),
    ],
)
def test_keep_alive_parsing(value, seconds):
    assert wire.parse_keep_alive(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["10 minutes", "m", True, [], "nan"])
def test_keep_alive_rejects_garbage(value):
    with pytest.raises(ValueError, match="invalid"):
        wire.parse_keep_alive(value)


def test_ollama_done_omits_zero_metrics_like_go_omitempty():
    timing = wire.Timing(
        start_ns=0, ready_ns=0, first_ns=None, last_ns=None, end_ns=5, prompt_tokens=0, output_tokens=0
    )
    line = wire.ollama_done("m", chat=False, text="", done_reason="load", timing=timing)
    assert line["total_duration"] == 5
    for absent in ("load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"):
        assert absent not in line


def test_digest_is_stable_sha256_hex():
    assert wire.digest("a") == wire.digest("a") != wire.digest("b")
    assert len(wire.digest("a")) == 64
    int(wire.digest("a"), 16)
