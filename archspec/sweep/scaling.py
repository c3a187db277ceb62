"""Compound scaling of a spec's data: width, depth and resolution multipliers.

The rounding is torchvision's EfficientNet (`_MBConvConfig.adjust_channels` / `adjust_depth`):
- widths (each stage's `width`, dense `growth_rate`, the stem's `width` and `mid_width`):
  `make_divisible(width * m, divisor)` (divisor 8), never 10% below the product. A bottleneck's
  inner width is floor(width * base_width / 64) * groups, a multiple of its groups whatever the
  width, so grouped stages stay valid;
- depths: `ceil(depth * m)`;
- resolution: the input's height and width are set to the given side.
"""

from __future__ import annotations

import math
from typing import Any

from archspec.expr import make_divisible
from archspec.sweep.figures import CandidateError

DIVISOR = 8


def scale(
    top: dict[str, Any],
    rows: list[dict[str, Any]],
    knobs: dict[str, Any],
    divisor: int = DIVISOR,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """New (top, rows) with the knobs width_mult, depth_mult, resolution applied."""
    width, depth = knobs.get("width_mult"), knobs.get("depth_mult")
    side = knobs.get("resolution")
    if width is None and depth is None and side is None:
        return top, rows
    for name, value in knobs.items():
        if not _positive(value) or (name == "resolution" and type(value) is not int):
            kind = "a whole number" if name == "resolution" else "a number"
            raise CandidateError(name, f"must be {kind} > 0, got {value!r}")
    top = dict(top)
    rows = [dict(row) for row in rows]
    if width is not None and width != 1:
        _scale_widths(top, rows, float(width), divisor)
    if depth is not None and depth != 1:
        for row in rows:
            row["depth"] = math.ceil(row["depth"] * float(depth))
    if side is not None:
        channels = top.get("input", [3])[0]
        top["input"] = [channels, int(side), int(side)]
    return top, rows


def _scale_widths(top: dict[str, Any], rows: list[dict[str, Any]], m: float, divisor: int) -> None:
    stem = dict(top.get("stem") or {})
    for key in ("width", "mid_width"):
        value = stem.get(key)
        if isinstance(value, list):  # a tiered stem's two widths
            stem[key] = [make_divisible(v * m, divisor) for v in value]
        elif value is not None:
            stem[key] = make_divisible(value * m, divisor)
    if "width" not in stem:
        stem["width"] = make_divisible(64 * m, divisor)  # the Stem model's default width
    top["stem"] = stem
    for row in rows:
        for key in ("width", "growth_rate"):
            if row.get(key) is not None:
                row[key] = make_divisible(row[key] * m, divisor)


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e6
