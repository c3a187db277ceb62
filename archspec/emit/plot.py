"""Params-vs-MACs scatter of several specs (matplotlib, an optional extra)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from archspec.distribution import DISTRIBUTION
from archspec.errors import ArchspecError
from archspec.stats import Stats

# One colour and marker per input resolution: MACs grow with the input, so points measured at
# different resolutions are told apart (and named in the legend).
_STYLES = (("#3465a4", "o"), ("#cc0000", "s"), ("#4e9a06", "^"), ("#f57900", "D"), ("#75507b", "v"))


class PlotError(ArchspecError):
    """The plot could not be drawn (matplotlib missing)."""


def scatter_png(all_stats: Sequence[Stats]) -> bytes:
    try:
        import matplotlib  # noqa: PLC0415 - optional extra, only for --plot

        matplotlib.use("Agg")
        from matplotlib import pyplot  # noqa: PLC0415
    except ImportError:
        raise PlotError(
            f"--plot needs matplotlib; install it with: pip install '{DISTRIBUTION}[plot]'"
        ) from None
    figure, axes = pyplot.subplots(figsize=(7, 5), dpi=120)
    groups = by_resolution(all_stats)
    for i, (resolution, members) in enumerate(groups.items()):
        color, marker = _STYLES[i % len(_STYLES)]
        macs = [s.totals.macs / 1e9 for s in members]
        params = [s.totals.params / 1e6 for s in members]
        axes.scatter(macs, params, color=color, marker=marker, label=f"{resolution} input")
        for stats, x, y in zip(members, macs, params, strict=True):
            axes.annotate(stats.name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if len(groups) > 1:
        axes.legend(title="MACs measured at", fontsize=8)
    where = "" if len(groups) > 1 else f" at {next(iter(groups))}"
    axes.set_xlabel(f"GMACs{where} (conv + linear, bias excluded)")
    axes.set_ylabel("parameters (millions)")
    axes.set_title("archspec: parameters vs MACs")
    axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    pyplot.close(figure)
    return buffer.getvalue()


def by_resolution(all_stats: Sequence[Stats]) -> dict[str, list[Stats]]:
    """Specs grouped by input size (HxW), in order of first appearance."""
    groups: dict[str, list[Stats]] = {}
    for stats in all_stats:
        groups.setdefault("x".join(map(str, stats.input[1:])), []).append(stats)
    return groups
