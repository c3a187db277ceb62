"""Typed operations: the nodes of an ArchGraph.

Each op knows its output shape (PyTorch's formulas, floor included), its tensors (state_dict
entries relative to its module path) and its multiply-accumulates. Shapes are (C, H, W) for
feature maps and (F,) after flattening; batch is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

Shape = tuple[int, ...]


@dataclass(frozen=True)
class TensorInfo:
    """One state_dict entry of an op: name relative to the op's module, shape, trainable?"""

    name: str
    shape: Shape
    trainable: bool

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


class ShapeError(ValueError):
    """An op cannot accept its input (e.g. a feature map smaller than the kernel)."""


def _window(
    size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
) -> int:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        raise ShapeError(f"input {size} px is smaller than the {kernel}x{kernel} window")
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    # PyTorch: the last window must start inside the input or left padding.
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


@dataclass(frozen=True)
class Op:
    kind: ClassVar[str] = "op"
    # The op kind that conventions and diagrams group by.
    category: ClassVar[str] = "other"

    def infer(self, inputs: list[Shape]) -> Shape:
        return inputs[0]

    def tensors(self) -> list[TensorInfo]:
        return []

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def describe(self) -> str:
        return self.kind


@dataclass(frozen=True)
class Input(Op):
    kind: ClassVar[str] = "input"
    shape: Shape = (3, 224, 224)

    def infer(self, inputs: list[Shape]) -> Shape:
        return self.shape


