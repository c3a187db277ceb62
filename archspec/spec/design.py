"""Specs that give a design instead of a stage table, turned into one on load.

- `regnet:` generates the rows: RegNet's quantised stages (archspec.spec.regnet) as
  `regnet_block` stages; an error the generated rows raise is located at `regnet`;
- `width_mult` / `depth_mult` scale the table as EfficientNet's compound scaling does
  (torchvision `_make_divisible(c * width_mult, 8)`, `ceil(depth * depth_mult)`; timm's
  `round_channels` and ceil-truncated depths agree for these).

`expanded` writes the stage table a design compiles to, as the spec a user can copy and edit
(`archspec expand`).
"""

from __future__ import annotations

import math
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


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision/timm `_make_divisible`: the nearest multiple, never below divisor nor more
    than 10% below value."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def scale_compound(data: dict[str, Any]) -> dict[str, Any]:
    """The stem's, stages' and tail's widths and the stages' depths, scaled; values that are
    not numbers are left for validation to report."""
    width, depth = data.get("width_mult"), data.get("depth_mult")
    if not (_number(width) or _number(depth)):
        return data
    out = dict(data)

    def scaled_width(value: Any) -> Any:
        return make_divisible(value * width) if _number(width) and _number(value) else value

    for part in ("stem", "tail"):
        if isinstance(out.get(part), dict) and "width" in out[part]:
            out[part] = {**out[part], "width": scaled_width(out[part]["width"])}
    rows = out.get("stages")
    if isinstance(rows, list):
        out["stages"] = [_scaled_row(row, scaled_width, depth) for row in rows]
    return out


def _scaled_row(row: Any, scaled_width: Any, depth: Any) -> Any:
    if not isinstance(row, dict):
        return row
    row = dict(row)
    if "width" in row:
        row["width"] = scaled_width(row["width"])
    if _number(depth) and isinstance(row.get("depth"), int) and not isinstance(row["depth"], bool):
        row["depth"] = math.ceil(row["depth"] * depth)
    return row


def expanded_compound(data: dict[str, Any], spec: Any) -> str:
    """A compound-scaled spec written out: its scaled stem, stages and tail, no multipliers."""
    out = {k: v for k, v in data.items() if k not in ("width_mult", "depth_mult")}
    rows = [row.model_dump(exclude_defaults=True) for row in spec.stages]
    columns: dict[str, Any] = {}
    for key in dict.fromkeys(k for row in rows for k in row):
        values = [row.get(key) for row in rows]
        columns[key] = values[0] if all(v == values[0] for v in values) else values
    out["stages"] = columns
    if isinstance(out.get("stem"), dict):
        out["stem"] = {**out["stem"], "width": spec.stem.width}
    if spec.tail is not None:
        out["tail"] = {**out["tail"], "width": spec.tail.width}
    return yaml.safe_dump(out, sort_keys=False, default_flow_style=None, width=96)
