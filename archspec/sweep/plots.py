"""Sweep plots (matplotlib, the `plot` extra), as PNG or SVG bytes:

- a scatter of two figures (params vs MACs by default) over the feasible candidates, with the
  Pareto front drawn as a staircase;
- the empirical distribution function of one figure over one or more spaces, as pycls plots it
  to compare design spaces (Radosavovic et al. 2019, "On Network Design Spaces for Visual
  Recognition"): F(x) = fraction of candidates with figure <= x, on a log x axis.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from archspec.distribution import DISTRIBUTION
from archspec.errors import ArchspecError
from archspec.sweep.select import Axis

FORMATS = ("png", "svg")
_SCALE = {"macs": 1e9, "flops": 1e9, "params": 1e6, "acts": 1e6}
_UNIT = {"macs": "billions", "flops": "billions", "params": "millions", "acts": "millions"}


class PlotError(ArchspecError):
    """The plot could not be drawn (matplotlib missing, an unknown format)."""


def _pyplot() -> Any:
    try:
        import matplotlib  # noqa: PLC0415 - optional extra

        matplotlib.use("Agg")
        matplotlib.rcParams["svg.hashsalt"] = "archspec"  # reproducible SVG ids
        from matplotlib import pyplot  # noqa: PLC0415
    except ImportError:
        raise PlotError(
            f"plots need matplotlib; install it with: pip install '{DISTRIBUTION}[plot]'"
        ) from None
    return pyplot


def _label(figure: str) -> str:
    return f"{figure} ({_UNIT[figure]})" if figure in _UNIT else figure


def _value(row: dict[str, Any], figure: str) -> float:
    return float(row[figure]) / _SCALE.get(figure, 1.0)


def _save(figure: Any, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise PlotError(f"cannot write a {fmt!r} plot; use a .png or .svg file name")
    buffer = io.BytesIO()
    figure.tight_layout()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def scatter(
    rows: Sequence[dict[str, Any]],
    front: Sequence[dict[str, Any]],
    x: Axis,
    y: Axis,
    fmt: str,
    title: str,
) -> bytes:
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(7, 5), dpi=120)
    axes.scatter(
        [_value(r, x.figure) for r in rows],
        [_value(r, y.figure) for r in rows],
        s=8,
        alpha=0.4,
        color="#729fcf",
        label=f"candidates ({len(rows):,})",
    )
    axes.step(
        [_value(r, x.figure) for r in front],
        [_value(r, y.figure) for r in front],
        where="post",
        color="#cc0000",
        marker="o",
        markersize=4,
        label=f"Pareto front ({len(front)})",
    )
    axes.set_xlabel(_label(x.figure))
    axes.set_ylabel(_label(y.figure))
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    try:
        return _save(figure, fmt)
    finally:
        pyplot.close(figure)


def edf_points(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """The EDF as a post-step curve: F(x) = fraction of values <= x, starting from 0."""
    xs = sorted(values)
    ys = [(i + 1) / len(xs) for i in range(len(xs))]
    return [xs[0], *xs], [0.0, *ys]


def edf(series: Mapping[str, Sequence[float]], figure_name: str, fmt: str, title: str) -> bytes:
    """One EDF curve per space (label -> values)."""
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(7, 5), dpi=120)
    for label, values in series.items():
        if not values:
            continue
        xs, ys = edf_points([v / _SCALE.get(figure_name, 1.0) for v in values])
        axes.step(xs, ys, where="post", label=f"{label} (n={len(values):,})")
    axes.set_xscale("log")
    plain = pyplot.FuncFormatter(lambda value, _: f"{value:g}")  # 2, 3, 4 rather than 2x10^0
    axes.xaxis.set_major_formatter(plain)
    low, high = axes.get_xlim()
    if high < 10 * low:  # within a decade the minor ticks are the only labels
        axes.xaxis.set_minor_formatter(plain)
    axes.set_ylim(0, 1)
    axes.set_xlabel(_label(figure_name))
    axes.set_ylabel("cumulative prob.")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    try:
        return _save(figure, fmt)
    finally:
        pyplot.close(figure)
