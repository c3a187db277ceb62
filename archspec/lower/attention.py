"""Attention add-ons that sit inside a block: squeeze-excitation (timm `SEModule`)."""

from __future__ import annotations

from archspec.ir.graph import BlockClass, Builder, Call, Scope
from archspec.ir.ops import Conv2d, GlobalAvgPool, Mul, ReLU, Sigmoid
from archspec.spec.models import SqueezeExcite

SE_CLASS = BlockClass(
    "squeeze_excite",
    "SqueezeExcite",
    doc=("Squeeze-and-excitation: global average, 1x1 reduce, ReLU, 1x1 expand, sigmoid gate."),
)


def make_divisible(channels: int, reduction: int, divisor: int) -> int:
    """timm `make_divisible(channels / reduction, divisor, round_limit=0.)`; divisor 1 floors.

    Integer arithmetic: int(c / r + d / 2) == (2c + d r) // 2r for positive integers.
    """
    if divisor == 1:
        return max(1, channels // reduction)
    rounded = (2 * channels + divisor * reduction) // (2 * reduction) // divisor * divisor
    return max(divisor, rounded)


def squeeze_excite(
    b: Builder, scope: Scope, x: str, channels: int, se: SqueezeExcite
) -> tuple[str, Call]:
    reduced = make_divisible(channels, se.reduction, se.divisor)
    gate = b.add(GlobalAvgPool(), [x], scope, "mean", module=False)
    gate = b.chain(
        [
            ("fc1", Conv2d(channels, reduced, 1, bias=True)),
            ("act", ReLU()),
            ("fc2", Conv2d(reduced, channels, 1, bias=True)),
            ("gate", Sigmoid()),
        ],
        gate,
        scope,
    )
    y = b.add(Mul(), [x, gate], scope, "mul", module=False)
    return y, Call(SE_CLASS, (channels, reduced))
