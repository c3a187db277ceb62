"""Receptive field and effective stride of every feature map.

rf_out = rf_in + (k - 1) * dilation * stride_in; stride_out = stride_in * stride, for the window
each op states (Op.window; 1x1 for pointwise ops). A merge (add, concat, gate) takes the largest
field among its spatial inputs; global pools and what is computed from them (SE / SK / split
gates) have a global field and are left out of merges, as is usual.
"""

from __future__ import annotations

from archspec.ir.graph import ArchGraph
from archspec.ir.ops import Op

Field = tuple[int, int] | None  # (receptive field px, effective stride); None = global


def _field(op: Op, inputs: list[Field]) -> Field:
    if not inputs:
        return (1, 1)  # the input image: each pixel sees itself
    window = op.window()
    spatial = [f for f in inputs if f is not None]
    if window.whole or not spatial:
        return None
    rf, stride = max(spatial)
    return (rf + (window.kernel - 1) * window.dilation * stride, stride * window.stride)


def receptive_field(arch: ArchGraph) -> None:
    graph = arch.graph
    for _, data in arch.nodes():
        inputs = [graph.nodes[source]["field"] for source in data["inputs"]]
        if len(data["shape"]) != 3:
            data["field"] = None
            continue
        data["field"] = _field(data["op"], inputs)
