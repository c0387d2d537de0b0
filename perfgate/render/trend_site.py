"""The trend page: every history series as a chart, grouped by tier, on one self-contained HTML page (pure).

``perfgate history site`` writes what :func:`render_site` returns. The page
loads nothing at view time (inline SVG and CSS, no script; its
Content-Security-Policy forbids any fetch), so it can be opened from disk, an
artifact or GitHub Pages alike. Each chart has a data table in a
``<details>`` beside it: the same points as text, with links to each commit
and CI run, for a screen reader or a copy into a spreadsheet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from perfgate.history.series import ChangePoint, Point, SeriesKey
from perfgate.metrics import METRICS, label, unit_of
from perfgate.render.trend_chart import (
    change_text,
    chart_svg,
    commit_url,
    safe_url,
    short_commit,
    valid_change_points,
    with_unit,
)

INDEX = "index.html"
# GitHub Pages runs a branch through Jekyll unless this file is there; the page needs no build.
NO_JEKYLL = ".nojekyll"
_METRIC_ORDER = {m.name: i for i, m in enumerate(METRICS)}
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 800px;
  padding: 0 16px 48px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0; }
nav a { margin-right: 12px; }
figure.chart { margin: 20px 0 28px; }
figcaption p { margin: 2px 0 6px; color: #59636e; }
svg.trend { max-width: 100%; height: auto; display: block; }
svg .grid { stroke: #eaeef2; } svg .tick, svg .axis { font-size: 11px; fill: #59636e; }
svg .band rect { fill: #54aeff; fill-opacity: 0.16; } svg .band line { stroke: #0969da; stroke-dasharray: 5 4; }
svg .line { fill: none; stroke: #59636e; stroke-width: 1.5; }
svg .pt { fill: #59636e; stroke: #fff; stroke-width: 1; }
svg .pt.regressed { fill: #cf222e; } svg .pt.improved { fill: #1a7f37; } svg .pt.changed { fill: #9a6700; }
svg .pt.inconclusive { fill: #8250df; } svg .pt.after-change { stroke: #bc4c00; stroke-width: 2.5; }
svg .cp line { stroke: #bc4c00; stroke-width: 2; stroke-dasharray: 3 3; } svg .cp path { fill: #bc4c00; }
svg a:focus .pt, svg a:hover .pt { stroke: #1f2328; stroke-width: 2; }
table { border-collapse: collapse; font-size: 12px; margin-top: 6px; }
th, td { border: 1px solid #d0d7de; padding: 2px 6px; text-align: left; } td.num { text-align: right; }
.legend span { margin-right: 14px; }
"""


def _key_order(key: SeriesKey) -> tuple[str, str, int, str]:
    return (key.tier, key.scenario, _METRIC_ORDER.get(key.metric, len(_METRIC_ORDER)), key.metric)


def chart_id(key: SeriesKey) -> str:
    """An element id for the chart (tier and scenario are safe names; the metric is escaped where used)."""
    return f"{key.tier}--{key.scenario}--{key.metric}"


def _link(href: str | None, text: str) -> str:
    return f'<a href="{escape(href, quote=True)}">{escape(text)}</a>' if href else escape(text)


