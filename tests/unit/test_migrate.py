"""Files of schema version 1 read as version 2: the server-clock decode rate counted over n - 1 gaps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.synthetic import baseline_of, make_result, summarised

from perfgate.contracts.baseline import load_baseline
from perfgate.contracts.results import load_results
from perfgate.errors import BadFileError

ROOT = Path(__file__).resolve().parents[2]


def as_v1(data: dict) -> dict:
    return {**data, "schema_version": 1}


def test_a_v1_results_file_counts_the_server_decode_rate_over_n_minus_1_gaps(tmp_path):
    result = summarised(make_result(seed=3, n=4))
    data = json.loads(result.model_dump_json())
    for scenario in data["scenarios"]:
        for sample in scenario["samples"]:
            sample.update(decode_source="server", output_tokens=16, decode_tok_s=64.0, decode_clock_ratio=1.0)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(as_v1(data)), encoding="utf-8")
    migrated = load_results(path).result
    assert migrated.schema_version == 2
    sample = migrated.scenarios[0].samples[0]
    assert sample.decode_tok_s == pytest.approx(60.0)  # 64 x 15/16
    assert sample.server_reported_tok_s == 64.0  # the runtime's own figure, kept
    assert sample.decode_clock_ratio == pytest.approx(15 / 16)
    assert migrated.scenarios[0].summaries["decode_tok_s"].median == pytest.approx(60.0)


def test_a_client_clock_rate_is_left_alone_and_one_token_has_no_rate(tmp_path):
    result = summarised(make_result(seed=3, n=2))
    data = json.loads(result.model_dump_json())
    first, second = data["scenarios"][0]["samples"]
    first.update(decode_source="client", output_tokens=16, decode_tok_s=50.0)
    second.update(decode_source="server", output_tokens=1, decode_tok_s=80.0)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(as_v1(data)), encoding="utf-8")
    one, two = load_results(path).result.scenarios[0].samples
    assert one.decode_tok_s == 50.0
    assert (two.decode_tok_s, two.decode_source, two.server_reported_tok_s) == (None, None, 80.0)


def test_a_v1_baseline_tells_server_values_from_client_ones_by_pairing_them(tmp_path):
    baseline = baseline_of(make_result(seed=1, n=3))
    data = json.loads(baseline.model_dump_json())
    metrics = data["samples"]["short-explain"]
    metrics["output_tokens"] = [16.0, 16.0, 64.0]
    metrics["client_decode_tok_s"] = [60.0, 61.0, 62.0]
    metrics["decode_tok_s"] = [64.0, 61.0, 64.0]  # server, client (same as its pair), server
    (tmp_path / "baselines").mkdir()
    path = tmp_path / "baselines" / "pro.json"
    path.write_text(json.dumps(as_v1(data)), encoding="utf-8")
    migrated = load_baseline(path)
    assert migrated.schema_version == 3  # through version 2 (decode rate) to 3 (sessions: one)
    assert migrated.sessions == {}
    assert migrated.samples["short-explain"]["decode_tok_s"] == pytest.approx((60.0, 61.0, 63.0))


def test_a_v1_baseline_whose_lists_do_not_pair_up_is_refused_with_how_to_remake_it(tmp_path):
    baseline = baseline_of(make_result(seed=1, n=3))
    data = json.loads(baseline.model_dump_json())
    data["samples"]["prefill"]["client_decode_tok_s"] = [60.0]  # values were dropped: no pairing
    (tmp_path / "baselines").mkdir()
    path = tmp_path / "baselines" / "pro.json"
    path.write_text(json.dumps(as_v1(data)), encoding="utf-8")
    with pytest.raises(BadFileError, match=r"pro\.json: baseline file of schema_version 1 .* nox -s baseline"):
        load_baseline(path)


def test_the_committed_sim_baseline_is_current_and_its_clocks_agree():
    data = json.loads((ROOT / "baselines" / "sim.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == 3
    for metrics in data["samples"].values():
        for server, client in zip(metrics["decode_tok_s"], metrics["client_decode_tok_s"], strict=True):
            assert server == pytest.approx(client, rel=0.05)
