"""Specs that give a design instead of a stage table: `regnet:` generates the rows on load.

The rows are RegNet's quantised stages (archspec.spec.regnet) as `regnet_block` stages; an
error the generated rows raise is located at `regnet`. `expanded` writes the stage table a
design compiles to, as the spec a user can copy and edit (`archspec expand`).
"""

from __future__ import annotations

from typing import Any

import pydantic
import yaml

from archspec.errors import Loc
from archspec.spec.models import RegNetDesign
from archspec.spec.regnet import DesignError, regnet_stages

# The stage fields a generated row sets.
ROW_FIELDS = ("block", "depth", "width", "stride", "args")


def regnet_rows(design: RegNetDesign) -> list[dict[str, Any]]:
    """One `regnet_block` stage per quantised RegNet stage."""
    params = {
        "depth": design.depth,
        "w0": design.w0,
        "wa": design.wa,
        "wm": design.wm,
        "group_width": design.group_width,
        "bottleneck": design.bottleneck_ratio,
        "rounding": design.rounding,
    }
    rows = []
    for stage in regnet_stages(params):
        args: dict[str, Any] = {"group_width": stage.group_width}
        if design.bottleneck_ratio != 1:
            args["bottleneck_multiplier"] = float(design.bottleneck_ratio)
        if design.se_ratio:
            args["se_ratio"] = float(design.se_ratio)
        rows.append(
            {
                "block": "regnet_block",
                "depth": stage.depth,
                "width": stage.width,
                "stride": 2,
                "args": args,
            }
        )
    return rows


def expand_design(data: dict[str, Any]) -> tuple[dict[str, Any], dict[Loc, Loc], str | None]:
    """`data` with `regnet` turned into `stages`, the row locations mapped to `regnet`, and the
    reason it cannot be (None: expanded, or nothing to expand)."""
    raw = data.get("regnet")
    if raw is None:
        return data, {}, None
    if "stages" in data:
        return data, {}, "give either `regnet` (a design) or `stages` (a table), not both"
    try:
        design = RegNetDesign.model_validate(raw)
    except pydantic.ValidationError:
        return data, {}, None  # the spec's own validation reports it, located
    try:
        rows = regnet_rows(design)
    except DesignError as exc:
        return data, {}, exc.message
    remap: dict[Loc, Loc] = {
        ("stages", index, key): ("regnet",) for index in range(len(rows)) for key in ROW_FIELDS
    }
    remap[("stages",)] = ("regnet",)
    return {**data, "stages": rows}, remap, None


def expanded(data: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The spec as written with its design replaced by the stage table it compiles to
    (columnar, one value where every stage agrees)."""
    out = {key: value for key, value in data.items() if key != "regnet"}
    columns: dict[str, Any] = {}
    for key in ROW_FIELDS:
        values = [row.get(key) for row in rows]
        same = all(value == values[0] for value in values)
        columns[key] = values[0] if same else values
    out["stages"] = columns
    return yaml.safe_dump(out, sort_keys=False, default_flow_style=None, width=96)
