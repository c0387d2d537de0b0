"""`perfgate report`: the seed's report, written from results files (golden file)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from support.synthetic import baseline_of, write_baselines

from perfgate.cli import main
from perfgate.commands.report import build_report
from perfgate.config import PerfgateConfig
from perfgate.contracts.results import LoadedResults, load_results

ROOT = Path(__file__).resolve().parents[2]
RAW = sorted((ROOT / "docs" / "reports" / "raw").glob("*.json"))
GOLDEN = ROOT / "tests" / "data" / "golden" / "report-two-tiers.md"
LABEL = "Ross’s Mac mini"


def two_tiers() -> list[LoadedResults]:
    """The committed example's raw results: one tier measured, one whose runtime was down."""
    loaded = [load_results(p) for p in RAW]
    measured = next(i for i in loaded if not i.result.failures)
    renamed = measured.result.model_copy(update={"host": measured.result.host.model_copy(update={"label": LABEL})})
    return [LoadedResults(Path("raw/measured.json"), renamed)] + [
        LoadedResults(Path("raw/failed.json"), i.result) for i in loaded if i.result.failures
    ]


def render() -> str:
    return build_report(
        two_tiers(),
        PerfgateConfig(),
        title="Alpha Performance Report 02",
        baselines_dir=None,
        expect_tiers=("local", "pro"),
        raw_paths=["raw/measured.json", "raw/failed.json"],
        generated="2026-11-28",
    )


def test_report_matches_its_golden_file():
    text = render()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_results_table_has_medians_for_one_tier_and_the_reason_for_the_other():
    text = render()
    rows = [line for line in text.splitlines() if line.startswith("| local /") or line.startswith("| pro /")]
    measured = [r for r in rows if r.startswith("| local /")]
    failed = [r for r in rows if r.startswith("| pro /")]
    assert measured
    assert failed
    assert all("N/A" not in r for r in measured)
    assert all("N/A — runtime unavailable: nothing is listening at" in r for r in failed)
    assert "0.00" not in "".join(failed)  # never a fake 0 MB


def test_defect_triage_has_the_p1_entry_and_the_label_is_exact():
    text = render()
    triage = text.split("## Defect Triage", 1)[1].split("## Summary", 1)[0]
    assert "| P1 " in triage
    assert "Runtime unavailable on pro" in triage
    assert "| Runtime " in triage
    assert f"`{LABEL}`" in text
    assert "â€™" not in text  # the seed's mojibake cannot happen


def test_cli_copies_raw_files_with_timestamped_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "docs" / "report.md"
    code = main(["report", *map(str, RAW), "--out", str(out), "--copy-raw", str(tmp_path / "docs" / "raw")])
    assert code == 0
    copied = sorted(p.name for p in (tmp_path / "docs" / "raw").iterdir())
    assert copied == sorted(p.name for p in RAW)  # perf-<tier>-<YYYYmmdd-HHMMSS>.json
    text = out.read_text(encoding="utf-8")
    for name in copied:
        assert f"`raw/{name}`" in text
        assert json.loads((tmp_path / "docs" / "raw" / name).read_text(encoding="utf-8"))["schema_version"] == 1


def test_what_changed_against_the_baselines(tmp_path):
    """The report names the treatment that moved the numbers (here the model) when baselines are given."""
    measured = two_tiers()[0]
    fingerprint = measured.result.fingerprint.model_copy(update={"model": "perfgate-small", "model_digest": "ab" * 32})
    before = baseline_of(measured.result.model_copy(update={"fingerprint": fingerprint}))
    # Other numbers than the run's own: a results file holding the baseline's own samples is left out.
    other = {s: {m: tuple(v * 1.01 for v in vs) for m, vs in ms.items()} for s, ms in before.samples.items()}
    write_baselines(tmp_path, before.model_copy(update={"samples": other}))
    text = build_report(
        [measured],
        PerfgateConfig(),
        title="Report",
        baselines_dir=tmp_path,
        expect_tiers=(),
        raw_paths=["raw/measured.json"],
        generated="2026-11-28",
    )
    section = text.split("## What changed\n", 1)[1].split("\n## ", 1)[0]
    assert "- model: perfgate-small → perfgate-tiny (local)" in section
    assert "- model_digest: abababababab → d49730d70504 (local)" in section
    assert text.index("## What changed") < text.index("## Results")
    # without baselines there is nothing to compare with, and no section
    assert "What changed" not in render()
