"""Totals and per-stage / per-layer rollups of an analysed ArchGraph."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from archspec.ir.graph import ArchGraph
from archspec.ir.ops import Shape


@dataclass(frozen=True)
class Totals:
    params: int
    buffers: int
    macs: int
    acts: int

    @property
    def flops(self) -> int:
        """FLOPs = 2 x MACs (a multiply and an add each)."""
        return 2 * self.macs


@dataclass(frozen=True)
class LayerRow:
    path: str
    op: str
    shape: Shape
    params: int
    macs: int
    acts: int
    stage: str


@dataclass(frozen=True)
class StageRow:
    stage: str
    module: str
    block: str
    depth: int
    shape: Shape
    params: int
    macs: int
    acts: int


@dataclass
class Stats:
    name: str
    title: str
    input: Shape
    totals: Totals
    stages: list[StageRow] = field(default_factory=list)
    layers: list[LayerRow] = field(default_factory=list)

    def to_dict(self, *, per_layer: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "input": list(self.input),
            "totals": {**asdict(self.totals), "flops": self.totals.flops},
            "stages": [_listed(asdict(row)) for row in self.stages],
        }
        if per_layer:
            out["layers"] = [_listed(asdict(row)) for row in self.layers]
        return out


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in row.items()}


def compute_stats(arch: ArchGraph) -> Stats:
    layers = [
        LayerRow(
            node,
            data["op"].kind,
            data["shape"],
            data["params"],
            data["macs"],
            data["acts"],
            data["stage"],
        )
        for node, data in arch.nodes()
        if data["stage"] != "input"
    ]
    buffers = sum(data["buffers"] for _, data in arch.nodes())
    totals = Totals(
        sum(r.params for r in layers),
        buffers,
        sum(r.macs for r in layers),
        sum(r.acts for r in layers),
    )
    return Stats(arch.name, arch.title, arch.input_shape, totals, _stage_rows(arch, layers), layers)


def _stage_rows(arch: ArchGraph, layers: list[LayerRow]) -> list[StageRow]:
    rows = []
    for info in arch.stages:
        mine = [row for row in layers if row.stage == info.key]
        if not mine:
            continue
        rows.append(
            StageRow(
                info.key,
                info.module,
                info.block_type,
                info.depth,
                mine[-1].shape,
                sum(r.params for r in mine),
                sum(r.macs for r in mine),
                sum(r.acts for r in mine),
            )
        )
    return rows
