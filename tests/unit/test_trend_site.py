"""The trend page (perfgate/render/trend_site.py): counted from its HTML with html.parser, hostile input escaped.

The same counts are checked in a real browser by tests/integration/test_trend_browser.py
(skipped where no Chromium is installed: `nox -s browser` installs it).
"""

from __future__ import annotations

import statistics

import pytest
from support.synthetic import baseline_of, make_result
from support.trend_page import STEP, count_charts, load_store, make_entries, step_change_points, write_store

from perfgate.config import PerfgateConfig
from perfgate.history.bands import band_of, baseline_bands
from perfgate.history.series import ChangePoint, Point, SeriesKey, series_from_entries
from perfgate.render.trend_chart import chart_svg, commit_url, format_value, safe_url
from perfgate.render.trend_site import INDEX, NO_JEKYLL, chart_id, render_site

RUNS = 30
REPO = "https://github.com/acme/app"


@pytest.fixture(scope="module")
def store_series(tmp_path_factory: pytest.TempPathFactory) -> dict[SeriesKey, list[Point]]:
    root = write_store(tmp_path_factory.mktemp("store"), make_entries(runs=RUNS, step_at=STEP))
    return series_from_entries(load_store(root))


def test_every_series_is_one_chart_with_its_points_and_change_points(
    store_series: dict[SeriesKey, list[Point]],
) -> None:
    change_points = step_change_points(store_series)
    files = render_site(store_series, change_points, {}, title="trends", repo_url=REPO)
    assert set(files) == {INDEX, NO_JEKYLL}
    charts = count_charts(files[INDEX])
    # 2 tiers × 2 scenarios × 2 metrics
    assert sorted(charts) == sorted(chart_id(key) for key in store_series)
    assert len(charts) == 8
    for key, points in store_series.items():
        chart = charts[chart_id(key)]
        assert chart.declared_points == len(chart.points) == len(points) == RUNS
        assert chart.points == [p.commit for p in points]  # in commit order
        assert chart.table_rows == RUNS  # the text fallback holds every point too
        expected = [STEP] if key.metric == "ttft_ms" else []
        assert chart.change_points == expected
        assert chart.declared_change_points == len(expected)
        assert chart.bands == 0
        # Each point links to its commit; each table row to its commit and its CI run.
        commit_links = [link for link in chart.links if link.startswith(f"{REPO}/commit/")]
        assert len(commit_links) == 2 * RUNS
        assert sum("/actions/runs/" in link for link in chart.links) == RUNS


def test_charts_are_grouped_by_tier_in_registry_metric_order(store_series: dict[SeriesKey, list[Point]]) -> None:
    html = render_site(store_series, {}, {}, title="t", repo_url=None)[INDEX]
    order = list(count_charts(html))
    assert order[:4] == [
        "pro--prefill--ttft_ms",
        "pro--prefill--decode_tok_s",
        "pro--short-explain--ttft_ms",
        "pro--short-explain--decode_tok_s",
    ]
    assert html.index("<h2>Tier pro</h2>") < html.index('id="pro--prefill--ttft_ms"') < html.index("<h2>Tier sim</h2>")
    assert "TTFT (ms)" in html
    assert "decode tok/s" in html


def test_baseline_bands_are_the_gate_thresholds_oriented_by_direction() -> None:
    config = PerfgateConfig()
    baseline = baseline_of(make_result(seed=1, tier="pro"))
    bands = baseline_bands({"pro": baseline}, config)
    ttft = bands[SeriesKey("pro", "short-explain", "ttft_ms")]
    median = statistics.median(baseline.samples["short-explain"]["ttft_ms"])
    assert ttft == pytest.approx((median, median * 0.9, median * 1.1))
    # decode tok/s: 5 % threshold, worse is lower
    assert band_of(40.0, direction="higher", threshold_worse=0.05, threshold_better=0.2) == pytest.approx(
        (40.0, 38.0, 48.0)
    )
    assert band_of(100.0, direction="lower", threshold_worse=0.1, threshold_better=0.2) == pytest.approx(
        (100.0, 80.0, 110.0)
    )
    # Only metrics the gate compares (has a threshold for): output_tokens has none.
    assert SeriesKey("pro", "short-explain", "decode_tok_s") in bands
    assert SeriesKey("pro", "short-explain", "output_tokens") not in bands


