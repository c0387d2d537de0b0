"""Baselines: refusals, deterministic files, loading errors, and diffs against git."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import Baseline, find_baseline, load_baseline
from perfgate.contracts.results import (
    Failure,
    Fingerprint,
    HostInfo,
    LoadedResults,
    RunResult,
    RuntimeInfo,
    Sample,
    ScenarioFingerprint,
    ScenarioOptions,
    ScenarioResult,
)
from perfgate.decide.baseline import build_baseline, diff_baselines
from perfgate.errors import BadFileError, BaselineMissing, BaselineRefused, ExitCode, Kind, NewerSchemaError
from perfgate.files import write_model

CONFIG = PerfgateConfig()  # gate.min_baseline_samples = 10
CREATED = "2026-11-28T12:00:00Z"
OPTIONS = ScenarioOptions(num_predict=16, num_ctx=4096, temperature=0.0, seed=42, keep_alive="10m")
HOST = HostInfo(label="Ross’s Mac mini", os="darwin", os_version="14.5", chip="Apple M3 Pro", memory_bytes=36 * 2**30)


def make_samples(seed: int, n: int, *, ttft: float = 100.0) -> tuple[Sample, ...]:
    rng = np.random.default_rng(seed)
    noise = np.exp(rng.normal(0.0, 0.03, (n, 3)))
    return tuple(
        Sample(
            iteration=i,
            ttft_ms=float(ttft * noise[i, 0]),
            e2e_ms=float((ttft + 40.0) * noise[i, 1]),
            decode_tok_s=float(428.0 * noise[i, 2]),
            decode_source="server",
            client_decode_tok_s=None,  # absent values are dropped from the baseline, never zeroed
            prefill_tok_s=None,
            load_ms=None,
            cold=False,
            output_tokens=16,
            prompt_tokens=12,
            itl_ms_p50=None,
            itl_ms_p90=None,
            itl_ms_p99=None,
            done_reason="length",
            peak_runtime_rss_mb=58.5,
        )
        for i in range(n)
    )


def make_result(
    *,
    seed: int = 1,
    n: int = 12,
    tier: str = "sim",
    simulated: bool = True,
    ttft: float = 100.0,
    failures: tuple[Failure, ...] = (),
    model_digest: str = "3217081ea481",
    created_at: str = "2026-11-27T10:00:00Z",
) -> RunResult:
    runtime = RuntimeInfo(
        kind="ollama",
        base_url="http://127.0.0.1:50123",
        version="0.0.0-perfgate-sim",
        model="sim-model",
        model_digest=model_digest,
        simulated=simulated,
    )
    fingerprint = Fingerprint(
        tier=tier,
        chip=HOST.chip,
        memory_gb=HOST.memory_gb,
        os_major="macOS 14",
        runtime_kind=runtime.kind,
        runtime_version=runtime.version,
        model=runtime.model,
        model_digest=model_digest,
        quantization=None,
        scenarios={"short": ScenarioFingerprint(prompt_sha256="a" * 64, options_sha256="b" * 64)},
    )
    scenario = ScenarioResult(
        name="short",
        prompt_sha256="a" * 64,
        prompt_chars=48,
        options=OPTIONS,
        warmups_discarded=1,
        samples=make_samples(seed, n, ttft=ttft),
        summaries={},
    )
    return RunResult(
        perfgate_version="0.1.0",
        created_at=created_at,
        git_sha=f"sha{seed}",
        command="perfgate run --runtime sim --for-baseline",
        host=HOST,
        tier=tier,
        fingerprint=fingerprint,
        runtime=runtime,
        simulated=simulated,
        warmup=1,
        runs=n,
        scenarios=(scenario,),
        failures=failures,
    )


def loaded(result: RunResult, name: str = "results-sim.json") -> LoadedResults:
    return LoadedResults(Path("perf-results") / name, result)


def refusal(sources: list[LoadedResults], tier: str = "sim", config: PerfgateConfig = CONFIG) -> str:
    with pytest.raises(BaselineRefused) as info:
        build_baseline(sources, tier=tier, config=config, created_at=CREATED)
    assert info.value.exit_code == ExitCode.USAGE == 2
    message = str(info.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------- refusals


def test_refuses_results_with_failures():
    failed = make_result(
        failures=(Failure(kind=Kind.STREAM_TRUNCATED, message="stream ended early", scenario="short"),)
    )
    message = refusal([loaded(make_result(seed=2), "a.json"), loaded(failed, "b.json")])
    assert message.startswith(str(Path("perf-results") / "b.json"))
    assert "failures (stream_truncated: stream ended early)" in message


def test_refuses_fewer_samples_than_the_minimum():
    message = refusal([loaded(make_result(n=5))])
    assert "'short' has 5 samples, fewer than the minimum 10" in message
    assert "gate.min_baseline_samples" in message
    # two files of 5 reach the minimum together
    baseline = build_baseline(
        [loaded(make_result(seed=1, n=5), "a.json"), loaded(make_result(seed=2, n=5), "b.json")],
        tier="sim",
        config=CONFIG,
        created_at=CREATED,
    )
    assert len(baseline.samples["short"]["e2e_ms"]) == 10
    # and the minimum is the configured one
    lower = CONFIG.model_copy(update={"gate": CONFIG.gate.model_copy(update={"min_baseline_samples": 5})})
    assert build_baseline([loaded(make_result(n=5))], tier="sim", config=lower, created_at=CREATED).tier == "sim"


def test_refuses_simulated_results_for_a_hardware_tier():
    message = refusal([loaded(make_result(tier="pro", simulated=True), "results-pro.json")], tier="pro")
    assert "simulated results cannot become the baseline of tier 'pro'" in message
    assert "results-pro.json" in message
    # real results are fine for that tier
    real = build_baseline(
        [loaded(make_result(tier="pro", simulated=False))], tier="pro", config=CONFIG, created_at=CREATED
    )
    assert not real.simulated


def test_refuses_results_of_another_tier():
    message = refusal([loaded(make_result(tier="sim"))], tier="pro")
    assert "results are for tier 'sim', not 'pro'" in message


def test_refuses_unknown_tier():
    message = refusal([loaded(make_result(tier="nope"))], tier="nope")
    assert "tier 'nope' is not configured" in message
    assert "sim" in message


def test_refuses_mixed_fingerprints():
    message = refusal(
        [loaded(make_result(seed=1), "a.json"), loaded(make_result(seed=2, model_digest="ffffffffffff"), "b.json")]
    )
    assert "b.json: fingerprint differs from" in message
    assert "a.json" in message


def test_refuses_no_results():
    assert "at least one results file" in refusal([])


# ----------------------------------------------------------------- a good baseline


def test_good_baseline_is_deterministic_and_round_trips(tmp_path):
    sources = [
        loaded(make_result(seed=1, created_at="2026-11-27T10:00:00Z"), "results-1.json"),
        loaded(make_result(seed=2, created_at="2026-11-27T11:00:00Z"), "results-2.json"),
    ]
    first = build_baseline(sources, tier="sim", config=CONFIG, created_at=CREATED)
    again = build_baseline(sources, tier="sim", config=CONFIG, created_at=CREATED)
    write_model(tmp_path / "a" / "sim.json", first)
    write_model(tmp_path / "b" / "sim.json", again)
    raw = (tmp_path / "a" / "sim.json").read_bytes()
    assert raw == (tmp_path / "b" / "sim.json").read_bytes()
    assert raw.endswith(b"}\n")
    assert not raw.endswith(b"\n\n")
    data = json.loads(raw)
    assert list(data) == sorted(data)
    assert list(data["samples"]["short"]) == sorted(data["samples"]["short"])
    assert load_baseline(tmp_path / "a" / "sim.json") == first

    # raw samples of both files, in order; absent metrics are absent, not zeros
    assert first.samples["short"]["ttft_ms"] == tuple(
        s.ttft_ms for src in sources for s in src.result.scenarios[0].samples
    )
    assert "client_decode_tok_s" not in first.samples["short"]
    assert first.samples["short"]["peak_runtime_rss_mb"] == (58.5,) * 24
    p = first.provenance
    assert p.measured_at == "2026-11-27T11:00:00Z"
    assert p.git_sha == "sha2"
    assert p.created_at == CREATED
    assert p.runs == 24
    assert p.source_files == ("results-1.json", "results-2.json")
    assert p.host.label == "Ross’s Mac mini"
    assert "Ross’s Mac mini" in raw.decode("utf-8")
    assert first.simulated
    assert first.fingerprint == sources[0].result.fingerprint


def test_find_baseline_missing_is_exit_3_naming_the_path(tmp_path):
    with pytest.raises(BaselineMissing) as info:
        find_baseline(tmp_path / "baselines", "pro")
    assert info.value.exit_code == 3
    assert str(tmp_path / "baselines" / "pro.json") in str(info.value)


# ----------------------------------------------------------------- loading errors


@pytest.fixture
def good_file(tmp_path) -> Path:
    path = tmp_path / "sim.json"
    write_model(path, build_baseline([loaded(make_result())], tier="sim", config=CONFIG, created_at=CREATED))
    return path


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_corrupt_json_names_the_file(good_file):
    good_file.write_text(good_file.read_text(encoding="utf-8")[:200], encoding="utf-8")
    with pytest.raises(BadFileError) as info:
        load_baseline(good_file)
    assert str(info.value).startswith(f"{good_file}: baseline file is not valid JSON")
    assert info.value.exit_code == 2


def test_wrong_field_is_named(good_file):
    edit(good_file, lambda d: d["samples"]["short"].update(ttft_ms=["fast"]))
    with pytest.raises(BadFileError, match=r"invalid baseline file at field 'samples\.short\.ttft_ms\.0'") as info:
        load_baseline(good_file)
    assert str(good_file) in str(info.value)


def test_results_file_is_not_a_baseline(good_file):
    edit(good_file, lambda d: d.update(kind="perfgate-results"))
    with pytest.raises(BadFileError, match="field 'kind'"):
        load_baseline(good_file)


def test_newer_schema_says_upgrade(good_file):
    edit(good_file, lambda d: d.update(schema_version=99))
    with pytest.raises(NewerSchemaError, match="upgrade perfgate") as info:
        load_baseline(good_file)
    assert "schema_version 99" in str(info.value)
    assert info.value.exit_code == 2


def test_file_name_must_match_tier(good_file):
    renamed = good_file.with_name("pro.json")
    good_file.rename(renamed)
    with pytest.raises(BadFileError) as info:
        load_baseline(renamed)
    assert "field 'tier'" in str(info.value)
    assert "'sim' is not 'pro'" in str(info.value)
    assert str(renamed) in str(info.value)


# ----------------------------------------------------------------- diff


def baseline(*, seed: int = 1, n: int = 12, ttft: float = 100.0, tier: str = "sim") -> Baseline:
    return build_baseline(
        [loaded(make_result(seed=seed, n=n, ttft=ttft, tier=tier, simulated=tier == "sim"))],
        tier=tier,
        config=CONFIG,
        created_at=CREATED,
    )


def test_diff_baselines_old_vs_new():
    old, new = baseline(seed=1, n=12), baseline(seed=2, n=15, ttft=130.0)
    diff = diff_baselines("baselines/sim.json", old, new)
    assert diff.tier == "sim"
    rows = {(r.scenario, r.metric): r for r in diff.metrics}
    ttft = rows[("short", "ttft_ms")]
    before, after = old.samples["short"]["ttft_ms"], new.samples["short"]["ttft_ms"]
    assert ttft.old_median == statistics.median(before)
    assert ttft.new_median == statistics.median(after)
    assert ttft.old_cv == pytest.approx(statistics.stdev(before) / statistics.fmean(before))
    assert ttft.new_cv == pytest.approx(statistics.stdev(after) / statistics.fmean(after))
    assert (ttft.old_n, ttft.new_n) == (12, 15)
    assert ttft.change == pytest.approx(0.30, abs=0.05)
    assert ("short", "client_decode_tok_s") not in rows  # in neither baseline
    assert rows[("short", "peak_runtime_rss_mb")].new_cv == 0


def test_diff_of_a_new_baseline_has_no_old_side():
    new = baseline()
    diff = diff_baselines("baselines/sim.json", None, new)
    assert diff.old is None
    assert all(r.old_median is None and r.old_n == 0 and r.change is None for r in diff.metrics)
    assert all(r.new_n == 12 for r in diff.metrics)


def test_a_baseline_from_three_results_files_records_three_sessions_in_order(tmp_path):
    parts = [make_result(seed=10 + k, n=5 + k) for k in range(3)]
    loaded = [LoadedResults(tmp_path / f"s{k}.json", part) for k, part in enumerate(parts)]
    baseline = build_baseline(loaded, tier="sim", config=PerfgateConfig(), created_at="2026-12-01T00:00:00Z")
    assert baseline.provenance.sessions == 3
    ttft = baseline.samples["short"]["ttft_ms"]
    assert baseline.sessions["short"]["ttft_ms"] == (5, 6, 7)
    expected = [s.ttft_ms for part in parts for sc in part.scenarios if sc.name == "short" for s in sc.samples]
    assert list(ttft) == expected  # source by source, in the order measured


def test_a_baseline_from_one_results_file_is_one_session():
    baseline = build_baseline(
        [LoadedResults(Path("r.json"), make_result(seed=1, n=15))],
        tier="sim",
        config=PerfgateConfig(),
        created_at="2026-12-01T00:00:00Z",
    )
    assert (baseline.provenance.sessions, baseline.sessions) == (1, {})


def test_sessions_that_do_not_add_up_to_the_samples_are_refused():
    baseline = build_baseline(
        [LoadedResults(Path("r.json"), make_result(seed=1, n=15))],
        tier="sim",
        config=PerfgateConfig(),
        created_at="2026-12-01T00:00:00Z",
    )
    data = baseline.model_dump(mode="json")
    data["sessions"] = {"short": {"ttft_ms": [5, 5]}}
    with pytest.raises(ValueError, match="sessions of short/ttft_ms count 10 values but the samples hold 15"):
        Baseline.model_validate(data)
