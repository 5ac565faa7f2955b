"""Charts drawn on the server as inline SVG: geometry here, markup in templates/reports/_chart_*.html.

No JavaScript and no third-party asset: the page carries its charts, styled by
static/reports/reports.css. Values may be ints or Decimals (money); only positions are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int | Decimal


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    baseline: float
    left: float
    title: str


def bar_chart(
    points: list[tuple[str, int | Decimal]], *, title: str = "", width: int = 760, height: int = 220,
    max_x_labels: int = 8,
) -> BarChart:
    """Vertical bars for ``(label, value)`` points, left to right, with a y axis from 0 to the maximum."""
    left, right, top, bottom = 56.0, 8.0, 12.0, 28.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((value for _, value in points), default=0) or 1
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.8, 1.0)
    bars = []
    for index, (label, value) in enumerate(points):
        h = float(value) / float(peak) * plot_h if value else 0.0
        bars.append(Bar(round(left + index * slot + (slot - bar_w) / 2, 2), round(top + plot_h - h, 2),
                        round(bar_w, 2), round(h, 2), label, value))
    step = max(1, -(-len(points) // max_x_labels))
    x_ticks = tuple(
        Tick(round(left + index * slot + slot / 2, 2), height - 10, label)
        for index, (label, _) in enumerate(points) if index % step == 0
    )
    y_ticks = tuple(
        Tick(left - 6, round(top + plot_h - fraction * plot_h, 2), _short(float(peak) * fraction))
        for fraction in (0, 0.5, 1)
    ) if points else ()
    return BarChart(width, height, tuple(bars), x_ticks, y_ticks, top + plot_h, left, title)


@dataclass(frozen=True, slots=True)
class HeatCell:
    x: float
    y: float
    size: float
    value: int
    opacity: float
    title: str


@dataclass(frozen=True, slots=True)
class HeatmapChart:
    width: int
    height: int
    cells: tuple[HeatCell, ...]
    row_labels: tuple[Tick, ...]
    column_labels: tuple[Tick, ...]


def heatmap_chart(
    grid: tuple[tuple[int, ...], ...], *, row_labels: list[str], columns: range, cell: int = 26,
) -> HeatmapChart:
    """A grid of squares whose darkness follows the value (the largest value is darkest)."""
    left, top = 44.0, 18.0
    peak = max((grid[row][col] for row in range(len(grid)) for col in columns), default=0) or 1
    cells = []
    for row, values in enumerate(grid):
        for index, col in enumerate(columns):
            value = values[col]
            cells.append(HeatCell(
                left + index * cell, top + row * cell, cell - 2, value,
                round(0.08 + 0.92 * value / peak, 3) if value else 0.0,
                f"{row_labels[row]} {col:02d}:00 — {value}",
            ))
    return HeatmapChart(
        int(left + len(columns) * cell + 4), int(top + len(grid) * cell + 4), tuple(cells),
        tuple(Tick(left - 6, top + row * cell + cell / 2 + 4, label) for row, label in enumerate(row_labels)),
        tuple(Tick(left + index * cell + cell / 2 - 1, top - 6, f"{col}") for index, col in enumerate(columns)),
    )


def _short(value) -> str:
    """An axis label: 1234 -> "1,234", 12345.6 -> "12.3k", 1.5e6 -> "1.5M"."""
    number = float(value)
    if number >= 1_000_000:
        return f"{number / 1_000_000:.1f}M"
    if number >= 10_000:
        return f"{number / 1000:.1f}k"
    return f"{number:,.0f}"
