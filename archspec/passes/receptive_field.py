"""Receptive field and effective stride of every feature map.

rf_out = rf_in + (k - 1) * dilation * stride_in; stride_out = stride_in * stride. A merge (add,
concat, gate) takes the largest field among its spatial inputs; global pools and what is computed
from them (SE / SK / split gates) have a global field and are left out of merges, as is usual.
"""

from __future__ import annotations

from archspec.ir.graph import ArchGraph
from archspec.ir.ops import AvgPool2d, Conv2d, GlobalAvgPool, Input, MaxPool2d, Op

Field = tuple[int, int] | None  # (receptive field px, effective stride); None = global


def _window(op: Op) -> tuple[int, int, int] | None:
    """(kernel, stride, dilation) of a sliding-window op."""
    if isinstance(op, Conv2d):
        return op.kernel_size, op.stride, op.dilation
    if isinstance(op, (MaxPool2d, AvgPool2d)):
        return op.kernel_size, op.stride, 1
    return None


def _field(op: Op, inputs: list[Field]) -> Field:
    if isinstance(op, Input):
        return (1, 1)
    if isinstance(op, GlobalAvgPool):
        return None
    spatial = [f for f in inputs if f is not None]
    if not spatial:
        return None
    rf, stride = max(spatial)
    window = _window(op)
    if window is None:
        return (rf, stride)
    kernel, step, dilation = window
    return (rf + (kernel - 1) * dilation * stride, stride * step)


def receptive_field(arch: ArchGraph) -> None:
    graph = arch.graph
    for _, data in arch.nodes():
        inputs = [graph.nodes[source]["field"] for source in data["inputs"]]
        if len(data["shape"]) != 3:
            data["field"] = None
            continue
        data["field"] = _field(data["op"], inputs)
