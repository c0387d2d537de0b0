"""``perfgate history site`` (perfgate/commands/history_site.py) and the PR comment's link to the page."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from pydantic import ValidationError
from support.synthetic import baseline_of, make_result
from support.trend_page import STEP, count_charts, make_entries, step_change_points, write_store
from test_summary import clean_report

from perfgate.cli import main
from perfgate.commands import Console
from perfgate.commands.history_site import drift_change_points, execute
from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import baseline_path
from perfgate.files import write_model
from perfgate.history.series import SeriesKey
from perfgate.render.summary import gate_summary

RUNS = 24


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no baselines/ here: bands only from --baselines
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    return write_store(tmp_path / "store", make_entries(runs=RUNS, step_at=STEP))


def _args(store: Path, out: Path, **extra: object) -> argparse.Namespace:
    values: dict[str, object] = {"baselines": None, "repo_url": None, "title": "trends"}
    values.update(extra)
    return argparse.Namespace(store=str(store), out=str(out), **values)


def test_the_command_writes_the_page_and_says_what_is_on_it(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = store.parent / "site"
    code = main(["history", "site", "--store", str(store), "--out", str(out), "--repo-url", "https://github.com/a/b"])
    captured = capsys.readouterr()
    assert code == 0
    assert (out / ".nojekyll").is_file()
    charts = count_charts((out / "index.html").read_text(encoding="utf-8"))
    assert len(charts) == 8
    assert all(len(chart.points) == RUNS for chart in charts.values())
    assert f"8 charts from {2 * RUNS} history entries" in captured.out
    links = charts["pro--prefill--ttft_ms"].links
    assert any(link.startswith("https://github.com/a/b/commit/") for link in links)


def test_change_points_come_from_the_injected_finder(store: Path) -> None:
    out = store.parent / "site"
    console = Console(io.StringIO(), io.StringIO())
    execute(_args(store, out), PerfgateConfig(), console, find_change_points=step_change_points)
    charts = count_charts((out / "index.html").read_text(encoding="utf-8"))
    assert {key: chart.change_points for key, chart in charts.items() if chart.change_points} == {
        f"{tier}--{scenario}--ttft_ms": [STEP] for tier in ("pro", "sim") for scenario in ("prefill", "short-explain")
    }
    assert "4 change points" in console.out.getvalue()


def test_without_the_drift_detector_no_change_point_is_marked_and_one_line_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> object:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr("perfgate.commands.history_site.importlib.import_module", missing)
    notes: list[str] = []
    assert drift_change_points({SeriesKey("t", "s", "ttft_ms"): []}, notes.append) == {}
    assert len(notes) == 1
    assert "change points not marked" in notes[0]


def test_the_baselines_shade_their_tiers_bands(store: Path) -> None:
    baselines = store.parent / "baselines"
    write_model(baseline_path(baselines, "pro"), baseline_of(make_result(seed=3, tier="pro")))
    out = store.parent / "site"
    execute(_args(store, out, baselines=str(baselines)), PerfgateConfig(), Console(io.StringIO(), io.StringIO()))
    charts = count_charts((out / "index.html").read_text(encoding="utf-8"))
    assert {key for key, chart in charts.items() if chart.bands} == {
        f"pro--{scenario}--{metric}"
        for scenario in ("prefill", "short-explain")
        for metric in ("ttft_ms", "decode_tok_s")
    }


def test_repository_links_default_to_the_actions_run(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
    out = store.parent / "site"
    execute(_args(store, out), PerfgateConfig(), Console(io.StringIO(), io.StringIO()))
    links = count_charts((out / "index.html").read_text(encoding="utf-8"))["sim--prefill--ttft_ms"].links
    assert sum(link.startswith("https://github.com/acme/app/commit/") for link in links) == 2 * RUNS


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--repo-url", "javascript:alert(1)"], "--repo-url: expected http"),
        (["--repo-url", 'https://x.example/"onclick="a'], "--repo-url"),
        (["--baselines", "no-such-dir"], "baselines directory not found"),
    ],
)
def test_bad_input_exits_2(store: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    try:
        code = main(["history", "site", "--store", str(store), "--out", str(store.parent / "site"), *argv])
    except SystemExit as exc:  # refused by argparse, as every bad flag is
        code = exc.code if isinstance(exc.code, int) else -1
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (store.parent / "site").exists()


def test_a_missing_store_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "site", "--store", str(tmp_path / "nope"), "--out", str(tmp_path / "site")]) == 2
    assert "history store not found" in capsys.readouterr().err


def test_a_corrupt_entry_is_named_and_skipped_and_the_page_still_written(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = len(list(store.glob("*/*.json")))
    bad = store / "pro" / "bad.json"
    bad.write_text('{"schema_version": 1, "kind": "perfgate-history-entry"}', encoding="utf-8")
    assert main(["history", "site", "--store", str(store), "--out", str(store.parent / "site")]) == 0
    captured = capsys.readouterr()
    assert f"skipped {bad}" in captured.err
    assert f"from {good} history entries" in captured.out
    assert (store.parent / "site" / "index.html").is_file()


def test_the_pr_comment_links_the_trend_page_when_configured() -> None:
    report = clean_report()
    url = "https://acme.github.io/app/"
    assert url not in gate_summary(report)
    linked = gate_summary(report, site_url=url)
    footer = linked.rstrip().splitlines()[-1]
    assert footer.endswith(f"[Trends on the default branch](<{url}>).</sub>")
    assert PerfgateConfig(history={"site_url": url}).history.site_url == url


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://x.example/a)b", "https://x.example/<b>", "ftp://x.example/", "a b"]
)
def test_the_trend_page_url_is_an_http_url(url: str) -> None:
    with pytest.raises(ValidationError, match="site_url"):
        PerfgateConfig(history={"site_url": url})
