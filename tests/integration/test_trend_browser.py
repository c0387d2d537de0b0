"""The trend page in a real headless browser: every chart drawn with its points and change points; a screenshot.

Chromium comes from the system packages: ``nox -s browser`` installs it (apt) and runs
this file. Where no Chromium is on PATH the test skips, saying so; the same counts are
checked from the HTML alone by tests/unit/test_trend_site.py.

What is counted is what the browser laid out, not only what it parsed: a probe script,
added to a copy of the page (the page itself has none and its Content-Security-Policy
forbids scripts), measures every point and change-point marker and writes on each chart
how many have a box of non-zero size inside the chart's own box. ``--dump-dom`` then
prints the DOM with those counts. The screenshot is of the page as published.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from argparse import Namespace
from pathlib import Path

import pytest
from support.synthetic import baseline_of, make_result
from support.trend_page import STEP, count_charts, make_entries, step_change_points, write_store

from perfgate.commands import Console
from perfgate.commands.history_site import execute
from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import baseline_path
from perfgate.files import write_model

BROWSERS = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome", "google-chrome-stable")
RUNS = 40

PROBE = """<script>
for (const chart of document.querySelectorAll("figure.chart")) {
  const box = chart.querySelector("svg").getBoundingClientRect();
  const inside = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.left >= box.left - 1 && r.right <= box.right + 1
      && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
  };
  chart.dataset.renderedPoints = [...chart.querySelectorAll("circle[data-point]")].filter(inside).length;
  chart.dataset.renderedChangePoints = [...chart.querySelectorAll("g[data-change-point]")].filter(inside).length;
  chart.dataset.renderedBands = [...chart.querySelectorAll("g[data-band] rect")].filter(inside).length;
  chart.dataset.svgSize = `${Math.round(box.width)}x${Math.round(box.height)}`;
}
document.body.dataset.probed = "yes";
</script>"""


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    reason = (
        "no Chromium on PATH (looked for " + ", ".join(BROWSERS) + "): `nox -s browser` installs it from the "
        "system packages; tests/unit/test_trend_site.py checks the same counts from the HTML"
    )
    if os.environ.get("PERFGATE_REQUIRE_BROWSER") == "1":  # `nox -s browser`: missing is a failure
        pytest.fail(reason)
    pytest.skip(reason)


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # root in a container has no user namespace for the sandbox
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    store = write_store(tmp_path / "store", make_entries(runs=RUNS, step_at=STEP))
    baselines = tmp_path / "baselines"  # the pro tier's: its charts get a band, sim's none
    write_model(baseline_path(baselines, "pro"), baseline_of(make_result(seed=3, tier="pro")))
    out = tmp_path / "site"
    args = Namespace(
        store=str(store), out=str(out), baselines=str(baselines), repo_url="https://github.com/acme/app", title="t"
    )
    execute(args, PerfgateConfig(), Console(io.StringIO(), io.StringIO()), find_change_points=step_change_points)
    return out


def test_every_chart_renders_its_points_and_change_points(site: Path, tmp_path: Path) -> None:
    browser = _browser()
    page = (site / "index.html").read_text(encoding="utf-8")
    probed = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace(
        "</body>", PROBE + "\n</body>"
    )
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(probed, encoding="utf-8")

    dumped = _chromium(browser, tmp_path / "profile-dom", "--dump-dom", probe_page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert 'data-probed="yes"' in dumped.stdout, "the probe did not run: " + dumped.stderr[-2000:]
    charts = count_charts(dumped.stdout)
    assert len(charts) == 8  # 2 tiers × 2 scenarios × 2 metrics
    for chart_id, chart in charts.items():
        expected_changes = [STEP] if chart_id.endswith("--ttft_ms") else []
        assert len(chart.points) == RUNS, chart_id
        assert chart.change_points == expected_changes, chart_id
        assert chart.attrs["data-rendered-points"] == str(RUNS), chart_id
        assert chart.attrs["data-rendered-change-points"] == str(len(expected_changes)), chart_id
        expected_bands = 1 if chart_id.startswith("pro--") else 0
        assert chart.bands == expected_bands, chart_id
        assert chart.attrs["data-rendered-bands"] == str(expected_bands), chart_id
        width, height = map(int, chart.attrs["data-svg-size"].split("x"))
        assert width >= 300, chart_id
        assert height >= 100, chart_id

    screenshot = tmp_path / "trend-page.png"
    shot = _chromium(
        browser, tmp_path / "profile-shot", "--window-size=900,3400", f"--screenshot={screenshot}",
        (site / "index.html").as_uri(),
    )  # fmt: skip
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (900, 3400)
    assert len(data) > 50_000  # charts, not a blank page (a blank 900×3400 PNG is a few KiB)
    print(f"trend page screenshot: {screenshot}")
