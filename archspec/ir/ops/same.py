"""Convolution with TensorFlow's "same" padding (timm's Conv2dSame, in its `tf_*` ports of
Google's EfficientNets and MobileNets): the output is ceil(size / stride) and the padding,
set by the input's size, splits odd totals with the extra row and column after (bottom,
right). Where the padding cannot depend on the size (stride 1, an odd window), it is the
ordinary static padding, as timm builds a plain Conv2d there.

Measured on timm's Conv2dSame (fvcore 0.1.5, ptflops 0.7.5, FlopCounterMode): fvcore and
FlopCounterMode count the conv (aten::convolution; the pad is not counted); ptflops counts
nothing, on or off count_functional, since it hooks modules by exact type and Conv2dSame is a
subclass. The generated class is the same kind of subclass, so the figures hold for it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from archspec.ir.code import Call
from archspec.ir.ops.base import Costs, Shape, ShapeError, Site, Window
from archspec.ir.ops.layers import Conv2d

CONV2D_SAME = '''class Conv2dSame(nn.Conv2d):
    """A conv with TensorFlow's "same" padding, set by the input's size (timm's Conv2dSame):
    the output is ceil(size / stride); a static padding where the size cannot matter."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        window = dilation * (kernel_size - 1)
        static = stride == 1 and window % 2 == 0
        padding = window // 2 if static else 0
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias
        )
        self.static = static

    def forward(self, x: Tensor) -> Tensor:
        if not self.static:
            x = nn.functional.pad(x, self._same(x.shape[-1], 1) + self._same(x.shape[-2], 0))
        return super().forward(x)

    def _same(self, size: int, dim: int) -> tuple[int, int]:
        stride, dilation = self.stride[dim], self.dilation[dim]
        window = dilation * (self.kernel_size[dim] - 1) + 1
        total = max((-(-size // stride) - 1) * stride + window - size, 0)
        return total // 2, total - total // 2'''


@dataclass(frozen=True)
class SameConv2d(Conv2d):
    """A Conv2d with "same" padding (`padding` is unused: the input's size sets it)."""

    kind: ClassVar[str] = "conv_same"
    category: ClassVar[str] = "conv"
    helper: ClassVar[str] = CONV2D_SAME

    @property
    def static(self) -> bool:
        return self.stride == 1 and (self.dilation * (self.kernel_size - 1)) % 2 == 0

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        if c != self.in_channels:
            raise ShapeError(f"expects {self.in_channels} channels, got {c}")
        return (self.out_channels, -(-h // self.stride), -(-w // self.stride))

    def module_call(self) -> Call:
        optional = (
            ("stride", self.stride, 1),
            ("dilation", self.dilation, 1),
            ("groups", self.groups, 1),
            ("bias", self.bias, False),
        )
        kwargs: tuple[tuple[str, Any], ...] = (
            ("kernel_size", self.kernel_size),
            *((key, value) for key, value, default in optional if value != default),
        )
        return Call("Conv2dSame", (self.in_channels, self.out_channels), kwargs)

    # Counting: the conv's multiply-accumulates (the padding adds none), as Conv2d's, except
    # that ptflops does not see it.
    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return Conv2d.macs(self, inputs, output)

    def fvcore(self, site: Site) -> Costs:
        return Conv2d.fvcore(self, site)

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return []

    def pycls(self, site: Site) -> Costs:
        return Conv2d.pycls(self, site)

    def pycls_acts(self, site: Site) -> int:
        return site.out_numel

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        # The receptive field is the conv's; the padding moves no window off its pixel grid.
        return Window(self.kernel_size, self.stride, self.dilation)

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        # A padded conv keeps the padded copy, not its input (saved_private_elements).
        return inputs[:1] if self.static else []

    def saved_private_elements(self, output: Shape) -> int:
        """The padded input a dynamic conv keeps for its backward: (out - 1) x stride + the
        window on each axis (its input is never larger where the window covers the stride)."""
        if self.static:
            return 0
        window = self.dilation * (self.kernel_size - 1) + 1
        padded = [(size - 1) * self.stride + window for size in output[1:]]
        return self.in_channels * math.prod(padded)

    def describe(self) -> str:
        return super().describe().replace("conv ", "conv same ", 1)
