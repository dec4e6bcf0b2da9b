"""Geometry for the report's inline SVG charts. Pure: numbers in, coordinates and labels out.

The template draws the shapes, so every text (week, cause, category names from connectors)
goes through Jinja's autoescaping; nothing here builds markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BarChart", "LineChart", "bar_chart", "line_chart", "pct"]

# Candidate top values for a rate axis: the smallest that leaves ~10 % headroom is used.
_RATE_CEILINGS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def pct(value: float | None, digits: int = 2) -> str:
    """0.0812 → "8.12%"; None → "—" (no data, as opposed to 0 %)."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


@dataclass
class Series:
    name: str
    css_class: str
    segments: list[str]  # SVG polyline "points" strings; a None value breaks the line
    dots: list[tuple[float, float, str]]  # x, y, value label


@dataclass
class LineChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    series: list[Series] = field(default_factory=list)


def line_chart(
    labels: list[str],
    series: list[tuple[str, str, list[float | None]]],
    *,
    width: int = 680,
    height: int = 240,
) -> LineChart:
    """A rate-over-time chart; `series` is [(name, css_class, values 0..1 or None)]."""
    left, right, top, bottom = 52, width - 16, 20, height - 34
    peak = max((v for _, _, values in series for v in values if v is not None), default=0.0)
    ceiling = next((c for c in _RATE_CEILINGS if peak * 1.1 <= c), 1.0)
    step = (right - left) / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return round(left + i * step, 1)

    def y(v: float) -> float:
        return round(bottom - (bottom - top) * v / ceiling, 1)

    chart = LineChart(
        width, height, left, right, top, bottom,
        x_labels=[(x(i), label) for i, label in enumerate(labels)],
        y_ticks=[(y(ceiling * k / 4), pct(ceiling * k / 4, 1 if ceiling < 0.1 else 0)) for k in range(5)],
    )
    for name, css_class, values in series:
        segments: list[str] = []
        current: list[str] = []
        dots = []
        for i, value in enumerate(values):
            if value is None:
                if current:
                    segments.append(" ".join(current))
                current = []
                continue
            current.append(f"{x(i)},{y(value)}")
            dots.append((x(i), y(value), pct(value, 1)))
        if current:
            segments.append(" ".join(current))
        chart.series.append(Series(name, css_class, segments, dots))
    return chart


@dataclass
class Bar:
    y: float
    width: float
    label: str
    value_label: str


@dataclass
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[Bar]


def bar_chart(
    items: list[tuple[str, float, str]], *, width: int = 680, label_width: int = 150, bar_height: int = 22
) -> BarChart:
    """Horizontal bars; `items` is [(label, value >= 0, value label)], drawn in the given order."""
    gap = 8
    room = width - label_width - 150  # leave space right of the longest bar for its value label
    peak = max((value for _, value, _ in items), default=0) or 1
    bars = [
        Bar(
            y=10 + i * (bar_height + gap),
            width=round(room * value / peak, 1),
            label=label,
            value_label=value_label,
        )
        for i, (label, value, value_label) in enumerate(items)
    ]
    height = 10 + len(items) * (bar_height + gap) + 4
    return BarChart(width, max(height, 40), label_width, bar_height, bars)