@dataclass(frozen=True)
class Conv2d(Op):
    kind: ClassVar[str] = "conv"
    category: ClassVar[str] = "conv"
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    bias: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        if c != self.in_channels:
            raise ShapeError(f"expects {self.in_channels} channels, got {c}")
        args = (self.kernel_size, self.stride, self.padding, self.dilation)
        return (self.out_channels, _window(h, *args), _window(w, *args))

    def tensors(self) -> list[TensorInfo]:
        k = self.kernel_size
        weight = (self.out_channels, self.in_channels // self.groups, k, k)
        out = [TensorInfo("weight", weight, True)]
        if self.bias:
            out.append(TensorInfo("bias", (self.out_channels,), True))
        return out

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        per_output = (self.in_channels // self.groups) * self.kernel_size**2
        return math.prod(output) * per_output

    def describe(self) -> str:
        text = f"conv {self.kernel_size}x{self.kernel_size}, {self.out_channels}"
        if self.stride != 1:
            text += f", /{self.stride}"
        if self.groups != 1:
            text += f", g{self.groups}"
        if self.dilation != 1:
            text += f", d{self.dilation}"
        return text


@dataclass(frozen=True)
class BatchNorm2d(Op):
    kind: ClassVar[str] = "bn"
    category: ClassVar[str] = "norm"
    num_features: int

    def tensors(self) -> list[TensorInfo]:
        c = (self.num_features,)
        return [
            TensorInfo("weight", c, True),
            TensorInfo("bias", c, True),
            TensorInfo("running_mean", c, False),
            TensorInfo("running_var", c, False),
            TensorInfo("num_batches_tracked", (), False),
        ]

    def describe(self) -> str:
        return f"batchnorm {self.num_features}"


@dataclass(frozen=True)
class ReLU(Op):
    kind: ClassVar[str] = "relu"
    category: ClassVar[str] = "activation"


@dataclass(frozen=True)
class Sigmoid(Op):
    kind: ClassVar[str] = "sigmoid"
    category: ClassVar[str] = "activation"


@dataclass(frozen=True)
class _Pool(Op):
    category: ClassVar[str] = "pool"
    kernel_size: int
    stride: int
    padding: int = 0
    ceil_mode: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        args = (self.kernel_size, self.stride, self.padding, 1, self.ceil_mode)
        return (c, _window(h, *args), _window(w, *args))

    def describe(self) -> str:
        return f"{self.kind} {self.kernel_size}x{self.kernel_size}, /{self.stride}"


@dataclass(frozen=True)
class MaxPool2d(_Pool):
    kind: ClassVar[str] = "maxpool"


@dataclass(frozen=True)
class AvgPool2d(_Pool):
    kind: ClassVar[str] = "avgpool"
    count_include_pad: bool = True


@dataclass(frozen=True)
class ZeroPad2d(Op):
    """Zeros added on the right and bottom (nn.ZeroPad2d((0, right, 0, bottom))). Followed by a
    stride-1 2x2 average pool it is timm's AvgPool2dSame (TF 'same' padding, the zeros counted),
    the pool of an avg-down shortcut in a dilated stage."""

    kind: ClassVar[str] = "pad"
    right: int = 1
    bottom: int = 1

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        return (c, h + self.bottom, w + self.right)

    def describe(self) -> str:
        return f"zero pad +{self.right}x{self.bottom}"


@dataclass(frozen=True)
class GlobalAvgPool(Op):
    """nn.AdaptiveAvgPool2d(1), or with `functional` a `x.mean((2, 3), keepdim=True)`.

    Same result; counters that hook modules or trace aten ops see them differently.
    """

    kind: ClassVar[str] = "global_avgpool"
    category: ClassVar[str] = "pool"
    functional: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        return (inputs[0][0], 1, 1)

    def describe(self) -> str:
        return "global avgpool"


@dataclass(frozen=True)
class Flatten(Op):
    kind: ClassVar[str] = "flatten"

    def infer(self, inputs: list[Shape]) -> Shape:
        return (math.prod(inputs[0]),)


@dataclass(frozen=True)
class Linear(Op):
    kind: ClassVar[str] = "linear"
    category: ClassVar[str] = "linear"
    in_features: int
    out_features: int
    bias: bool = True

    def infer(self, inputs: list[Shape]) -> Shape:
        if inputs[0] != (self.in_features,):
            raise ShapeError(f"expects {self.in_features} features, got {inputs[0]}")
        return (self.out_features,)

    def tensors(self) -> list[TensorInfo]:
        out = [TensorInfo("weight", (self.out_features, self.in_features), True)]
        if self.bias:
            out.append(TensorInfo("bias", (self.out_features,), True))
        return out

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return self.in_features * self.out_features

    def describe(self) -> str:
        return f"linear {self.in_features}->{self.out_features}"


@dataclass(frozen=True)
class Add(Op):
    """Elementwise sum of same-shaped inputs (the residual add); `inplace`: `out += identity`."""

    kind: ClassVar[str] = "add"
    category: ClassVar[str] = "add"
    inplace: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        if len(set(inputs)) != 1:
            raise ShapeError(f"cannot add tensors of shapes {inputs}")
        return inputs[0]


@dataclass(frozen=True)
class Mul(Op):
    """Elementwise product with broadcasting of (C, 1, 1) gates (SE, attention)."""

    kind: ClassVar[str] = "mul"
    category: ClassVar[str] = "mul"

    def infer(self, inputs: list[Shape]) -> Shape:
        return max(inputs, key=math.prod)


@dataclass(frozen=True)
class Concat(Op):
    """Channel concatenation (DenseNet)."""

    kind: ClassVar[str] = "concat"
    category: ClassVar[str] = "concat"

    def infer(self, inputs: list[Shape]) -> Shape:
        spatial = {shape[1:] for shape in inputs}
        if len(spatial) != 1:
            raise ShapeError(f"cannot concatenate feature maps of sizes {sorted(spatial)}")
        return (sum(shape[0] for shape in inputs), *inputs[0][1:])


@dataclass(frozen=True)
class GroupSoftmax(Op):
    """Softmax across `groups` channel groups (SK paths, ResNeSt radix); sigmoid if groups == 1."""

    kind: ClassVar[str] = "softmax"
    category: ClassVar[str] = "activation"
    groups: int = 2


@dataclass(frozen=True)
class GroupSum(Op):
    """Sum of `groups` equal channel groups: (G*C, H, W) -> (C, H, W)."""

    kind: ClassVar[str] = "group_sum"
    category: ClassVar[str] = "add"
    groups: int = 2

    def infer(self, inputs: list[Shape]) -> Shape:
        c, *rest = inputs[0]
        if c % self.groups:
            raise ShapeError(f"{c} channels do not split into {self.groups} groups")
        return (c // self.groups, *rest)


@dataclass(frozen=True)
class GroupWeightedSum(Op):
    """sum_g x_g * a_g for x (G*C, H, W) and attention a (G*C, 1, 1) -> (C, H, W)."""

    kind: ClassVar[str] = "weighted_sum"
    category: ClassVar[str] = "mul"
    groups: int = 2

    def infer(self, inputs: list[Shape]) -> Shape:
        return GroupSum(self.groups).infer(inputs[:1])


@dataclass(frozen=True)
class ChannelSlice(Op):
    """x[:, start:stop] (SK branches that each read a slice of the input)."""

    kind: ClassVar[str] = "slice"
    start: int = 0
    stop: int = 0

    def infer(self, inputs: list[Shape]) -> Shape:
        return (self.stop - self.start, *inputs[0][1:])


@dataclass(frozen=True)
class Identity(Op):
    kind: ClassVar[str] = "identity"