def _table(points: Sequence[Point], changes: Sequence[ChangePoint], unit: str, repo_url: str | None) -> str:
    starts = {cp.index: cp for cp in changes}
    rows = []
    for index, point in enumerate(points):
        change = starts.get(index)
        rows.append(
            "<tr>"
            f'<td class="num">{index + 1}</td>'
            f"<td><code>{_link(commit_url(repo_url, point.commit), short_commit(point.commit))}</code></td>"
            f"<td>{escape(point.measured_at)}</td>"
            f'<td class="num">{escape(with_unit(point.value, unit))}</td>'
            f'<td class="num">{point.n}</td>'
            f"<td>{escape(point.verdict or '')}</td>"
            f"<td>{_link(safe_url(point.run_url), 'run') if safe_url(point.run_url) else ''}</td>"
            f"<td>{escape(change_text(change, unit)) if change else ''}</td>"
            "</tr>"
        )
    return (
        f"<details><summary>Data table ({len(points)} runs)</summary><table>"
        "<thead><tr><th>#</th><th>commit</th><th>measured at</th><th>median</th><th>n</th><th>verdict</th>"
        "<th>CI run</th><th>change point</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def _figure(
    key: SeriesKey,
    points: Sequence[Point],
    change_points: Sequence[ChangePoint],
    band: tuple[float, float, float] | None,
    repo_url: str | None,
) -> str:
    unit = unit_of(key.metric)
    name = label(key.metric)
    heading = f"{key.scenario} · {name}" + (f" ({unit})" if unit and not name.endswith(unit) else "")
    changes = valid_change_points(points, change_points)
    about = [f"{len(points)} runs", f"latest {with_unit(points[-1].value, unit)}"]
    if band is not None:
        median, low, high = (with_unit(v, unit) for v in band)
        about.append(f"baseline {median} (band {low} to {high})")
    about.append(f"{len(changes)} change point{'s' if len(changes) != 1 else ''}")
    svg = chart_svg(
        points, changes, band, unit=unit, label=f"{key.tier} {heading}: {', '.join(about)}", repo_url=repo_url
    )
    return (
        f'<figure class="chart" id="{escape(chart_id(key), quote=True)}" data-tier="{escape(key.tier, quote=True)}" '
        f'data-scenario="{escape(key.scenario, quote=True)}" data-metric="{escape(key.metric, quote=True)}" '
        f'data-points="{len(points)}" data-change-points="{len(changes)}">'
        f"<figcaption><h3>{escape(heading)}</h3><p>{escape(' · '.join(about))}</p></figcaption>\n"
        f"{svg}\n{_table(points, changes, unit, repo_url)}</figure>"
    )


def render_site(
    series: Mapping[SeriesKey, Sequence[Point]],
    change_points: Mapping[SeriesKey, Sequence[ChangePoint]],
    bands: Mapping[SeriesKey, tuple[float, float, float]],
    *,
    title: str,
    repo_url: str | None,
) -> dict[str, str]:
    """The site's files (name → text): ``index.html`` with one chart per series that has points.

    ``bands`` holds each series' baseline (median, threshold band low, high) where a baseline is known;
    ``repo_url`` (http(s) only) makes each commit a link to ``<repo_url>/commit/<sha>``.
    """
    keys = sorted((key for key, points in series.items() if points), key=_key_order)
    tiers: dict[str, list[SeriesKey]] = {}
    for key in keys:
        tiers.setdefault(key.tier, []).append(key)
    sections = []
    for tier, tier_keys in tiers.items():
        figures = [_figure(key, series[key], change_points.get(key, ()), bands.get(key), repo_url) for key in tier_keys]
        sections.append(
            f'<section id="tier-{escape(tier, quote=True)}" data-tier="{escape(tier, quote=True)}">'
            f"<h2>Tier {escape(tier)}</h2>\n" + "\n".join(figures) + "</section>"
        )
    nav = " ".join(f'<a href="#tier-{escape(t, quote=True)}">{escape(t)}</a>' for t in tiers)
    total = sum(len(valid_change_points(series[k], change_points.get(k, ()))) for k in keys)
    intro = (
        f"{len(keys)} chart{'s' if len(keys) != 1 else ''} over {len(tiers)} tier{'s' if len(tiers) != 1 else ''}, "
        f"{total} change point{'s' if total != 1 else ''}. Each point is one default-branch run's median; "
        "hover or focus it for its commit, value and verdict."
        if keys
        else "No history recorded yet: `perfgate history record` adds the default branch's runs."
    )
    legend = (
        '<p class="legend"><span>▭ shaded: baseline threshold band, dashed: baseline median</span>'
        "<span>▼ orange line: change point</span><span>● red: regressed, green: improved</span></p>"
    )
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="generator" content="perfgate history site">
<title>{escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header><h1>{escape(title)}</h1><p>{escape(intro)}</p>{legend if keys else ""}<nav>{nav}</nav></header>
<main>
{chr(10).join(sections)}
</main>
</body>
</html>
"""
    return {INDEX: page, NO_JEKYLL: ""}
