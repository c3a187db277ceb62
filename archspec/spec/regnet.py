"""RegNet's design space (Radosavovic et al. 2020): five numbers quantised into a stage table.

`generate_regnet` and `adjust_ws_gs_comp` follow pycls 0.1.1 `pycls/models/regnet.py`, which
torchvision's `BlockParams.from_init_params` reproduces: per-block widths u_j = w0 + wa * j are
snapped to w0 * wm^k, rounded to multiples of q = 8, grouped into stages, and each stage's
bottleneck width is rounded to a multiple of its group width (the group width itself capped at
the bottleneck width). A spec's `regnet:` field and the sweeps' RegNet spaces both use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from archspec.expr import make_divisible


class DesignError(ValueError):
    """A design that generates no network: `field` is the parameter to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RegNetStage:
    width: int
    depth: int
    group_width: int
    bottleneck: float


MAX_DEPTH = 1_000


def generate_regnet(
    wa: float, w0: int, wm: float, depth: int, q: int = 8
) -> tuple[list[int], int, int]:
    """Per-block widths, the number of stages, and the largest stage index + 1 (pycls)."""
    if not (wa >= 0 and w0 > 0 and wm > 1 and w0 % q == 0):
        raise DesignError("regnet", f"needs wa >= 0, w0 > 0, wm > 1, w0 % {q} == 0")
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
    widths: list[int], bottlenecks: list[float], groups: list[int], rounding: str = "pycls"
) -> tuple[list[int], list[int]]:
    """Cap each group width at the bottleneck width, then round that to a multiple of it:
    pycls rounds half to even (`round(w / g) * g`); torchvision's `_make_divisible` rounds
    half up and never more than 10% down. They differ where w / g ends in .5 (RegNetX-400MF's
    last stage: pycls 384, torchvision 400)."""
    inner = [int(w * b) for w, b in zip(widths, bottlenecks, strict=True)]
    groups = [min(g, w) for g, w in zip(groups, inner, strict=True)]
    if rounding == "torchvision":
        inner = [make_divisible(w, g) for w, g in zip(inner, groups, strict=True)]
    else:
        inner = [round(w / g) * g for w, g in zip(inner, groups, strict=True)]
    widths = [int(w / b) for w, b in zip(inner, bottlenecks, strict=True)]
    return widths, groups


def _check(params: dict[str, Any]) -> None:
    for key in ("depth", "w0", "wa", "wm", "group_width", "bottleneck"):
        value = params.get(key, 1.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise DesignError(f"regnet.{key}", f"must be a number > 0, got {value!r}")
    for key in ("depth", "w0", "group_width"):
        if not float(params[key]).is_integer():
            raise DesignError(f"regnet.{key}", f"must be a whole number, got {params[key]!r}")
    if params["depth"] > MAX_DEPTH or params["w0"] > 1e6:
        raise DesignError("regnet", f"depth <= {MAX_DEPTH} and w0 <= 1e6, please")


def regnet_stages(params: dict[str, Any], q: int = 8) -> list[RegNetStage]:
    """The stage table of RegNet(depth, w0, wa, wm, group_width, bottleneck[, rounding])."""
    _check(params)
    args = (params["wa"], int(params["w0"]), params["wm"], int(params["depth"]), q)
    try:
        widths, count, max_stage = generate_regnet(*args)
    except (OverflowError, ValueError, ZeroDivisionError) as exc:
        if isinstance(exc, DesignError):
            raise
        raise DesignError("regnet", f"cannot generate widths: {exc}") from None
    if count != max_stage:  # pycls check_regnet_constraints: no stage index skipped
        raise DesignError("regnet", f"skips a stage ({count} stages, largest index {max_stage})")
    table = stages_from_blocks(widths)
    bottleneck = params.get("bottleneck", 1.0)
    ws, gs = adjust_ws_gs_comp(
        [w for w, _ in table],
        [bottleneck] * len(table),
        [int(params["group_width"])] * len(table),
        params.get("rounding", "pycls"),
    )
    return [RegNetStage(w, d, g, bottleneck) for w, (_, d), g in zip(ws, table, gs, strict=True)]
