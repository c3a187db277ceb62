"""Shortcuts without parameters: option A of He et al. 2015 (Sec. 3.3, 4.2), the CIFAR ResNets'
identity shortcut that subsamples by the block's stride and zero-pads the new channels.

torch has no module for it, so the generated file defines one (`ZeroPadShortcut`, registered in
the helper classes the emitter copies into files that use them). It computes what
akamaster/pytorch_resnet_cifar10's LambdaLayer does, `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0,
planes // 4, planes // 4))`, for any stride and channel count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from archspec.ir.code import Call
from archspec.ir.ops.base import Shape, ShapeError, Uncounted, Window

SOURCE = '''class ZeroPadShortcut(nn.Module):
    """Option-A shortcut (He et al. 2015): the identity subsampled by `stride`, with zero
    channels added on both sides up to `out_channels`; no parameters."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.before = (out_channels - in_channels) // 2
        self.after = out_channels - in_channels - self.before

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, self.before, self.after))'''


@dataclass(frozen=True)
class ZeroPadShortcut(Uncounted):
    """x[:, :, ::stride, ::stride], then (out - in) // 2 zero channels before and the rest
    after. No tool counts it (measured on the reference's LambdaLayer and on this module):
    FlopCounterMode counts no slice or pad; fvcore skips aten::pad as unsupported and ignores
    the slice; ptflops hooks no such module and patches neither F.pad nor indexing, with
    count_functional on or off; pycls counts convs and linears.

    The slice is a view but the pad writes a new tensor, so the output never aliases the
    input; autograd keeps only the pad widths (ConstantPadNdBackward's `pad`), no tensor.
    """

    kind: ClassVar[str] = "pad_shortcut"
    helper: ClassVar[str] = SOURCE
    category: ClassVar[str] = "other"
    in_channels: int
    out_channels: int
    stride: int = 1

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        if c != self.in_channels:
            raise ShapeError(f"expects {self.in_channels} channels, got {c}")
        if self.out_channels < self.in_channels:
            raise ShapeError(
                f"zero-padding cannot narrow {self.in_channels} channels to {self.out_channels}"
            )
        s = self.stride
        return (self.out_channels, -(-h // s), -(-w // s))

    def module_call(self) -> Call:
        args: tuple[int, ...] = (self.in_channels, self.out_channels)
        return Call("ZeroPadShortcut", (*args, self.stride) if self.stride != 1 else args)

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        # Each output pixel is one input pixel, `stride` apart.
        return Window(1, self.stride)

    def describe(self) -> str:
        parts = [f"/{self.stride}"] if self.stride != 1 else []
        if self.out_channels != self.in_channels:
            parts.append(f"zero-pad {self.in_channels}->{self.out_channels}")
        return " ".join(["pad shortcut", ", ".join(parts)]).rstrip()
