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
from archspec.expr import make_divisible
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


# Compound scaling rounds widths to a multiple of this (torchvision and timm EfficientNet).
DIVISOR = 8


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def scale_widths_depths(
    top: dict[str, Any],
    rows: list[Any],
    width: float | None,
    depth: float | None,
    divisor: int = DIVISOR,
) -> tuple[dict[str, Any], list[Any]]:
    """Compound scaling of a spec's data (torchvision `adjust_channels` / `adjust_depth`):
    every width (the stem's `width` and `mid_width`, the tail's, each stage's `width` and
    dense `growth_rate`) to `make_divisible(width * m, divisor)`, never 10% below the product;
    each depth to `ceil(depth * m)`. The stem's implied width (64) scales too. Values that are
    not numbers are left for validation to report. Specs (`width_mult`, `depth_mult`) and
    sweeps scale alike."""
    top = dict(top)
    rows = [dict(row) if isinstance(row, dict) else row for row in rows]
    if _number(width) and width != 1:
        assert width is not None

        def scaled(value: Any) -> Any:
            if isinstance(value, list):  # a tiered stem's two widths
                return [scaled(v) for v in value]
            return make_divisible(value * width, divisor) if _number(value) else value

        stem = dict(top.get("stem") or {})
        if stem.get("type") != "none":
            stem.setdefault("width", 64)  # the Stem model's default width
        top["stem"] = {k: scaled(v) if k in ("width", "mid_width") else v for k, v in stem.items()}
        if isinstance(top.get("tail"), dict):
            top["tail"] = {k: scaled(v) if k == "width" else v for k, v in top["tail"].items()}
        for row in rows:
            if isinstance(row, dict):
                row.update((k, scaled(row[k])) for k in ("width", "growth_rate") if k in row)
    if _number(depth) and depth != 1:
        assert depth is not None
        for row in rows:
            if isinstance(row, dict) and _number(row.get("depth")) and type(row["depth"]) is int:
                row["depth"] = math.ceil(row["depth"] * depth)
    return top, rows


def scale_compound(data: dict[str, Any]) -> dict[str, Any]:
    """A spec's `width_mult` / `depth_mult` applied to its stem, stages and tail."""
    width, depth = data.get("width_mult"), data.get("depth_mult")
    rows = data.get("stages")
    if not (_number(width) or _number(depth)) or not isinstance(rows, list):
        return data
    top, rows = scale_widths_depths(data, rows, width, depth)
    return {**top, "stages": rows}


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
