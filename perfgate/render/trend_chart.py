"""One trend chart: a series by commit as inline SVG, its baseline band shaded, change points marked (pure).

The trend page (``perfgate.render.trend_site``) puts one of these per tier ×
scenario × metric. Every string that came from a history entry (commit, run
URL, verdict) is HTML-escaped here, a link is drawn only to an http(s) URL,
and a commit links only when it is a hex SHA. The page needs no script: each
point is an SVG ``<a>`` with a ``<title>`` (commit, value, verdict) that a
browser shows on hover and a screen reader reads; the data table beside the
chart says the same in text.

``data-point`` on each point and ``data-change-point`` on each marker are what
the browser test counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from perfgate.history.series import ChangePoint, Point

WIDTH, HEIGHT = 760, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 14, 40
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
# Characters no link perfgate draws may hold: they could end an attribute or hide part of the URL.
_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f\"'<>`\\]")
# The verdicts a point is coloured by; anything else is drawn as "other" (the class name is never untrusted text).
_VERDICT_CLASSES = frozenset({"regressed", "improved", "changed", "unchanged", "inconclusive"})


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host and nothing that could break out of an attribute."""
    if not url or len(url) > 2048 or _URL_FORBIDDEN.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def is_sha(commit: str) -> bool:
    """Whether ``commit`` is a (possibly abbreviated) hex commit SHA."""
    return _SHA.fullmatch(commit) is not None


def commit_url(repo_url: str | None, commit: str) -> str | None:
    """``<repo_url>/commit/<sha>`` when both are safe; GitHub's (and GitLab's, Gitea's) commit page."""
    base = safe_url(repo_url)
    if base is None or not is_sha(commit):
        return None
    return f"{base.rstrip('/')}/commit/{commit}"


def short_commit(commit: str) -> str:
    return commit[:7] if is_sha(commit) else commit[:40]


def format_value(value: float) -> str:
    """A metric's value with as many digits as a trend needs (three or four significant)."""
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def with_unit(value: float, unit: str) -> str:
    return f"{format_value(value)} {unit}".rstrip()


def verdict_class(verdict: str | None) -> str:
    return verdict if verdict in _VERDICT_CLASSES else "other"


def valid_change_points(points: Sequence[Point], change_points: Sequence[ChangePoint]) -> list[ChangePoint]:
    """The change points that fall between two points of the series (others cannot be drawn)."""
    return sorted((cp for cp in change_points if 0 < cp.index < len(points)), key=lambda cp: cp.index)


def change_text(cp: ChangePoint, unit: str) -> str:
    """One line: how big, how sure, and the commit range to bisect."""
    return (
        f"change {cp.change:+.1%} (p = {cp.p_value:.2g}): {with_unit(cp.mean_before, unit)} → "
        f"{with_unit(cp.mean_after, unit)}, between {short_commit(cp.commit_before)} "
        f"and {short_commit(cp.commit_after)}"
    )


def point_text(point: Point, unit: str) -> str:
    verdict = point.verdict or "not gated"
    return (
        f"commit {short_commit(point.commit)} · {with_unit(point.value, unit)} · verdict: {verdict} · "
        f"n = {point.n} · {point.measured_at}"
    )


