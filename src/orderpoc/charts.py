"""Small SVG charts for the load report: lines over time, a scatter over time, a histogram.

Each chart is an <svg class="chart"> with its marks tagged (class "mark"), so a browser test can
count what was drawn. Pure functions: same data, same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orderpoc import svg

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 58, 30, 46, 40
SERIES_COLOURS = ("#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a")
_HALO = {"stroke": "#ffffff", "stroke_width": "3", "paint_order": "stroke"}
MAX_POINTS = 4000  # beyond this a scatter is thinned evenly (the percentile lines keep every point)


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    ticks: tuple[float, ...]

    def scale(self, value: float, start: float, end: float) -> float:
        span = self.high - self.low or 1.0
        return start + (value - self.low) / span * (end - start)


def nice_axis(high: float, low: float = 0.0, count: int = 5) -> Axis:
    """Round tick steps (1, 2, 5 x 10^n) from low up to at least high."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = math.ceil(high / step - 1e-9) * step
    ticks = tuple(round(low + i * step, 10) for i in range(int(round((top - low) / step)) + 1))
    return Axis(low, top, ticks)


def binned(values: Sequence[float], bins: int) -> tuple[Axis, float, list[int]]:
    """Counts of values in `bins` equal bins from 0 to a round value at or above the largest; the
    axis, the bin width and the counts (the report's histograms and the terminal's)."""
    x = nice_axis(max(values, default=1.0))
    width = (x.high - x.low) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - x.low) / width))] += 1
    return x, width, counts


def _fmt(value: float) -> str:
    return f"{value:g}" if abs(value) < 10_000 else f"{value:,.0f}"


def _frame(chart_id: str, title: str, x: Axis, y: Axis, x_label: str, y_label: str) -> list[str]:
    parts = [svg.text(LEFT, 18, title, font_size="13", font_weight="bold", fill="#263238")]
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    for tick in y.ticks:
        yy = y.scale(tick, y0, y1)
        parts.append(svg.tag("line", x1=x0, x2=x1, y1=f"{yy:.1f}", y2=f"{yy:.1f}", stroke="#eceff1"))
        parts.append(svg.text(x0 - 6, yy + 4, _fmt(tick), font_size="10.5", fill="#607d8b", text_anchor="end"))
    for tick in x.ticks:
        xx = x.scale(tick, x0, x1)
        parts.append(svg.tag("line", x1=f"{xx:.1f}", x2=f"{xx:.1f}", y1=y0, y2=y0 + 4, stroke="#90a4ae"))
        parts.append(svg.text(xx, y0 + 16, _fmt(tick), font_size="10.5", fill="#607d8b", text_anchor="middle"))
    parts.append(svg.tag("path", d=f"M{x0},{y1} L{x0},{y0} L{x1},{y0}", fill="none", stroke="#90a4ae"))
    parts.append(svg.text((x0 + x1) / 2, HEIGHT - 6, x_label, font_size="11", fill="#455a64", text_anchor="middle"))
    parts.append(
        svg.text(
            14,
            (y0 + y1) / 2,
            y_label,
            font_size="11",
            fill="#455a64",
            text_anchor="middle",
            transform=f"rotate(-90 14 {(y0 + y1) / 2:.1f})",
        )
    )
    return parts


def _chart(chart_id: str, parts: list[str], title: str) -> str:
    return svg.tag(
        "svg",
        "".join(parts),
        class_="chart",
        id=chart_id,
        xmlns="http://www.w3.org/2000/svg",
        width=WIDTH,
        height=HEIGHT,
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        font_family=svg.FONT,
        role="img",
        aria_label=title,
    )


def _legend(names: Sequence[str], colours: Sequence[str]) -> list[str]:
    """A row under the title: a swatch and a name per series."""
    parts, x = [], float(LEFT)
    for name, colour in zip(names, colours, strict=True):
        parts.append(svg.rect(x, 24, 10, 10, fill=colour, rx="2"))
        parts.append(svg.text(x + 14, 33, name, font_size="10.5", fill="#455a64"))
        x += svg.text_width(name, 10.5) + 30
    return parts


