"""Params against MACs as an SVG scatter, drawn without matplotlib (the base install has none).

Axes are logarithmic when the values span a factor of 8 or more (a zoo from CIFAR nets to
detection backbones), else linear. Labels are placed greedily beside their point, in the first
of a few positions that overlaps no other label or point; a label that fits nowhere is left
out, and its point still names itself on hover and links to its model's section.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from archspec.emit.diagram_text import human
from archspec.report.boxes import text_width
from archspec.stats import Stats

WIDTH, HEIGHT = 600.0, 380.0
LEFT, RIGHT, TOP, BOTTOM = 64.0, 584.0, 16.0, 328.0
LOG_SPAN = 8.0
RADIUS = 4.5
LABEL_HEIGHT = 13.0
# (dx, dy, anchor) of the label's baseline start relative to its point, in preference order.
_SPOTS = (
    (7.0, 4.0, "start"),
    (-7.0, 4.0, "end"),
    (0.0, -8.0, "middle"),
    (0.0, 16.0, "middle"),
    (7.0, -9.0, "start"),
    (7.0, 17.0, "start"),
    (-7.0, -9.0, "end"),
    (-7.0, 17.0, "end"),
)


@dataclass(frozen=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    name: str
    target: str  # the id of the model's section
    tip: str
    label: tuple[float, float, str] | None  # x, y, text-anchor


@dataclass(frozen=True)
class Scatter:
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_label: str
    y_label: str
    points: tuple[Point, ...]


def _ticks(low: float, high: float, log: bool) -> list[float]:
    if log:
        decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        candidates = [m * 10.0**d for d in decades for m in (1, 2, 5)]
        return [t for t in candidates if low <= t <= high]
    raw = (high - low) / 5
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _axis(
    values: list[int], start: float, end: float
) -> tuple[Callable[[float], float], list[float]]:
    """The value -> pixel map of one axis and its tick values."""
    low, high = float(min(values)), float(max(values))
    if _is_log(values):
        low, high = low / 1.4, high * 1.4
        span = math.log10(high) - math.log10(low)
        return (
            lambda v: start + (end - start) * (math.log10(v) - math.log10(low)) / span,
            _ticks(low, high, log=True),
        )
    pad = (high - low) * 0.15 or high * 0.1
    low, high = max(low - pad, 0.0), high + pad
    return (lambda v: start + (end - start) * (v - low) / (high - low)), _ticks(low, high, False)


@dataclass(frozen=True)
class Axes:
    """Where values land on the plot (x: MACs, y: params) and what the axes say; shared by the
    models' scatter and the sweep's (archspec.report.sweeps)."""

    to_x: Callable[[float], float]
    to_y: Callable[[float], float]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_label: str
    y_label: str


def axes(macs: list[int], params: list[int]) -> Axes:
    """Axes spanning every value given (at least one of each)."""
    to_x, x_ticks = _axis(macs, LEFT, RIGHT)
    to_y, y_ticks = _axis(params, BOTTOM, TOP)
    return Axes(
        to_x,
        to_y,
        tuple(Tick(to_x(t), human(round(t))) for t in x_ticks),
        tuple(Tick(to_y(t), human(round(t))) for t in y_ticks),
        "MACs (conv + linear, bias excluded)" + (", log scale" if _is_log(macs) else ""),
        "params" + (", log scale" if _is_log(params) else ""),
    )


def model_points(models: list[Stats], targets: list[str], frame: Axes) -> tuple[Point, ...]:
    """One labelled point per model, linking to its section."""
    spots = [(frame.to_x(s.totals.macs), frame.to_y(s.totals.params)) for s in models]
    labels = _place([s.name for s in models], spots)
    return tuple(
        Point(x, y, s.name, target, _tip(s), label)
        for (x, y), s, target, label in zip(spots, models, targets, labels, strict=True)
    )


def scatter(models: list[Stats], targets: list[str]) -> Scatter:
    frame = axes([s.totals.macs for s in models], [s.totals.params for s in models])
    points = model_points(models, targets, frame)
    return Scatter(frame.x_ticks, frame.y_ticks, frame.x_label, frame.y_label, points)


def _is_log(values: list[int]) -> bool:
    return min(values) > 0 and max(values) / min(values) >= LOG_SPAN


def _tip(stats: Stats) -> str:
    totals = stats.totals
    return f"{stats.name}\nparams {totals.params:,}\nMACs {totals.macs:,}"


Rect = tuple[float, float, float, float]


def _place(
    names: list[str], spots: list[tuple[float, float]]
) -> list[tuple[float, float, str] | None]:
    taken: list[Rect] = [(x - RADIUS, y - RADIUS, x + RADIUS, y + RADIUS) for x, y in spots]
    out: list[tuple[float, float, str] | None] = []
    for name, (x, y) in zip(names, spots, strict=True):
        width = text_width(name, "row")
        found = None
        for dx, dy, anchor in _SPOTS:
            rect = _label_rect(x + dx, y + dy, width, anchor)
            if _inside(rect) and not any(_overlap(rect, other) for other in taken):
                taken.append(rect)
                found = (x + dx, y + dy, anchor)
                break
        out.append(found)
    return out


def _label_rect(x: float, baseline: float, width: float, anchor: str) -> Rect:
    left = {"start": x, "end": x - width, "middle": x - width / 2}[anchor]
    return (left, baseline - LABEL_HEIGHT + 3, left + width, baseline + 3)


def _inside(rect: Rect) -> bool:
    return rect[0] >= LEFT and rect[2] <= WIDTH - 2 and rect[1] >= 0 and rect[3] <= BOTTOM


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
