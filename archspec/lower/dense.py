"""DenseNet (Huang et al. 2017). torchvision's names (archspec/stdlib/layouts/
torchvision_densenet.yaml): everything before the head lives in `features` (conv0, norm0, relu0,
pool0, denseblockN.denselayerM, transitionN, norm5), then ReLU, global average pool, `classifier`.

Dense layer j of a block with input C reads C + j * growth_rate channels (the concatenation of
the block input and every earlier layer's output, in that order): BN-ReLU-1x1 conv to
bn_size * growth_rate, BN-ReLU-3x3 conv to growth_rate. A transition after every block but the
last: BN-ReLU-1x1 conv to floor(C * compression), 2x2 average pool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archspec.ir.graph import BlockClass, Call, Scope, Seq
from archspec.ir.ops import AvgPool2d, BatchNorm2d, Concat, Conv2d, Op, ReLU
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.errors import LowerError
from archspec.spec.layout import render

DENSE_LAYER = BlockClass(
    "dense_layer",
    "DenseLayer",
    (),
    None,
    "BN-ReLU-1x1 conv (bottleneck), BN-ReLU-3x3 conv to growth_rate channels.",
)


def _dense_block(layer: str) -> BlockClass:
    """The block class; it names its layers `<prefix><number>` as the layout's `denselayer{m}`."""
    return BlockClass(
        "dense_block",
        "DenseBlock",
        (("layer_prefix", layer.removesuffix("{m}")),),
        None,
        "Dense layers, each fed the concatenation of the block input and all earlier outputs.",
        (DENSE_LAYER,),
    )


def lower_dense_stage(st: StageInput) -> tuple[StageOutput, list[tuple[str, object]]]:
    row = st.row
    growth, bn_size = row.growth_rate or 32, row.bn_size or 4
    names = _dense_names(st)
    module = st.path(names.path)
    scope = Scope(module, st.key)
    x, channels = st.x, st.channels
    for j in range(row.depth):
        layer = scope.child(render(names.layer, m=j + 1, j=j), block=True)
        y = st.builder.chain(_layer_ops(channels, growth, bn_size), x, layer)
        x = st.builder.add(Concat(), [x, y], layer, "cat", module=False)
        channels += growth
    block = Call(_dense_block(names.layer), (st.channels, row.depth, growth, bn_size * growth))
    children: list[tuple[str, object]] = [(module, block)]
    if not st.last:
        path = st.path(names.transition)
        x, channels, transition = _transition(st, x, channels, path)
        children.append((path, transition))
    else:
        norm = BatchNorm2d(channels)
        path = names.final_norm
        x = st.builder.add(norm, [x], Scope("", st.key), path)
        children.append((path, norm))
    return StageOutput(x, channels), children


@dataclass(frozen=True)
class _DenseNames:
    path: str
    layer: str
    transition: str
    final_norm: str


def _dense_names(st: StageInput) -> _DenseNames:
    names = st.layout.stages
    if names.layer is None or names.transition is None or names.final_norm is None:
        raise LowerError(
            (*st.loc, "block"),
            f"layout {st.layout.name!r} does not name dense layers, transitions and final norm",
            "use a layout with stages.layer, stages.transition and stages.final_norm, "
            "e.g. torchvision_densenet",
        )
    return _DenseNames(names.path, names.layer, names.transition, names.final_norm)


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


def _transition(st: StageInput, x: str, channels: int, path: str) -> tuple[str, int, Seq]:
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
    scope = Scope(path, st.key, path)
    return st.builder.chain(ops, x, scope), out, Seq.named(*ops)
