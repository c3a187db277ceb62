"""DenseNet (Huang et al. 2017), torchvision names: everything before the head lives in
`features` (conv0, norm0, relu0, pool0, denseblockN.denselayerM, transitionN, norm5), then ReLU,
global average pool and `classifier`.

Dense layer j of a block with input C reads C + j * growth_rate channels (the concatenation of
the block input and every earlier layer's output, in that order): BN-ReLU-1x1 conv to
bn_size * growth_rate, BN-ReLU-3x3 conv to growth_rate. A transition after every block but the
last: BN-ReLU-1x1 conv to floor(C * compression), 2x2 average pool.
"""

from __future__ import annotations

import math

from archspec.ir.graph import ArchGraph, BlockClass, Builder, Call, Scope, Seq
from archspec.ir.ops import (
    AvgPool2d,
    BatchNorm2d,
    Concat,
    Conv2d,
    MaxPool2d,
    Op,
    ReLU,
)
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.errors import LowerError
from archspec.lower.head import lower_head
from archspec.lower.stem import has_pool
from archspec.spec.models import Spec

DENSE_LAYER = BlockClass(
    "dense_layer",
    "DenseLayer",
    (),
    None,
    "BN-ReLU-1x1 conv (bottleneck), BN-ReLU-3x3 conv to growth_rate channels.",
)
DENSE_BLOCK = BlockClass(
    "dense_block",
    "DenseBlock",
    (),
    None,
    "Dense layers, each fed the concatenation of the block input and all earlier outputs.",
    (DENSE_LAYER,),
)

_NOT_DENSE = ("groups", "base_width", "expansion", "downsample", "attention", "width")


def lower_dense_stem(
    b: Builder, spec: Spec, x: str
) -> tuple[StageOutput, list[tuple[str, object]]]:
    stem, c_in = spec.stem, spec.input[0]
    if spec.conv_bias or spec.zero_init_residual:
        field = "conv_bias" if spec.conv_bias else "zero_init_residual"
        raise LowerError((field,), f"`{field}` does not apply to DenseNet", f"remove `{field}`")
    if stem.type == "deep":
        raise LowerError(
            ("stem", "type"),
            "DenseNet stems are conv7x7 or conv3x3",
            "use stem type conv7x7 (ImageNet) or conv3x3 (CIFAR)",
        )
    conv = (
        Conv2d(c_in, stem.width, 7, 2, 3)
        if stem.type == "conv7x7"
        else Conv2d(c_in, stem.width, 3, 1, 1)
    )
    children: list[tuple[str, Op]] = [("conv0", conv)]
    if stem.norm:
        children += [("norm0", BatchNorm2d(stem.width)), ("relu0", ReLU())]
    if has_pool(spec):
        children.append(("pool0", MaxPool2d(3, 2, 1)))
    x = b.chain([(f"features.{n}", op) for n, op in children], x, Scope("", "stem"))
    return StageOutput(x, stem.width), list(children)


def lower_dense_stage(st: StageInput) -> tuple[StageOutput, list[tuple[str, object]]]:
    row = st.row
    _check_fields(st)
    growth, bn_size = row.growth_rate or 32, row.bn_size or 4
    number = st.index + 1
    scope = Scope(f"features.denseblock{number}", st.key)
    x, channels = st.x, st.channels
    for j in range(row.depth):
        layer = scope.child(f"denselayer{j + 1}", block=True)
        y = st.builder.chain(_layer_ops(channels, growth, bn_size), x, layer)
        x = st.builder.add(Concat(), [x, y], layer, "cat", module=False)
        channels += growth
    block = Call(DENSE_BLOCK, (st.channels, row.depth, growth, bn_size * growth))
    children: list[tuple[str, object]] = [(f"denseblock{number}", block)]
    if not st.last:
        x, channels, transition = _transition(st, x, channels)
        children.append((f"transition{number}", transition))
    else:
        norm = BatchNorm2d(channels)
        x = st.builder.add(norm, [x], Scope("features", st.key), "norm5")
        children.append(("norm5", norm))
    return StageOutput(x, channels), children


def _check_fields(st: StageInput) -> None:
    given = st.row.model_fields_set
    for name in _NOT_DENSE:
        if name in given:
            raise LowerError(
                (*st.loc, name),
                f"`{name}` does not apply to dense stages",
                "remove it; dense stages take depth, growth_rate, bn_size, compression and stride",
            )
    if st.row.stride not in (None, 2) or st.row.dilation != 1:
        field = "stride" if st.row.stride not in (None, 2) else "dilation"
        raise LowerError(
            (*st.loc, field),
            "dense stages downsample in their transition (a 2x2 average pool)",
            f"remove `{field}`",
        )


def _layer_ops(channels: int, growth: int, bn_size: int) -> list[tuple[str, Op]]:
    inner = bn_size * growth
    return [
        ("norm1", BatchNorm2d(channels)),
        ("relu1", ReLU()),
        ("conv1", Conv2d(channels, inner, 1)),
        ("norm2", BatchNorm2d(inner)),
        ("relu2", ReLU()),
        ("conv2", Conv2d(inner, growth, 3, 1, 1)),
    ]


def _transition(st: StageInput, x: str, channels: int) -> tuple[str, int, Seq]:
    compression = st.row.compression if st.row.compression is not None else 0.5
    out = math.floor(channels * compression)
    if out < 1:
        raise LowerError(
            (*st.loc, "compression"),
            f"compresses {channels} channels to 0",
            "raise compression (0 < compression <= 1)",
        )
    ops: list[tuple[str, Op]] = [
        ("norm", BatchNorm2d(channels)),
        ("relu", ReLU()),
        ("conv", Conv2d(channels, out, 1)),
        ("pool", AvgPool2d(2, 2)),
    ]
    scope = Scope(
        f"features.transition{st.index + 1}", st.key, f"features.transition{st.index + 1}"
    )
    return st.builder.chain(ops, x, scope), out, Seq.named(*ops)


def lower_dense_tail(arch: ArchGraph, b: Builder, spec: Spec, current: StageOutput) -> str:
    """ReLU, global average pool, flatten, classifier (torchvision DenseNet.forward)."""
    if spec.head is None:
        return current.x
    return lower_head(arch, b, spec.head, current, fc="classifier", relu_first=True)
