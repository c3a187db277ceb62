"""RegNet's design space in sweeps: the stage table of archspec.spec.regnet (pycls's
quantisation), written as bottleneck rows.

archspec has no RegNet stem or block family yet, so each stage maps onto a `bottleneck` row with
the same block: a 1x1 to the bottleneck width w_b = round(w * b), a 3x3 with w_b / group_width
groups carrying the stage stride, a 1x1 back to w, a projection shortcut where the shape changes,
and a ReLU after the add (pycls ResBottleneckBlock). The row's fields are chosen so that
archspec's bottleneck arithmetic (inner = floor(width * base_width / 64) * groups, out = width *
expansion) gives exactly w_b and w; a stage for which no such integer fields exist (expansion
at most 64) is reported as not representable. The stem and head are the base spec's, so
figures are RegNet's blocks on that stem until the RegNet family lands.
"""

from __future__ import annotations

from typing import Any

from archspec.spec.regnet import DesignError, RegNetStage
from archspec.spec.regnet import regnet_stages as design_stages
from archspec.sweep.figures import CandidateError

MAX_EXPANSION = 64


def regnet_stages(params: dict[str, Any], q: int = 8) -> list[RegNetStage]:
    """The stage table of a sampled design (archspec.spec.regnet), errors as candidates'."""
    try:
        return design_stages(params, q)
    except DesignError as exc:
        raise CandidateError(exc.field, exc.message) from None


def bottleneck_row(stage: RegNetStage, stride: int = 2) -> dict[str, Any]:
    """An archspec bottleneck row whose block equals pycls's ResBottleneckBlock."""
    inner = round(stage.width * stage.bottleneck)  # pycls: int(round(w_out * bm))
    groups = inner // stage.group_width
    if groups < 1 or inner % groups:
        raise CandidateError("regnet", f"bottleneck width {inner} does not split into groups")
    per_group = inner // groups
    for expansion in range(1, MAX_EXPANSION + 1):
        if stage.width % expansion or (64 * per_group * expansion) % stage.width:
            continue
        return {
            "block": "bottleneck",
            "depth": stage.depth,
            "width": stage.width // expansion,
            "expansion": expansion,
            "base_width": 64 * per_group * expansion // stage.width,
            "groups": groups,
            "stride": stride,
        }
    raise CandidateError(
        "regnet",
        f"width {stage.width} with {groups} groups of {per_group} has no bottleneck row "
        f"(expansion would exceed {MAX_EXPANSION})",
    )
