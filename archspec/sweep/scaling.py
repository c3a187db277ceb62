"""Compound scaling of a spec's data: width, depth and resolution multipliers.

Widths and depths scale as a spec's `width_mult` / `depth_mult` do
(archspec.spec.design.scale_widths_depths: torchvision's EfficientNet rounding). A bottleneck's
inner width is floor(width * base_width / 64) * groups, a multiple of its groups whatever the
width, so grouped stages stay valid. `resolution` sets the input's height and width.
"""

from __future__ import annotations

from typing import Any

from archspec.spec.design import DIVISOR, scale_widths_depths
from archspec.sweep.figures import CandidateError


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
    top, rows = scale_widths_depths(top, rows, width, depth, divisor)
    if side is not None:
        channels = top.get("input", [3])[0]
        top["input"] = [channels, int(side), int(side)]
    return top, rows


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e6
