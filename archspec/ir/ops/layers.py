"""Layers with weights: convolution, batch norm, linear."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from archspec.ir.code import Call
from archspec.ir.ops.base import (
    POINTWISE,
    Costs,
    Op,
    Shape,
    ShapeError,
    Site,
    TensorInfo,
    Window,
    sliding_size,
)


@dataclass(frozen=True)
class Conv2d(Op):
    """nn.Conv2d. Every tool counts its MACs; ptflops adds one bias add per output element,
    pycls one per output channel; fvcore and FlopCounterMode leave bias out."""

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
        return (self.out_channels, sliding_size(h, *args), sliding_size(w, *args))

    def tensors(self) -> list[TensorInfo]:
        k = self.kernel_size
        weight = (self.out_channels, self.in_channels // self.groups, k, k)
        out = [TensorInfo("weight", weight, True)]
        if self.bias:
            out.append(TensorInfo("bias", (self.out_channels,), True))
        return out

    def module_call(self) -> Call:
        optional = (
            ("stride", self.stride, 1),
            ("padding", self.padding, 0),
            ("dilation", self.dilation, 1),
            ("groups", self.groups, 1),
            ("bias", self.bias, True),
        )
        kwargs: tuple[tuple[str, Any], ...] = (
            ("kernel_size", self.kernel_size),
            *((key, value) for key, value, default in optional if value != default),
        )
        return Call("nn.Conv2d", (self.in_channels, self.out_channels), kwargs)

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        per_output = (self.in_channels // self.groups) * self.kernel_size**2
        return math.prod(output) * per_output

    def _macs(self, site: Site) -> int:
        return self.macs(site.inputs, site.output)

    def fvcore(self, site: Site) -> Costs:
        return [("conv", self._macs(site))]

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("conv", self._macs(site)), ("bias", site.out_numel if self.bias else 0)]

    def pycls(self, site: Site) -> Costs:
        return [("conv", self._macs(site)), ("bias", self.out_channels if self.bias else 0)]

    def pycls_acts(self, site: Site) -> int:
        return site.out_numel

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return Window(self.kernel_size, self.stride, self.dilation)

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
    """nn.BatchNorm2d (affine, running stats). fvcore and ptflops count 2 per input element
    (scale and shift, eval mode); pycls and FlopCounterMode count nothing."""

    kind: ClassVar[str] = "bn"
    category: ClassVar[str] = "norm"
    num_features: int
    # torch's defaults; MobileNetV3 and EfficientNet use eps 0.001 (it changes the outputs).
    eps: float = 1e-5
    momentum: float = 0.1

    def tensors(self) -> list[TensorInfo]:
        c = (self.num_features,)
        return [
            TensorInfo("weight", c, True),
            TensorInfo("bias", c, True),
            TensorInfo("running_mean", c, False),
            TensorInfo("running_var", c, False),
            TensorInfo("num_batches_tracked", (), False),
        ]

    def module_call(self) -> Call:
        kwargs = [("eps", self.eps)] if self.eps != 1e-5 else []
        kwargs += [("momentum", self.momentum)] if self.momentum != 0.1 else []
        return Call("nn.BatchNorm2d", (self.num_features,), tuple(kwargs))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return [("norm", 2 * site.in_numel)]

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("norm", 2 * site.in_numel)]

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return POINTWISE

    def describe(self) -> str:
        return f"batchnorm {self.num_features}"


@dataclass(frozen=True)
class Linear(Op):
    """nn.Linear, on (F,) features or over the last dim of a channels-last (H, W, C) map
    (ConvNeXt's MLP; F.linear on a 4-D tensor). Counted as Conv2d is, per position: ptflops
    adds a bias add per output element, pycls one per output feature and position."""

    kind: ClassVar[str] = "linear"
    category: ClassVar[str] = "linear"
    in_features: int
    out_features: int
    bias: bool = True

    def infer(self, inputs: list[Shape]) -> Shape:
        *positions, features = inputs[0]
        if features != self.in_features or len(positions) not in (0, 2):
            raise ShapeError(f"expects {self.in_features} features, got {inputs[0]}")
        return (*positions, self.out_features)

    def tensors(self) -> list[TensorInfo]:
        out = [TensorInfo("weight", (self.out_features, self.in_features), True)]
        if self.bias:
            out.append(TensorInfo("bias", (self.out_features,), True))
        return out

    def module_call(self) -> Call:
        kwargs = () if self.bias else (("bias", False),)
        return Call("nn.Linear", (self.in_features, self.out_features), kwargs)

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return math.prod(output[:-1]) * self.in_features * self.out_features

    def fvcore(self, site: Site) -> Costs:
        return [("linear", self.macs(site.inputs, site.output))]

    def ptflops(self, site: Site, functional: bool) -> Costs:
        macs = self.macs(site.inputs, site.output)
        return [("linear", macs), ("bias", site.out_numel if self.bias else 0)]

    def pycls(self, site: Site) -> Costs:
        macs = self.macs(site.inputs, site.output)
        return [("linear", macs), ("bias", site.out_numel if self.bias else 0)]

    def pycls_acts(self, site: Site) -> int:
        return site.out_numel

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return POINTWISE

    def describe(self) -> str:
        return f"linear {self.in_features}->{self.out_features}"


@dataclass(frozen=True)
class ChannelConv1d(Op):
    """A 1-D convolution across the channels of a pooled (C, 1, 1) map (ECA, Wang et al. 2020):
    nn.Conv1d(1, 1, k) over the channel vector viewed as a length-C sequence. Every tool counts
    C * k MACs (the conv's out elements x kernel), fvcore and FlopCounterMode without the bias,
    ptflops with one bias add per output element; pycls counts it as its conv1d rule would."""

    kind: ClassVar[str] = "conv1d"
    category: ClassVar[str] = "conv"
    forward_receiver: ClassVar[bool] = True
    kernel_size: int
    padding: int = 0
    bias: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        c, *spatial = inputs[0]
        if any(size != 1 for size in spatial):
            raise ShapeError(f"expects a pooled (C, 1, 1) map, got {inputs[0]}")
        return (sliding_size(c, self.kernel_size, 1, self.padding), 1, 1)

    def tensors(self) -> list[TensorInfo]:
        out = [TensorInfo("weight", (1, 1, self.kernel_size), True)]
        if self.bias:
            out.append(TensorInfo("bias", (1,), True))
        return out

    def module_call(self) -> Call:
        kwargs: list[tuple[str, Any]] = [("kernel_size", self.kernel_size)]
        if self.padding:
            kwargs.append(("padding", self.padding))
        if not self.bias:
            kwargs.append(("bias", False))
        return Call("nn.Conv1d", (1, 1), tuple(kwargs))

    def forward_call(self, attr: str, arg: str) -> str:
        # The conv runs over the channel vector as a sequence of length C, (N, 1, C), then back
        # to a (N, C, 1, 1) map; `arg` is written once, so an expression is evaluated once.
        return f"self.{attr}({arg}.flatten(1).unsqueeze(1)).transpose(1, 2).unsqueeze(-1)"

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return math.prod(output) * self.kernel_size

    def fvcore(self, site: Site) -> Costs:
        return [("conv", self.macs(site.inputs, site.output))]

    def ptflops(self, site: Site, functional: bool) -> Costs:
        macs = self.macs(site.inputs, site.output)
        return [("conv", macs), ("bias", site.out_numel if self.bias else 0)]

    def pycls(self, site: Site) -> Costs:
        macs = self.macs(site.inputs, site.output)
        return [("conv", macs), ("bias", 1 if self.bias else 0)]

    def pycls_acts(self, site: Site) -> int:
        return site.out_numel

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        # Spatially pointwise: it mixes channels of a 1x1 map.
        return POINTWISE

    def describe(self) -> str:
        return f"conv1d k{self.kernel_size} across channels"
