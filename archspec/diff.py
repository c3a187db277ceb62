"""Two architectures side by side: per-stage deltas and what happens to each state_dict tensor
when a checkpoint of the first is loaded into the second."""

from __future__ import annotations

from dataclasses import dataclass, field

from archspec.ir.graph import ArchGraph
from archspec.ir.ops import Shape
from archspec.stats import GroupRow, compute_stats


@dataclass(frozen=True)
class StageDelta:
    stage: str
    shape_a: Shape | None
    shape_b: Shape | None
    params: int
    macs: int


@dataclass
class ArchDiff:
    a: str
    b: str
    stages: list[StageDelta] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reshaped: list[tuple[str, Shape, Shape]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _stage_map(arch: ArchGraph) -> dict[str, GroupRow]:
    return {row.name: row for row in compute_stats(arch).stages}


def _stage_deltas(a: ArchGraph, b: ArchGraph) -> list[StageDelta]:
    rows_a, rows_b = _stage_map(a), _stage_map(b)
    names = list(rows_a) + [n for n in rows_b if n not in rows_a]
    out = []
    for name in names:
        ra, rb = rows_a.get(name), rows_b.get(name)
        out.append(
            StageDelta(
                name,
                ra.shape if ra else None,
                rb.shape if rb else None,
                (rb.params if rb else 0) - (ra.params if ra else 0),
                (rb.macs if rb else 0) - (ra.macs if ra else 0),
            )
        )
    return out


def diff(a: ArchGraph, b: ArchGraph) -> ArchDiff:
    result = ArchDiff(a.name, b.name, _stage_deltas(a, b))
    tensors_a, tensors_b = a.state_dict(), b.state_dict()
    for key, tensor in tensors_b.items():
        if key not in tensors_a:
            result.added.append(key)
        elif tensors_a[key].shape == tensor.shape:
            result.unchanged.append(key)
        else:
            result.reshaped.append((key, tensors_a[key].shape, tensor.shape))
    result.removed = [key for key in tensors_a if key not in tensors_b]
    return result
