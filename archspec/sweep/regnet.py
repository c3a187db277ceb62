"""RegNet's design space: five numbers quantised into a stage table, as pycls does it.

`generate_regnet` and `adjust_ws_gs_comp` follow pycls 0.1.1 `pycls/models/regnet.py`
(Radosavovic et al. 2020): per-block widths u_j = w0 + wa * j are snapped to w0 * wm^k, rounded to
multiples of q = 8, grouped into stages, and each stage's bottleneck width is rounded to a multiple
of its group width (the group width itself capped at the bottleneck width).

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

import math
from dataclasses import dataclass
from typing import Any

from archspec.sweep.figures import CandidateError

MAX_EXPANSION = 64


@dataclass(frozen=True)
class RegNetStage:
    width: int
    depth: int
    group_width: int
    bottleneck: float


def generate_regnet(
    wa: float, w0: int, wm: float, depth: int, q: int = 8
) -> tuple[list[int], int, int]:
    """Per-block widths, the number of stages, and the largest stage index + 1 (pycls)."""
    if not (wa >= 0 and w0 > 0 and wm > 1 and w0 % q == 0):
        raise CandidateError("regnet", f"needs wa >= 0, w0 > 0, wm > 1, w0 % {q} == 0")
    continuous = [j * wa + w0 for j in range(depth)]
    ks = [round(math.log(u / w0) / math.log(wm)) for u in continuous]
    widths = [int(round(w0 * wm**k / q) * q) for k in ks]
    return widths, len(set(widths)), int(max(ks)) + 1


def stages_from_blocks(widths: list[int]) -> list[tuple[int, int]]:
    """(width, depth) of each run of equal block widths."""
    stages: list[tuple[int, int]] = []
    for width in widths:
        if stages and stages[-1][0] == width:
            stages[-1] = (width, stages[-1][1] + 1)
        else:
            stages.append((width, 1))
    return stages


def adjust_ws_gs_comp(
    widths: list[int], bottlenecks: list[float], groups: list[int]
) -> tuple[list[int], list[int]]:
    """pycls: cap each group width at the bottleneck width, then round that to a multiple."""
    inner = [int(w * b) for w, b in zip(widths, bottlenecks, strict=True)]
    groups = [min(g, w) for g, w in zip(groups, inner, strict=True)]
    inner = [round(w / g) * g for w, g in zip(inner, groups, strict=True)]
    widths = [int(w / b) for w, b in zip(inner, bottlenecks, strict=True)]
    return widths, groups


MAX_DEPTH = 1_000


def _check(params: dict[str, Any]) -> None:
    for key in ("depth", "w0", "wa", "wm", "group_width", "bottleneck"):
        value = params.get(key, 1.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise CandidateError(f"regnet.{key}", f"must be a number > 0, got {value!r}")
    for key in ("depth", "w0", "group_width"):
        if not float(params[key]).is_integer():
            raise CandidateError(f"regnet.{key}", f"must be a whole number, got {params[key]!r}")
    if params["depth"] > MAX_DEPTH or params["w0"] > 1e6:
        raise CandidateError("regnet", f"depth <= {MAX_DEPTH} and w0 <= 1e6, please")


def regnet_stages(params: dict[str, Any], q: int = 8) -> list[RegNetStage]:
    """The stage table of RegNet(depth, w0, wa, wm, group_width, bottleneck)."""
    _check(params)
    args = (params["wa"], int(params["w0"]), params["wm"], int(params["depth"]), q)
    try:
        widths, count, max_stage = generate_regnet(*args)
    except (OverflowError, ValueError, ZeroDivisionError) as exc:
        raise CandidateError("regnet", f"cannot generate widths: {exc}") from None
    if count != max_stage:  # pycls check_regnet_constraints: no stage index skipped
        raise CandidateError("regnet", f"skips a stage ({count} stages, largest index {max_stage})")
    table = stages_from_blocks(widths)
    bottleneck = params.get("bottleneck", 1.0)
    ws, gs = adjust_ws_gs_comp(
        [w for w, _ in table], [bottleneck] * len(table), [int(params["group_width"])] * len(table)
    )
    return [RegNetStage(w, d, g, bottleneck) for w, (_, d), g in zip(ws, table, gs, strict=True)]


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