def lines(
    chart_id: str,
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    x_label: str,
    y_label: str,
    x_high: float | None = None,
) -> str:
    """One polyline per series (points sorted by x); each point is a mark."""
    points = [p for values in series.values() for p in values]
    x = nice_axis(x_high if x_high is not None else max((p[0] for p in points), default=1.0))
    y = nice_axis(max((p[1] for p in points), default=1.0))
    parts = _frame(chart_id, title, x, y, x_label, y_label)
    colours = SERIES_COLOURS[: len(series)]
    for (name, values), colour in zip(series.items(), colours, strict=True):
        coords = [(x.scale(a, LEFT, WIDTH - RIGHT), y.scale(b, HEIGHT - BOTTOM, TOP)) for a, b in values]
        if coords:
            d = "M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            parts.append(
                svg.tag(
                    "path",
                    d=d,
                    fill="none",
                    stroke=colour,
                    stroke_width="2",
                    class_="mark line",
                    data_series=name,
                    data_points=str(len(coords)),
                )
            )
    parts += _legend(list(series), colours)
    return _chart(chart_id, parts, title)


def scatter(
    chart_id: str,
    title: str,
    points: Sequence[tuple[float, float]],
    bands: Mapping[str, Sequence[tuple[float, float]]],
    x_label: str,
    y_label: str,
    x_high: float | None = None,
) -> str:
    """Dots (thinned evenly past MAX_POINTS) with percentile lines over them."""
    everything = [*points, *(p for band in bands.values() for p in band)]
    x = nice_axis(x_high if x_high is not None else max((p[0] for p in everything), default=1.0))
    y = nice_axis(max((p[1] for p in everything), default=1.0))
    parts = _frame(chart_id, title, x, y, x_label, y_label)
    stride = max(1, math.ceil(len(points) / MAX_POINTS))
    dots = []
    for a, b in points[::stride]:
        dots.append(f"M{x.scale(a, LEFT, WIDTH - RIGHT):.1f},{y.scale(b, HEIGHT - BOTTOM, TOP):.1f}h0")
    if dots:
        # One path of zero-length round-capped segments: thousands of dots, one element.
        parts.append(
            svg.tag(
                "path",
                d="".join(dots),
                stroke="#78909c",
                stroke_opacity="0.55",
                stroke_width="4",
                stroke_linecap="round",
                class_="mark dots",
                data_points=str(len(dots)),
            )
        )
    colours = SERIES_COLOURS[1 : 1 + len(bands)]
    for (name, band), colour in zip(bands.items(), colours, strict=True):
        coords = [(x.scale(a, LEFT, WIDTH - RIGHT), y.scale(b, HEIGHT - BOTTOM, TOP)) for a, b in band]
        if coords:
            parts.append(
                svg.tag(
                    "path",
                    d="M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in coords),
                    fill="none",
                    stroke=colour,
                    stroke_width="2",
                    class_="mark line",
                    data_series=name,
                )
            )
    parts += _legend(["each order", *bands], ["#78909c", *colours])
    return _chart(chart_id, parts, title)


def histogram(
    chart_id: str,
    title: str,
    values: Sequence[float],
    markers: Mapping[str, float | None],
    x_label: str,
    bins: int = 30,
) -> str:
    """Counts per bin from 0 to the largest value, with vertical markers (the percentiles)."""
    x, width, counts = binned(values, bins)
    y = nice_axis(max(counts, default=1), count=4)
    parts = _frame(chart_id, title, x, y, x_label, "orders")
    y0 = HEIGHT - BOTTOM
    for index, count in enumerate(counts):
        if not count:
            continue
        left = x.scale(x.low + index * width, LEFT, WIDTH - RIGHT)
        right = x.scale(x.low + (index + 1) * width, LEFT, WIDTH - RIGHT)
        top = y.scale(count, y0, TOP)
        bar = {"fill": "#90caf9", "class_": "mark bar", "data_count": str(count)}
        parts.append(svg.rect(left + 0.5, top, max(1.0, right - left - 1), y0 - top, **bar))
    for row, ((name, mark), colour) in enumerate(zip(markers.items(), SERIES_COLOURS[1:], strict=False)):
        if mark is None:
            continue
        xx = x.scale(mark, LEFT, WIDTH - RIGHT)
        parts.append(
            svg.tag(
                "line",
                x1=f"{xx:.1f}",
                x2=f"{xx:.1f}",
                y1=TOP,
                y2=y0,
                stroke=colour,
                stroke_width="2",
                stroke_dasharray="4 3",
                class_="marker",
                data_marker=name,
            )
        )
        label = f"{name} {_fmt(round(mark))}"
        # Near the right edge the label goes on the marker's left, so it is not cut off.
        right_side = xx + 3 + svg.text_width(label, 10.5) < WIDTH
        place = {"text_anchor": None if right_side else "end", **_HALO}
        y_label = TOP + 10 + 12 * row
        parts.append(svg.text(xx + 3 if right_side else xx - 3, y_label, label, font_size="10.5", fill=colour, **place))
    return _chart(chart_id, parts, title)
