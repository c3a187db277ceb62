"""One piece of a network analysed alone: the stem, one block, or the tail.

A stage of depth d is its first block plus d - 1 copies of one repeated block, so a network is
a chain of segments in which only the tensor between two segments crosses the boundary. Each
distinct segment is lowered once, by the ordinary lowering (archspec.lower), from an Input node
of the shape that enters it, and analysed by the ordinary passes. A segment's figures compose:

- params, buffers, MACs, activations add up;
- the receptive field is affine in the field entering it: rf = rf_in + stride_in * (rf_seg - 1),
  stride = stride_in * stride_seg (the passes' max at merges keeps that order);
- the inference peak of the whole network is the largest segment peak, since at a boundary only
  the boundary tensor is alive and each segment's walk counts it;
- the tensors saved for backward are a union: each segment's own storages, plus the boundary
  tensor once when either side saves it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from archspec.ir.graph import ArchGraph, Builder, Scope
from archspec.ir.ops import Input, Shape
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.geometry import StageGeometry
from archspec.lower.model import Family
from archspec.memory import inference_peak, private_saved, saved_storages
from archspec.passes import run_passes
from archspec.spec.models import Spec, StageRow


@dataclass(frozen=True)
class Segment:
    """The figures of one analysed segment, all at batch 1."""

    in_shape: Shape
    params: int
    buffers: int
    macs: int
    acts: int
    out_shape: Shape
    # Receptive field and stride of the output when the input has field 1 at stride 1;
    # None when the output is global (after a global pool).
    rf: int | None
    stride: int
    peak: int
    saved: int  # elements of saved storages other than the input's
    saves_input: bool
    saves_output: bool
    pool_indices: int


def _new_graph(shape: Shape) -> tuple[ArchGraph, Builder, str]:
    arch = ArchGraph("segment", "Segment", "", "", shape)
    builder = Builder(arch)
    x = builder.add(Input(shape), [], Scope("", "input"), "input", module=False)
    return arch, builder, x


def stem_segment(family: Family, spec: Spec, memory: bool) -> Segment:
    arch, builder, x = _new_graph(tuple(spec.input))
    current, _ = family.stem(builder, spec, x)
    arch.output = current.x
    return _analyse(arch, x, memory)


def block_segment(
    family: Family,
    spec: Spec,
    row: StageRow,
    index: int,
    geometry: StageGeometry,
    shape: Shape,
    memory: bool,
) -> Segment:
    """One block: `row` at depth 1, entered by a tensor of `shape` (the stage's first block, or
    with geometry (1, d, d) and the stage's own output shape, each repeated block)."""
    arch, builder, x = _new_graph(shape)
    one = row.model_copy(update={"depth": 1})
    last = index == len(spec.stages) - 1
    st = StageInput(spec, one, index, builder, x, shape[0], last, geometry, family.layout)
    current, _ = family.stage(st)
    arch.output = current.x
    return _analyse(arch, x, memory)


def tail_segment(family: Family, spec: Spec, shape: Shape, memory: bool) -> Segment:
    arch, builder, x = _new_graph(shape)
    arch.output = family.tail(arch, builder, spec, StageOutput(x, shape[0]))
    return _analyse(arch, x, memory)


def _analyse(arch: ArchGraph, x: str, memory: bool) -> Segment:
    run_passes(arch)
    nodes: list[dict[str, Any]] = [data for _, data in arch.nodes()]
    out = arch.graph.nodes[arch.output]
    field = out.get("field")
    peak = saved = indices = 0
    saves_input = saves_output = False
    if memory:
        peak = inference_peak(arch, 1)
        storages, roots, indices = saved_storages(arch)
        saves_input = x in storages
        saves_output = roots[arch.output] in storages and roots[arch.output] != x
        saved = sum(math.prod(arch.graph.nodes[r]["shape"]) for r in storages if r != x)
        saved += private_saved(arch)
    return Segment(
        tuple(arch.input_shape),
        sum(data["params"] for data in nodes),
        sum(data["buffers"] for data in nodes),
        sum(data["macs"] for data in nodes),
        sum(data["acts"] for data in nodes),
        tuple(out["shape"]),
        field[0] if field else None,
        field[1] if field else 1,
        peak,
        saved,
        saves_input,
        saves_output,
        indices,
    )
