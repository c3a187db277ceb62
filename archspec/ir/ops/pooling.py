"""Pooling: sliding max and average pools, the global and adaptive average pools, and the zero
padding of TF-'same' average pools.

ptflops hooks pooling modules, and with count_functional also patches F.*pool*, which those
modules call: one pool counts twice then. fvcore has a handle for adaptive_avg_pool2d only.
"""

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
    Site,
    Uncounted,
    Window,
    sliding_size,
)


@dataclass(frozen=True)
class _Pool(Op):
    """A k x k window pool. ptflops counts its input elements (twice with count_functional);
    fvcore has no max_pool2d / avg_pool2d handle; pycls counts no pool FLOPs. Autograd saves
    its input."""

    category: ClassVar[str] = "pool"
    torch_name: ClassVar[str]
    kernel_size: int
    stride: int
    padding: int = 0
    ceil_mode: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        args = (self.kernel_size, self.stride, self.padding, 1, self.ceil_mode)
        return (c, sliding_size(h, *args), sliding_size(w, *args))

    def _kwargs(self) -> list[tuple[str, Any]]:
        kwargs: list[tuple[str, Any]] = [("kernel_size", self.kernel_size), ("stride", self.stride)]
        if self.padding:
            kwargs.append(("padding", self.padding))
        if self.ceil_mode:
            kwargs.append(("ceil_mode", True))
        return kwargs

    def module_call(self) -> Call:
        return Call(self.torch_name, (), tuple(self._kwargs()))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return []

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("pool", (2 if functional else 1) * site.in_numel)]

    def pycls(self, site: Site) -> Costs:
        return []

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return Window(self.kernel_size, self.stride)

    def describe(self) -> str:
        return f"{self.kind} {self.kernel_size}x{self.kernel_size}, /{self.stride}"


@dataclass(frozen=True)
class MaxPool2d(_Pool):
    """nn.MaxPool2d. pycls counts its output elements as acts (pool2d_cx); autograd also
    keeps the int64 argmax indices, one per output element."""

    kind: ClassVar[str] = "maxpool"
    torch_name: ClassVar[str] = "nn.MaxPool2d"

    def pycls_acts(self, site: Site) -> int:
        return site.out_numel

    def saved_index_elements(self, output: Shape) -> int:
        return math.prod(output)

    def saved_private_elements(self, output: Shape) -> int:
        return 0


@dataclass(frozen=True)
class AvgPool2d(_Pool):
    """nn.AvgPool2d (the avg-down shortcut); pycls' models have none, so no acts."""

    kind: ClassVar[str] = "avgpool"
    torch_name: ClassVar[str] = "nn.AvgPool2d"
    count_include_pad: bool = True

    def _kwargs(self) -> list[tuple[str, Any]]:
        extra = [] if self.count_include_pad else [("count_include_pad", False)]
        return super()._kwargs() + extra

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0


@dataclass(frozen=True)
class GlobalAvgPool(Op):
    """nn.AdaptiveAvgPool2d(1), or with `functional` a `x.mean((2, 3), keepdim=True)`.

    Same result; counters that hook modules or trace aten ops see them differently: the module
    is counted as a pool (fvcore's adaptive_avg_pool2d handle and ptflops: its input
    elements), the mean by neither, and the mean's backward needs no saved tensor.
    """

    kind: ClassVar[str] = "global_avgpool"
    category: ClassVar[str] = "pool"
    functional: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        return (inputs[0][0], 1, 1)

    def module_call(self) -> Call | None:
        return None if self.functional else Call("nn.AdaptiveAvgPool2d", ((1, 1),))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return [] if self.functional else [("pool", site.in_numel)]

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [] if self.functional else [("pool", (2 if functional else 1) * site.in_numel)]

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return [] if self.functional else inputs[:1]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return Window(whole=True)

    def describe(self) -> str:
        return "global avgpool"


