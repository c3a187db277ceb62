"""ConvNeXt's ops: LayerNorm over channels (on NCHW maps and channels-last), the permutes
between the two layouts, and layer scale (a learned per-channel factor held as a bare
nn.Parameter on its block).

Channels-last tensors are (H, W, C) here (batch left out, as everywhere in the IR). The counts
each tool gives were measured on the generated modules (fvcore 0.1.5, ptflops 0.7.5,
FlopCounterMode): see each op. Two ops have no torch module, so the generated file defines
them (Op.helper): torchvision's LayerNorm2d and Permute, written with torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from archspec.ir.code import Call, Name
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

# The classes a generated file defines for these ops (Op.helper).
LAYER_NORM_2D = '''class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map, or of (N, C) features
    (torchvision's and timm's LayerNorm2d)."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.movedim(1, -1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.movedim(-1, 1)'''
PERMUTE = '''class Permute(nn.Module):
    """torch.permute as a module (torchvision.ops.misc.Permute)."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)'''


@dataclass(frozen=True)
class _LayerNorm(Op):
    """Base of the layer norms: weight and bias per channel; autograd saves the input and a
    mean and reciprocal std per normalised position (private). fvcore's aten::layer_norm
    handle counts 5 per input element (affine); FlopCounterMode and pycls count nothing."""

    category: ClassVar[str] = "norm"
    num_features: int
    eps: float = 1e-6

    def tensors(self) -> list[TensorInfo]:
        c = (self.num_features,)
        return [TensorInfo("weight", c, True), TensorInfo("bias", c, True)]

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return [("norm", 5 * site.in_numel)]

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 2 * math.prod(output) // self.num_features  # mean and rstd per position

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return POINTWISE


@dataclass(frozen=True)
class LayerNorm2d(_LayerNorm):
    """LayerNorm over the channels of a (C, H, W) map or a (C,) vector: torchvision's and
    timm's LayerNorm2d, an nn.LayerNorm subclass that permutes around F.layer_norm. ptflops
    hooks modules by exact type and patches no F.layer_norm, so it counts nothing here."""

    kind: ClassVar[str] = "layernorm2d"
    helper: ClassVar[str] = LAYER_NORM_2D

    def infer(self, inputs: list[Shape]) -> Shape:
        if inputs[0][0] != self.num_features:
            raise ShapeError(f"expects {self.num_features} channels, got {inputs[0][0]}")
        return inputs[0]

    def module_call(self) -> Call:
        return Call("LayerNorm2d", (self.num_features,), (("eps", self.eps),))

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return []

    def describe(self) -> str:
        return f"layernorm2d {self.num_features}"


@dataclass(frozen=True)
class LayerNorm(_LayerNorm):
    """nn.LayerNorm over the last dim of a channels-last (H, W, C) map (ConvNeXt's block).
    ptflops hooks nn.LayerNorm: one per input element, with count_functional or without."""

    kind: ClassVar[str] = "layernorm"

    def infer(self, inputs: list[Shape]) -> Shape:
        if inputs[0][-1] != self.num_features:
            raise ShapeError(f"expects {self.num_features} channels last, got {inputs[0]}")
        return inputs[0]

    def module_call(self) -> Call:
        return Call("nn.LayerNorm", (self.num_features,), (("eps", self.eps),))

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("norm", site.in_numel)]

    def describe(self) -> str:
        return f"layernorm {self.num_features}"


@dataclass(frozen=True)
class Permute(Uncounted):
    """Permute (torchvision.ops.misc.Permute, defined by the generated file) between NCHW and
    channels-last: a view, which no tool counts and autograd saves nothing for."""

    kind: ClassVar[str] = "permute"
    helper: ClassVar[str] = PERMUTE
    category: ClassVar[str] = "other"
    channels_last: bool = True

    @property
    def dims(self) -> list[int]:
        return [0, 2, 3, 1] if self.channels_last else [0, 3, 1, 2]

    def infer(self, inputs: list[Shape]) -> Shape:
        if len(inputs[0]) != 3:
            raise ShapeError(f"expects a map, got {inputs[0]}")
        return tuple(inputs[0][d - 1] for d in self.dims[1:])

    def module_call(self) -> Call:
        return Call("Permute", (Name(str(self.dims)),))

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return True

    def window(self) -> Window:
        return POINTWISE

    def describe(self) -> str:
        return "to channels last" if self.channels_last else "to channels first"


@dataclass(frozen=True)
class LayerScale(Uncounted):
    """Layer scale (Touvron et al. 2021): the map times a learned per-channel factor, a bare
    nn.Parameter on the block (its state_dict key is the member's own name). `spatial`: shaped
    (C, 1, 1) and written `self.layer_scale * x` (torchvision); else (C,) and reshaped in
    forward (timm's `gamma`). The product is no module and `*` is no function ptflops patches;
    no tool counts it. Autograd saves the map (the factor's gradient needs it)."""

    kind: ClassVar[str] = "layer_scale"
    category: ClassVar[str] = "mul"
    forward_receiver: ClassVar[bool] = True
    channels: int
    init: float = 1e-6
    spatial: bool = True

    def infer(self, inputs: list[Shape]) -> Shape:
        if inputs[0][0] != self.channels:
            raise ShapeError(f"expects {self.channels} channels, got {inputs[0][0]}")
        return inputs[0]

    def tensors(self) -> list[TensorInfo]:
        shape = (self.channels, 1, 1) if self.spatial else (self.channels,)
        return [TensorInfo("", shape, True)]

    def module_call(self) -> Call:
        ones = f"torch.ones({self.channels}{', 1, 1' if self.spatial else ''})"
        return Call("nn.Parameter", (Name(f"{ones} * {self.init!r}"),))

    def forward_call(self, attr: str, arg: str) -> str:
        if self.spatial:
            return f"self.{attr} * {arg}"
        return f"{arg} * self.{attr}.reshape(-1, 1, 1)"

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
        return f"layer scale {self.channels}"