def test_bands_are_drawn_where_known(store_series: dict[SeriesKey, list[Point]]) -> None:
    key = SeriesKey("pro", "short-explain", "ttft_ms")
    html = render_site(store_series, {}, {key: (120.0, 108.0, 132.0)}, title="t", repo_url=None)[INDEX]
    charts = count_charts(html)
    assert charts[chart_id(key)].bands == 1
    assert sum(chart.bands for chart in charts.values()) == 1
    assert "threshold band 108.0 ms to 132.0 ms" in html


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_untrusted_strings_are_escaped_and_bad_links_dropped() -> None:
    key = SeriesKey("pro", "short-explain", f"app.x{HOSTILE}")
    points = [
        Point(f"abc{HOSTILE}", f"2026{HOSTILE}", 1.0, 3, "javascript:alert(3)", HOSTILE),
        Point("a" * 40, "2026-03-01T00:00:00Z", 2.0, 3, f"https://ci.example/run?x={HOSTILE}", "unchanged"),
        Point("b" * 40, "2026-03-02T00:00:00Z", 3.0, 3, "https://ci.example/runs/3", "regressed"),
    ]
    cp = ChangePoint(key, 2, f"c{HOSTILE}", "b" * 40, 1.5, 3.0, 1.0, 0.01)
    html = render_site({key: points}, {key: [cp]}, {}, title=f"t{HOSTILE}", repo_url="javascript:alert(4)")[INDEX]
    assert "<script" not in html
    assert "<img" not in html
    assert "javascript:" not in html
    assert "&lt;script&gt;" in html
    charts = count_charts(html)
    (chart,) = charts.values()
    assert chart.links == ["https://ci.example/runs/3", "https://ci.example/runs/3"]  # the one safe URL: point, table
    assert chart.change_points == [2]
    # A safe repository links hex SHAs only.
    html = render_site({key: points}, {}, {}, title="t", repo_url=REPO)[INDEX]
    links = next(iter(count_charts(html).values())).links
    assert f"{REPO}/commit/{'a' * 40}" in links
    assert not any("abc" in link for link in links)


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://github.com/o/r", True),
        ("http://ci.local:8080/x", True),
        ("HTTPS://GitHub.com/o/r", True),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("//evil.example/x", False),
        ("https://", False),
        ('https://x.example/"onmouseover="a', False),
        ("https://x.example/a b", False),
        ("https://x.example/\nb", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_url(url: str | None, safe: bool) -> None:
    assert safe_url(url) == (url if safe else None)


def test_commit_links_need_a_hex_sha() -> None:
    assert commit_url(REPO + "/", "0123abc") == f"{REPO}/commit/0123abc"
    assert commit_url(REPO, "main") is None
    assert commit_url(REPO, "0123ab") is None  # too short to name a commit
    assert commit_url(None, "0123abc") is None


def test_change_points_outside_the_series_are_not_drawn() -> None:
    key = SeriesKey("t", "s", "ttft_ms")
    points = [Point(f"{i:07x}", "2026", float(i), 1, None, None) for i in range(4)]
    bad = [ChangePoint(key, i, "0", "0", 1.0, 2.0, 1.0, 0.01) for i in (0, 4, 9)]
    good = ChangePoint(key, 3, "0", "0", 1.0, 2.0, 1.0, 0.01)
    html = render_site({key: points}, {key: [*bad, good]}, {}, title="t", repo_url=None)[INDEX]
    chart = count_charts(html)[chart_id(key)]
    assert chart.change_points == [3]
    assert chart.declared_change_points == 1
    assert chart.links == []  # no repository, no run URLs: nothing to link


def test_single_point_and_flat_series_draw() -> None:
    key = SeriesKey("t", "s", "ttft_ms")
    one = chart_svg([Point("0" * 40, "2026", 5.0, 1, None, None)], [], None, unit="ms", label="x", repo_url=None)
    assert one.count("data-point=") == 1
    assert "nan" not in one.lower()
    flat = [Point(f"{i:040x}", "2026", 0.0, 1, None, None) for i in range(3)]
    html = render_site({key: flat}, {}, {}, title="t", repo_url=None)[INDEX]
    assert "nan" not in html.lower()
    assert "inf" not in html.lower().replace("info", "")
    with pytest.raises(ValueError, match="at least one point"):
        chart_svg([], [], None, unit="ms", label="x", repo_url=None)


def test_an_empty_store_still_makes_a_page() -> None:
    html = render_site({}, {}, {}, title="t", repo_url=None)[INDEX]
    assert count_charts(html) == {}
    assert "No history recorded yet" in html


def test_the_page_loads_nothing_and_runs_no_script(store_series: dict[SeriesKey, list[Point]]) -> None:
    html = render_site(store_series, step_change_points(store_series), {}, title="t", repo_url=REPO)[INDEX]
    assert "<script" not in html
    assert "default-src 'none'" in html  # the CSP: no fetch of any kind at view time
    assert " src=" not in html
    assert "<link" not in html
    assert "@import" not in html


@pytest.mark.parametrize(
    ("value", "text"), [(1234.5, "1,234"), (123.45, "123.5"), (12.345, "12.35"), (0.01234, "0.0123"), (0.0, "0")]
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text
