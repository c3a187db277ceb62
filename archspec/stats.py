"""Totals and per-stage / per-block / per-layer rollups of an analysed ArchGraph."""

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
    block: str
    rf: int | None
    stride: int | None


@dataclass(frozen=True)
class GroupRow:
    """A stage or a block: its output shape, summed counts and receptive field there."""

    name: str
    module: str
    kind: str
    depth: int
    shape: Shape
    params: int
    macs: int
    acts: int
    rf: int | None
    stride: int | None
    # The stage this stage or block belongs to (its own key for a stage row).
    stage: str = ""


@dataclass
class Stats:
    name: str
    title: str
    input: Shape
    totals: Totals
    stages: list[GroupRow] = field(default_factory=list)
    blocks: list[GroupRow] = field(default_factory=list)
    layers: list[LayerRow] = field(default_factory=list)

    def to_dict(self, *, per_layer: bool = False, per_block: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "input": list(self.input),
            "totals": {**asdict(self.totals), "flops": self.totals.flops},
            "stages": [_listed(asdict(row)) for row in self.stages],
        }
        if per_block:
            out["blocks"] = [_listed(asdict(row)) for row in self.blocks]
        if per_layer:
            out["layers"] = [_listed(asdict(row)) for row in self.layers]
        return out


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in row.items()}


def _layer(node: str, data: dict[str, Any]) -> LayerRow:
    rf, stride = data["field"] if data.get("field") else (None, None)
    return LayerRow(
        node,
        data["op"].kind,
        data["shape"],
        data["params"],
        data["macs"],
        data["acts"],
        data["stage"],
        data["block"],
        rf,
        stride,
    )


def compute_stats(arch: ArchGraph) -> Stats:
    layers = [_layer(node, data) for node, data in arch.nodes() if data["stage"] != "input"]
    buffers = sum(data["buffers"] for _, data in arch.nodes())
    totals = Totals(
        sum(r.params for r in layers),
        buffers,
        sum(r.macs for r in layers),
        sum(r.acts for r in layers),
    )
    stats = Stats(arch.name, arch.title, arch.input_shape, totals)
    stats.layers = layers
    stats.stages = _stage_rows(arch, layers)
    stats.blocks = _block_rows(arch, layers)
    return stats


def _group(name: str, module: str, kind: str, depth: int, rows: list[LayerRow]) -> GroupRow:
    """Sums over `rows`, which all belong to one stage."""
    spatial = [r for r in rows if r.rf is not None]
    last = spatial[-1] if spatial else None
    return GroupRow(
        name,
        module,
        kind,
        depth,
        rows[-1].shape,
        sum(r.params for r in rows),
        sum(r.macs for r in rows),
        sum(r.acts for r in rows),
        last.rf if last else None,
        last.stride if last else None,
        rows[0].stage,
    )


def _stage_rows(arch: ArchGraph, layers: list[LayerRow]) -> list[GroupRow]:
    by_stage: dict[str, list[LayerRow]] = {}
    for row in layers:
        by_stage.setdefault(row.stage, []).append(row)
    return [
        _group(info.key, info.module, info.block_type, info.depth, by_stage[info.key])
        for info in arch.stages
        if info.key in by_stage
    ]


def _block_rows(arch: ArchGraph, layers: list[LayerRow]) -> list[GroupRow]:
    """One row per block; ops outside blocks (stem, head) group under their stage."""
    groups: dict[str, list[LayerRow]] = {}
    for row in layers:
        groups.setdefault(row.block or row.stage, []).append(row)
    kinds = {info.key: info.block_type for info in arch.stages}
    return [
        _group(key, rows[0].block, kinds.get(rows[0].stage, ""), 1, rows)
        for key, rows in groups.items()
    ]