@dataclass(frozen=True)
class GlobalMaxPool(Op):
    """`x.amax((2, 3), keepdim=True)` in a generated forward (CBAM-style channel gates). No
    tool counts it (measured: fvcore has no handle for aten::amax, ptflops patches no amax,
    on or off count_functional; pycls and FlopCounterMode count nothing); its backward keeps
    the input and the maxima."""

    kind: ClassVar[str] = "global_maxpool"
    category: ClassVar[str] = "pool"

    def infer(self, inputs: list[Shape]) -> Shape:
        return (inputs[0][0], 1, 1)

    def module_call(self) -> None:
        return None

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return []

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return []

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return [*inputs[:1], node]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return Window(whole=True)

    def describe(self) -> str:
        return "global max"


@dataclass(frozen=True)
class AdaptiveAvgPool2d(Op):
    """nn.AdaptiveAvgPool2d((size, size)), or with `functional` the
    `nn.functional.adaptive_avg_pool2d(x, size)` of the generated forward (torchvision's
    MobileNetV2): any map to (C, size, size), as VGG's (7, 7) before its classifier (on the 7x7
    map of a 224 px input it changes no value, but torch still runs it and every counter still
    sees it).

    fvcore's aten::adaptive_avg_pool2d handle (flop_count.py: elementwise_flop_counter(1, 0))
    counts the input's elements either way. ptflops' module hook (pytorch_ops.py
    MODULES_MAPPING: pool_flops_counter_hook) counts them for the module, and with
    count_functional its patch of F.adaptive_avg_pool2d (FUNCTIONAL_MAPPING) once more, for the
    module's own call or the functional one. pycls and FlopCounterMode count nothing.

    Autograd saves the input, except at size 1: ATen computes a 1x1 adaptive average as a mean,
    whose backward needs only sizes.

    Window: an adaptive pool's windows depend on the input size, which `window` does not see
    (rows floor(i*H/s) to ceil((i+1)*H/s): 1x1 when H == s, H/s at stride H/s when s divides H,
    else uneven windows of up to ceil(H/s) + 1 at uneven strides). The rule is the bound that
    holds for every input: the whole map, as a global pool reads. In a classifier head, the only
    place torchvision uses it, the flatten and linear after it read the whole map anyway.
    """

    kind: ClassVar[str] = "adaptive_avgpool"
    category: ClassVar[str] = "pool"
    size: int
    functional: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        return (inputs[0][0], self.size, self.size)

    def module_call(self) -> Call | None:
        if self.functional:
            return None
        # As torchvision writes them: SE's global pool `(1)`, VGG's `((7, 7))`.
        size = self.size if self.size == 1 else (self.size, self.size)
        return Call("nn.AdaptiveAvgPool2d", (size,))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return [("pool", site.in_numel)]

    def ptflops(self, site: Site, functional: bool) -> Costs:
        hooks = (0 if self.functional else 1) + (1 if functional else 0)
        return [("pool", hooks * site.in_numel)]

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return [] if self.size == 1 else inputs[:1]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return Window(whole=True)

    def describe(self) -> str:
        return f"adaptive avgpool {self.size}x{self.size}"


@dataclass(frozen=True)
class ZeroPad2d(Uncounted):
    """Zeros added on the right and bottom (nn.ZeroPad2d((0, right, 0, bottom))). Followed by a
    stride-1 2x2 average pool it is timm's AvgPool2dSame (TF 'same' padding, the zeros counted),
    the pool of an avg-down shortcut in a dilated stage. Autograd saves nothing for it; it does
    not widen the receptive field (the zeros carry no input)."""

    kind: ClassVar[str] = "pad"
    category: ClassVar[str] = "other"
    right: int = 1
    bottom: int = 1

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        return (c, h + self.bottom, w + self.right)

    def module_call(self) -> Call:
        return Call("nn.ZeroPad2d", ((0, self.right, 0, self.bottom),))

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return POINTWISE

    def describe(self) -> str:
        return f"zero pad +{self.right}x{self.bottom}"