@dataclass(frozen=True)
class _Scale:
    """Data → pixel coordinates for one chart."""

    count: int
    low: float
    high: float

    @classmethod
    def fit(cls, values: Sequence[float], band: tuple[float, float, float] | None) -> _Scale:
        seen = [*values, *(band or ())]
        low, high = min(seen), max(seen)
        pad = (high - low) * 0.08 or (abs(high) * 0.05 or 1.0)
        return cls(len(values), low - pad, high + pad)

    def x(self, index: float) -> float:
        return _LEFT + (index + 0.5) * (WIDTH - _LEFT - _RIGHT) / self.count

    def y(self, value: float) -> float:
        return _TOP + (self.high - value) * (HEIGHT - _TOP - _BOTTOM) / (self.high - self.low)


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _axes(scale: _Scale, points: Sequence[Point], unit: str) -> list[str]:
    out = []
    for step in range(5):
        value = scale.low + (scale.high - scale.low) * step / 4
        y = scale.y(value)
        out.append(f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{format_value(value)}</text>')
    bottom = HEIGHT - _BOTTOM
    first = escape(short_commit(points[0].commit))
    out.append(f'<text class="tick" x="{scale.x(0):.1f}" y="{bottom + 16}">{first}</text>')
    if len(points) > 1:
        out.append(
            f'<text class="tick" x="{scale.x(len(points) - 1):.1f}" y="{bottom + 16}" text-anchor="end">'
            f"{escape(short_commit(points[-1].commit))}</text>"
        )
    out.append(
        f'<text class="axis" x="{(WIDTH + _LEFT) / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"commits, oldest to newest ({len(points)} runs)</text>"
    )
    out.append(
        f'<text class="axis" x="14" y="{(HEIGHT - _BOTTOM + _TOP) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(HEIGHT - _BOTTOM + _TOP) / 2:.0f})">{escape(unit or "value")}</text>'
    )
    return out


def _band(scale: _Scale, band: tuple[float, float, float], unit: str) -> list[str]:
    median, low, high = band
    top, bottom = scale.y(max(low, high)), scale.y(min(low, high))
    label = f"baseline {with_unit(median, unit)}, threshold band {with_unit(low, unit)} to {with_unit(high, unit)}"
    return [
        f'<g class="band" data-band=""><title>{escape(label)}</title>'
        f'<rect x="{_LEFT}" y="{top:.1f}" width="{WIDTH - _LEFT - _RIGHT}" height="{max(bottom - top, 1):.1f}"/>'
        f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{scale.y(median):.1f}" y2="{scale.y(median):.1f}"/></g>'
    ]


def _point(scale: _Scale, index: int, point: Point, unit: str, repo_url: str | None, *, after_change: bool) -> str:
    classes = f"pt {verdict_class(point.verdict)}" + (" after-change" if after_change else "")
    circle = (
        f'<circle class="{classes}" data-point="{index}" data-commit="{_attr(point.commit)}" '
        f'cx="{scale.x(index):.1f}" cy="{scale.y(point.value):.1f}" r="4">'
        f"<title>{escape(point_text(point, unit))}</title></circle>"
    )
    href = commit_url(repo_url, point.commit) or safe_url(point.run_url)
    return f'<a href="{_attr(href)}">{circle}</a>' if href else circle


def _marker(scale: _Scale, cp: ChangePoint, unit: str) -> str:
    x = (scale.x(cp.index - 1) + scale.x(cp.index)) / 2
    bottom = HEIGHT - _BOTTOM
    return (
        f'<g class="cp" data-change-point="{cp.index}"><title>{escape(change_text(cp, unit))}</title>'
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{bottom}"/>'
        f'<path d="M{x - 6:.1f},{_TOP} L{x + 6:.1f},{_TOP} L{x:.1f},{_TOP + 9} Z"/></g>'
    )


def chart_svg(
    points: Sequence[Point],
    change_points: Sequence[ChangePoint],
    band: tuple[float, float, float] | None,
    *,
    unit: str,
    label: str,
    repo_url: str | None,
) -> str:
    """The chart of one series (at least one point): an ``<svg>`` element, its text escaped."""
    if not points:
        raise ValueError("a chart needs at least one point")
    scale = _Scale.fit([p.value for p in points], band)
    changes = valid_change_points(points, change_points)
    starts = {cp.index for cp in changes}
    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{_attr(label)}" xmlns="http://www.w3.org/2000/svg">',
        *_axes(scale, points, unit),
        *(_band(scale, band, unit) if band is not None else []),
    ]
    if len(points) > 1:
        coords = " ".join(f"{scale.x(i):.1f},{scale.y(p.value):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline class="line" points="{coords}"/>')
    parts += [_marker(scale, cp, unit) for cp in changes]
    parts += [_point(scale, i, p, unit, repo_url, after_change=i in starts) for i, p in enumerate(points)]
    parts.append("</svg>")
    return "\n".join(parts)
