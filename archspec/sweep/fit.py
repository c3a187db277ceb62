"""`fit`: the largest network of a spec's shape under a MACs and/or parameter budget.

One varied dimension scales alone: a width multiplier (widths rounded by make_divisible to the
divisor, so grouped stages stay divisible), a depth multiplier (ceil), or the input side
(rounded to `resolution_step`). Two or three scale together by EfficientNet's compound rule
(Tan & Le 2019, section 3.3): depth alpha^phi, width beta^phi, resolution gamma^phi with
alpha = 1.2, beta = 1.1, gamma = 1.15, for one phi. The multiplier (or phi) is scanned on a fine
grid, every distinct network analysed once (archspec.sweep.figures), and the feasible one with
the most MACs (then params; params first when only params are budgeted) wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from archspec.errors import ArchspecError
from archspec.spec.design import DIVISOR
from archspec.sweep.figures import Analyzer, CandidateError, Figures, freeze
from archspec.sweep.scaling import scale

DIMENSIONS = ("width", "depth", "resolution")
COMPOUND = {"depth": 1.2, "width": 1.1, "resolution": 1.15}
STEPS = 4000
SPAN = 16.0  # multipliers from 1/SPAN to SPAN


class FitError(ArchspecError):
    """No network of this shape meets the budget, or the request is malformed."""


@dataclass(frozen=True)
class Budget:
    macs: float | None = None
    params: float | None = None

    def holds(self, figures: Figures) -> bool:
        return (self.macs is None or figures.macs <= self.macs) and (
            self.params is None or figures.params <= self.params
        )

    def rank(self, figures: Figures) -> tuple[int, int]:
        if self.macs is None:
            return figures.params, figures.macs
        return figures.macs, figures.params


@dataclass(frozen=True)
class Fit:
    knobs: dict[str, float]
    top: dict[str, Any]
    rows: list[dict[str, Any]]
    before: Figures
    after: Figures
    changes: list[tuple[str, Any, Any]]


def fit_spec(
    top: dict[str, Any],
    rows: list[dict[str, Any]],
    budget: Budget,
    vary: tuple[str, ...] = ("width",),
    divisor: int = DIVISOR,
    resolution_step: int = 8,
) -> Fit:
    if budget.macs is None and budget.params is None:
        raise FitError("give a budget: --macs and/or --params")
    unknown = [d for d in vary if d not in DIMENSIONS]
    if unknown or not vary:
        raise FitError(f"--vary takes {', '.join(DIMENSIONS)}; got {', '.join(vary) or 'nothing'}")
    analyzer = Analyzer()
    before = analyzer.figures(top, rows)
    best: tuple[tuple[int, int], dict[str, float], Any, Any, Figures] | None = None
    seen: set[Any] = set()
    for knobs in _grid(vary, top, resolution_step):
        new_top, new_rows = scale(top, rows, knobs, divisor)
        key = freeze([new_top, new_rows])
        if key in seen:
            continue
        seen.add(key)
        try:
            figures = analyzer.figures(new_top, new_rows)
        except CandidateError:
            continue
        if budget.holds(figures) and (best is None or budget.rank(figures) > best[0]):
            best = (budget.rank(figures), knobs, new_top, new_rows, figures)
    if best is None:
        raise FitError(
            "no network of this shape meets the budget, even at 1/16 of its size. Fix: raise "
            "the budget, or vary more dimensions (--vary width,depth,resolution)"
        )
    _, knobs, new_top, new_rows, after = best
    return Fit(knobs, new_top, new_rows, before, after, changes(top, rows, new_top, new_rows))


def _grid(vary: tuple[str, ...], top: dict[str, Any], step: int) -> list[dict[str, float]]:
    side = (top.get("input") or [3, 224, 224])[1]
    ratios = [SPAN ** (2 * i / STEPS - 1) for i in range(STEPS + 1)]
    if len(vary) == 1:
        return [_knobs({vary[0]: r}, side, step) for r in ratios]
    # Compound: one phi with the largest coefficient spanning 1/SPAN..SPAN.
    largest = max(COMPOUND[d] for d in vary)
    phis = [math.log(r) / math.log(largest) for r in ratios]
    return [_knobs({d: COMPOUND[d] ** phi for d in vary}, side, step) for phi in phis]


def _knobs(ratios: dict[str, float], side: int, step: int) -> dict[str, float]:
    knobs: dict[str, float] = {}
    if "width" in ratios:
        knobs["width_mult"] = ratios["width"]
    if "depth" in ratios:
        knobs["depth_mult"] = ratios["depth"]
    if "resolution" in ratios:
        knobs["resolution"] = max(step, round(side * ratios["resolution"] / step) * step)
    return knobs


def changes(
    top: dict[str, Any], rows: list[dict[str, Any]], new_top: dict[str, Any], new_rows: list[Any]
) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for every field that changed."""
    out = [
        (key, top.get(key), new_top.get(key))
        for key in dict.fromkeys([*top, *new_top])
        if top.get(key) != new_top.get(key)
    ]
    for key in dict.fromkeys(k for row in [*rows, *new_rows] for k in row):
        before = [row.get(key) for row in rows]
        after = [row.get(key) for row in new_rows]
        if before != after:
            out.append((f"stages.{key}", before, after))
    return out
