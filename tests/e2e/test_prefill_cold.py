"""The prefill scenario measures a cold prompt on a runtime that caches prompts (llama.cpp, its cache on).

The server is started as a user runs it, prompt cache on (a server perfgate
starts itself has it off), and perfgate measures it as any OpenAI-compatible
server it finds there. A llama.cpp server reuses the cached prefix of a prompt
it has seen: the same long prompt sent again is mostly a cache hit. The
built-in ``prefill`` scenario (``cold_prompt``) starts each prompt with a
nonce and asks for ``cache_prompt: false``.

The cold measurement it must match is the server's own: the time llama.cpp
says it spent evaluating the whole prompt (``prompt_tokens / prefill_tok_s``)
in the very same request, so load, which slows both alike, cannot break the
comparison. A ``warm`` scenario with the same prompt and no ``cold_prompt``
shows what would be measured otherwise: cache hits.
"""

from __future__ import annotations

import os
import statistics

import pytest
from support.cli import load_results
from support.cli import perfgate as run_perfgate

from perfgate.config import PREFILL_PROMPT
from perfgate.errors import Kind
from perfgate.llamacpp.launch import LlamaCppProcess
from perfgate.llamacpp.model import ensure_model

ALIAS = "perfgate-small"

PROJECT_TOML = f"""\
[tool.perfgate]
warmup = 1

[tool.perfgate.scenarios.warm]
prompt = {PREFILL_PROMPT!r}
num_predict = 16

[tool.perfgate.tiers.e2e]
description = "whatever machine runs the e2e tests"
auto_detect = false
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefill")
    (root / "pyproject.toml").write_text(PROJECT_TOML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFGATE_")}
    model = ensure_model(tmp_path_factory.mktemp("models"), "small")
    return root, env, model.path


def run(project, out: str, *args: str) -> None:
    """``perfgate run`` against a freshly started llama.cpp server with its prompt cache on."""
    root, env, model = project
    with LlamaCppProcess(model, ALIAS, cache_prompt=True) as server:
        proc = run_perfgate(
            "run", "--runtime", "openai", "--base-url", server.base_url, "--model", ALIAS, "--tier", "e2e",
            "--out", out, *args, cwd=root, env=env, timeout=600,
        )  # fmt: skip
    if proc.returncode == 3:
        # On a machine busy enough that perfgate could time no cache hit (each is a few ms, and the
        # llama.cpp server's own threads compete for the cores), the warm scenario alone may fail
        # as timing_unreliable; its TTFTs are then upper bounds, which is all the test needs of them.
        failures = [(f.kind, f.scenario) for f in load_results(root / out).failures]
        assert failures == [(Kind.TIMING_UNRELIABLE, "warm")], proc.stderr[-2000:]
    else:
        assert proc.returncode == 0, proc.stderr[-2000:]


def ttfts(project, out: str, scenario: str) -> list[float]:
    root = project[0]
    (found,) = [s for s in load_results(root / out).scenarios if s.name == scenario]
    return [s.ttft_ms for s in found.samples if s.ttft_ms is not None]


def test_the_prefill_scenario_measures_the_prompt_cold_not_the_cache_hit(project):
    run(project, "both.json", "--runs", "5", "--scenario", "prefill", "--scenario", "warm")
    root = project[0]
    scenarios = {s.name: s for s in load_results(root / "both.json").scenarios}
    for sample in scenarios["prefill"].samples:
        if sample.suspect_reason is not None:
            continue  # perfgate's clock was starved: its TTFT is not a measurement
        assert sample.ttft_ms is not None
        assert sample.prompt_tokens is not None
        assert sample.prefill_tok_s is not None  # its row never vanishes: the whole prompt was evaluated
        full_prefill_ms = sample.prompt_tokens / sample.prefill_tok_s * 1000
        assert 0.8 * sample.ttft_ms <= full_prefill_ms <= 1.2 * sample.ttft_ms, sample
    cold = statistics.median(ttfts(project, "both.json", "prefill"))
    hits = statistics.median(ttfts(project, "both.json", "warm"))
    # Without cold_prompt the same prompt is a cache hit: what perfgate reported before. (The TTFTs of
    # suspect samples are read too: a wait for a CPU only ever lengthens them.)
    assert hits < 0.2 * cold, (hits, cold)
