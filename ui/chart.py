"""Line charts of metric values over time, drawn as inline SVG on the server.

One line per series (per dimension value, or one for the metric as a whole),
a y axis with round tick values, as many period labels on the x axis as fit
the drawing's size, and a ``<title>`` on every point. Pages draw the chart at
three sizes (:func:`render_sizes`) and CSS shows the one that fits the screen,
so its text stays near its real size at every width. At most :data:`MAX_SERIES`
lines are drawn (the largest); the page lists them in a legend and shows every
number in a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 1200
HEIGHT = 340
LEFT = 64
RIGHT = 16
TOP = 16
BOTTOM = 44
MAX_X_LABELS = 12
#: Colour-blind safe line colours (Okabe-Ito), dark enough on white.
COLORS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00", "#000000")
#: More lines than colours cannot be told apart: the rest are left to the table.
MAX_SERIES = len(COLORS)


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[tuple[str, float | None], ...]  # (period label, value)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low``..``high``."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high == low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high - step * 1e-9 and len(ticks) < 50:
        ticks.append(ticks[-1] + step)
    return [round(v, 10) for v in ticks]


def _label(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.4g}"


@dataclass(frozen=True)
class Size:
    """The drawing's size in SVG units (it scales to its box) and how many period labels fit."""

    width: int = WIDTH
    height: int = HEIGHT
    x_labels: int = MAX_X_LABELS


WIDE = Size()
MEDIUM = Size(width=680, height=280, x_labels=6)
NARROW = Size(width=360, height=240, x_labels=3)
#: The sizes pages draw, by the CSS class suffix that shows each (``chart-wide``...).
SIZES = {"wide": WIDE, "medium": MEDIUM, "narrow": NARROW}


#: Turns a value into text: ``(value, compact)``; compact for axis labels.
Formatter = Callable[[float, bool], str]


def _plain(value: float, compact: bool) -> str:
    return _label(value) if compact else f"{value:,.6g}"


def render_sizes(series: Sequence[Series], *, title: str, unit: str = "", chart_id: str = "chart",
                 fmt: Formatter = _plain) -> dict[str, Markup]:
    """The chart for wide screens (``wide``), tablets (``medium``) and phones (``narrow``):
    fewer period labels on smaller drawings, text of the same size."""
    return {name: render(series, title=title, unit=unit, chart_id=f"{chart_id}-{name}", size=size, fmt=fmt)
            for name, size in SIZES.items()}


def largest(series: Sequence[Series], limit: int = MAX_SERIES) -> list[Series]:
    """The ``limit`` series with the largest total (by absolute value), in their given order."""
    if len(series) <= limit:
        return list(series)

    def total(s: Series) -> float:
        return sum(abs(v) for _, v in s.points if v is not None and math.isfinite(v))

    keep = {id(s) for s in sorted(series, key=total, reverse=True)[:limit]}
    return [s for s in series if id(s) in keep]


def legend(series: Sequence[Series]) -> list[tuple[str, str]]:
    """(series name, line colour) in drawing order, for a legend beside the chart."""
    return [(s.name, COLORS[n % len(COLORS)]) for n, s in enumerate(series)]


def render(series: Sequence[Series], *, title: str, unit: str = "", chart_id: str = "chart",
           size: Size = WIDE, fmt: Formatter = _plain) -> Markup:
    """The chart as an ``<svg>`` element; empty markup when there is nothing to draw.

    ``fmt`` writes the axis labels (compact) and each point's title (in full), so that
    a metric's format (percent, currency, ...) shows on the chart as in its table.
    """
    width, height = size.width, size.height
    periods: list[str] = []
    for s in series:
        for period, _ in s.points:
            if period not in periods:
                periods.append(period)
    periods.sort()
    values = [v for s in series for _, v in s.points if v is not None and math.isfinite(v)]
    if not periods or not values:
        return Markup("")
    ticks = nice_ticks(min(0.0, min(values)), max(values))
    lo, hi = ticks[0], ticks[-1]
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def x_of(i: int) -> float:
        return LEFT + (plot_w * i / (len(periods) - 1) if len(periods) > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return TOP + plot_h - (v - lo) / ((hi - lo) or 1) * plot_h

    desc = f"{len(series)} series over {len(periods)} periods from {periods[0]} to {periods[-1]}"
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="{chart_id}-title {chart_id}-desc">'),
           f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>']
    for t in ticks:
        y = y_of(t)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{width - RIGHT}" y2="{y:.1f}" stroke="#d8dee4"/>'
                   f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#424a53">'
                   f'{escape(fmt(t, True))}</text>')
    last = len(periods) - 1
    step = max(1, math.ceil(len(periods) / size.x_labels))
    shown = list(range(0, len(periods), step))
    if shown[-1] != last:  # the last period is always labelled; it replaces a label too close to it
        shown = [i for i in shown if last - i >= step] + [last]
    for i in shown:
        period = periods[i]
        anchor = "start" if i == 0 and last > 0 else ("end" if i == last else "middle")
        out.append(f'<text x="{x_of(i):.1f}" y="{height - BOTTOM + 18}" text-anchor="{anchor}" font-size="12" '
                   f'fill="#424a53">{escape(period[:10])}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{width - RIGHT}" y2="{TOP + plot_h}" stroke="#57606a"/>')
    if unit:
        out.append(f'<text x="{LEFT}" y="{height - 6}" font-size="12" fill="#424a53">{escape(unit)}</text>')
    index = {p: i for i, p in enumerate(periods)}
    for n, s in enumerate(series):
        color = COLORS[n % len(COLORS)]
        pts = [(x_of(index[p]), y_of(v), p, v) for p, v in s.points if v is not None and math.isfinite(v)]
        pts.sort(key=lambda t: t[0])
        if len(pts) > 1:
            path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y, _, _) in enumerate(pts))
            out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        for x, y, p, v in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>'
                       f'{escape(s.name + ": " if len(series) > 1 else "")}{escape(p)}: {escape(fmt(v, False))}'
                       f'</title></circle>')
    out.append("</svg>")
    return Markup("".join(out))
