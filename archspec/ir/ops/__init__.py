"""Typed operations: the nodes of an ArchGraph, each carrying all per-op knowledge.

base.py holds the contract every op fulfils (see its docstring); the ops are grouped by what
they do. `from archspec.ir.ops import Conv2d, ...` is the import to use.
"""

from archspec.ir.ops.activations import (
    GELU,
    GroupSoftmax,
    Hardsigmoid,
    Hardswish,
    LeakyReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
)
from archspec.ir.ops.base import (
    POINTWISE,
    Costs,
    Op,
    Shape,
    ShapeError,
    Site,
    TensorInfo,
    Uncounted,
    Window,
)
from archspec.ir.ops.channels import LayerNorm, LayerNorm2d, LayerScale, Permute
from archspec.ir.ops.layers import BatchNorm2d, ChannelConv1d, Conv2d, Linear
from archspec.ir.ops.merges import Add, Concat, GroupSum, GroupWeightedSum, Mul
from archspec.ir.ops.norms import FrozenBatchNorm2d, GroupNorm
from archspec.ir.ops.pooling import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool2d,
    ZeroPad2d,
)
from archspec.ir.ops.same import SameConv2d
from archspec.ir.ops.shortcuts import ZeroPadShortcut
from archspec.ir.ops.views import ChannelChunk, Dropout, Flatten, Identity, Input, StochasticDepth


def helper_sources() -> dict[str, str]:
    """Every class a generated file may define for an op, by name (Op.helper)."""
    found: dict[str, str] = {}
    pending: list[type[Op]] = list(Op.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.helper:
            found[cls.helper.split("(", 1)[0].removeprefix("class ")] = cls.helper
    return found


__all__ = [
    "GELU",
    "POINTWISE",
    "AdaptiveAvgPool2d",
    "Add",
    "AvgPool2d",
    "BatchNorm2d",
    "ChannelChunk",
    "ChannelConv1d",
    "Concat",
    "Conv2d",
    "Costs",
    "Dropout",
    "Flatten",
    "FrozenBatchNorm2d",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "GroupNorm",
    "GroupSoftmax",
    "GroupSum",
    "GroupWeightedSum",
    "Hardsigmoid",
    "Hardswish",
    "Identity",
    "Input",
    "LayerNorm",
    "LayerNorm2d",
    "LayerScale",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Mul",
    "Op",
    "Permute",
    "ReLU",
    "ReLU6",
    "SameConv2d",
    "Shape",
    "ShapeError",
    "SiLU",
    "Sigmoid",
    "Site",
    "StochasticDepth",
    "TensorInfo",
    "Uncounted",
    "Window",
    "ZeroPad2d",
    "ZeroPadShortcut",
]
