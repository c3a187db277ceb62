"""Params-vs-MACs scatter of several specs (matplotlib, an optional extra)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from archspec.errors import ArchspecError
from archspec.stats import Stats


class PlotError(ArchspecError):
    """The plot could not be drawn (matplotlib missing)."""


def scatter_png(all_stats: Sequence[Stats]) -> bytes:
    try:
        import matplotlib  # noqa: PLC0415 - optional extra, only for --plot

        matplotlib.use("Agg")
        from matplotlib import pyplot  # noqa: PLC0415
    except ImportError:
        raise PlotError(
            "--plot needs matplotlib; install it with: pip install 'archspec[plot]'"
        ) from None
    figure, axes = pyplot.subplots(figsize=(7, 5), dpi=120)
    macs = [s.totals.macs / 1e9 for s in all_stats]
    params = [s.totals.params / 1e6 for s in all_stats]
    axes.scatter(macs, params, color="#3465a4")
    for stats, x, y in zip(all_stats, macs, params, strict=True):
        axes.annotate(stats.name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    axes.set_xlabel("GMACs (conv + linear, bias excluded)")
    axes.set_ylabel("parameters (millions)")
    axes.set_title("archspec: parameters vs MACs")
    axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    pyplot.close(figure)
    return buffer.getvalue()
