"""Candidate `index` of a space: its axis values and its spec data, a pure function of the index.

With `samples:`, candidate i draws every axis from the RNG seeded by (seed, i); without, i is a
mixed-radix number over the grid (the last axis varies fastest). Either way a candidate can be
rebuilt alone, by a worker, on resume, or for `--emit-specs`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml

from archspec.spec.models import MAX_STAGES
from archspec.sweep.figures import CandidateError
from archspec.sweep.regnet import bottleneck_row, regnet_stages
from archspec.sweep.sampling import candidate_rng
from archspec.sweep.scaling import scale
from archspec.sweep.space import KNOBS, Space

_NONE_WORDS = ("none", "None", "null")


@dataclass
class Candidate:
    index: int
    name: str
    values: dict[str, Any]  # axis name (and RegNet parameter) -> value drawn
    top: dict[str, Any]
    rows: list[dict[str, Any]]

    def spec_data(self) -> dict[str, Any]:
        """The candidate as a row-form spec mapping, named after the space, not the base."""
        data = {k: v for k, v in self.top.items() if k not in ("class_name", "title", "reference")}
        title = f"candidate {self.index} of design space {self.name.rsplit('_', 1)[0]}"
        return {**data, "name": self.name, "title": title, "stages": self.rows}

    def spec_yaml(self, space: Space) -> str:
        header = f"candidate {self.index} of design space {space.name} ({space.file})\n"
        header += "".join(f"{key}: {_text(value)}\n" for key, value in self.values.items())
        return spec_text(self.spec_data(), header)


_ORDER = ("archspec", "name", "class_name", "title", "reference", "input", "stem", "stages")


def spec_text(data: dict[str, Any], header: str = "") -> str:
    """A spec mapping as YAML a person would write: fields in the usual order, the stage table
    in columnar form (a scalar where every stage agrees) when every row has the same fields."""
    ordered = {key: data[key] for key in _ORDER if key in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    ordered["stages"] = _columnar(data["stages"])
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None, width=100)


def _columnar(rows: list[dict[str, Any]]) -> Any:
    keys = list(dict.fromkeys(key for row in rows for key in row))
    if any(set(row) != set(keys) for row in rows):
        return rows
    table: dict[str, Any] = {}
    for key in keys:
        values = [row[key] for row in rows]
        same = all(v == values[0] and type(v) is type(values[0]) for v in values)
        table[key] = values[0] if same and key != "depth" else values
    return table


def _text(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def draw(space: Space, index: int) -> dict[str, Any]:
    """The values of candidate `index`: axis name -> value (and RegNet parameters)."""
    if space.samples is None:
        return _grid_values(space, index)
    rng = candidate_rng(space.seed, index)
    values: dict[str, Any] = {}
    if space.regnet is not None:
        for key, law in space.regnet.items():
            values[f"regnet.{key}"] = law.sample(rng)
    stages = len(space.rows)
    for axis in space.axes:
        count = stages if axis.per_stage else 1
        drawn = [axis.law.sample(rng) for _ in range(count)]
        values[axis.name] = drawn if axis.per_stage else drawn[0]
    return values


def _grid_values(space: Space, index: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    stages = len(space.rows)
    for axis in reversed(space.axes):
        grid = axis.law.grid()
        picks = []
        for _ in range(stages if axis.per_stage else 1):
            index, pick = divmod(index, len(grid))
            picks.append(grid[pick])
        values[axis.name] = picks[::-1] if axis.per_stage else picks[0]
    return dict(reversed(list(values.items())))


def build(space: Space, index: int, values: dict[str, Any] | None = None) -> Candidate:
    """Candidate `index` (from its drawn `values`, if given); CandidateError when its values
    make no network (e.g. a RegNet that has no bottleneck row)."""
    values = draw(space, index) if values is None else values
    # Shallow copies: nested values are replaced, never changed in place (see _assign).
    top = dict(space.top)
    rows = [dict(row) for row in space.rows]
    if space.regnet is not None:
        rows = _regnet_rows(values, rows)
    knobs: dict[str, Any] = {}
    for axis in space.axes:
        value = values[axis.name]
        if axis.stage is None and axis.path[0] in KNOBS:
            knobs[axis.path[0]] = value
        elif axis.stage is None:
            _assign(top, axis.path, value)
        else:
            for i, row in enumerate(rows):
                if axis.stage in ("all", "each") or axis.stage == str(i):
                    picked = _field_value(axis.path[0], value[i] if axis.per_stage else value)
                    if picked is None:
                        row.pop(axis.path[0], None)  # `none`: the field's default (no attention)
                    else:
                        row[axis.path[0]] = picked
    top, rows = scale(top, rows, knobs)
    return Candidate(index, f"{space.name}_{index}", values, top, rows)


def _regnet_rows(values: dict[str, Any], base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    params = {k.removeprefix("regnet."): v for k, v in values.items() if k.startswith("regnet.")}
    stages = regnet_stages(params)
    if len(stages) > MAX_STAGES:
        message = f"gives {len(stages)} stages; archspec takes at most {MAX_STAGES}"
        raise CandidateError("regnet", message)
    template = {k: v for k, v in base[0].items() if k in ("downsample", "stride_at", "attention")}
    return [{**template, **bottleneck_row(stage)} for stage in stages]


def _assign(top: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = top
    for key in path[:-1]:
        current = target.get(key)
        target[key] = dict(current) if isinstance(current, dict) else {}
        target = target[key]
    target[path[-1]] = _field_value(path[-1], value)


def _field_value(key: str, value: Any) -> Any:
    if key in ("attention", "head") and value in _NONE_WORDS:
        return None
    return copy.deepcopy(value)
