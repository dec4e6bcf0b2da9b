"""Geometry of an alert's small daily chart. Pure: numbers in, coordinates out; the template draws
it as inline SVG (every label goes through Jinja's escaping)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DailyChart", "daily_chart"]


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    day: str  # YYYY-MM-DD
    complaints: int
    reviews: int


@dataclass(frozen=True)
class DailyChart:
    width: int
    height: int
    plot_left: int
    plot_bottom: int
    columns: list[Column]
    expected: str  # polyline points: what the baseline rate predicts for each day's reviews
    y_ticks: list[tuple[float, int]]
    x_labels: list[tuple[float, str]]
    peak: int


def daily_chart(
    days: Sequence[tuple[str, int, int]],
    baseline_rate: float | None,
    *,
    width: int = 640,
    height: int = 160,
) -> DailyChart:
    """Columns of complaints per day, and a line of the complaints the baseline rate expects."""
    left, right, top, bottom = 34, width - 8, 10, height - 22
    expected = [(baseline_rate or 0.0) * reviews for _, _, reviews in days]
    peak_value = max([c for _, c, _ in days] + expected + [1])
    peak = int(peak_value) if peak_value == int(peak_value) else int(peak_value) + 1
    step = (right - left) / max(len(days), 1)
    bar = max(step * 0.7, 1.0)

    def y(value: float) -> float:
        return round(bottom - (bottom - top) * value / peak, 1)

    columns = [
        Column(round(left + i * step + (step - bar) / 2, 1), y(c), round(bar, 1), round(bottom - y(c), 1), day, c, n)
        for i, (day, c, n) in enumerate(days)
    ]
    line = " ".join(f"{round(left + i * step + step / 2, 1)},{y(e)}" for i, e in enumerate(expected))
    ticks = sorted({0, peak // 2, peak})
    labels = [(round(left + i * step + step / 2, 1), day[5:]) for i, (day, _, _) in enumerate(days)
              if i % 7 == (len(days) - 1) % 7]
    return DailyChart(width, height, left, bottom, columns, line, [(y(t), t) for t in ticks], labels, peak)
