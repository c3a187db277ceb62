"""Activations: ReLU and its variants, sigmoid and its hard form, SiLU, GELU, and the softmax
across attention splits.

Autograd saves the output of ReLU, sigmoid and softmax (the derivative is computed from it) and
the input of the others; each op says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from archspec.ir.code import Call
from archspec.ir.ops.base import POINTWISE, Costs, Op, Shape, ShapeError, Site, Uncounted, Window


@dataclass(frozen=True)
class _Activation(Op):
    """Base of activations: pointwise, and (unless an op says otherwise) autograd saves the
    output."""

    category: ClassVar[str] = "activation"

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return [node]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def window(self) -> Window:
        return POINTWISE


@dataclass(frozen=True)
class ReLU(_Activation):
    """nn.ReLU(inplace=True): it writes its input's storage. ptflops hooks it (one per output
    element) and, with count_functional, also the F.relu it calls: twice. fvcore, pycls and
    FlopCounterMode count nothing."""

    kind: ClassVar[str] = "relu"

    def module_call(self) -> Call:
        return Call("nn.ReLU", (), (("inplace", True),))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return []

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("activation", (2 if functional else 1) * site.out_numel)]

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def aliases_input(self) -> bool:
        return True

    def describe(self) -> str:
        return "ReLU"


@dataclass(frozen=True)
class Sigmoid(_Activation, Uncounted):
    """nn.Sigmoid (the SE gate). ptflops hooks no nn.Sigmoid and patches no sigmoid."""

    kind: ClassVar[str] = "sigmoid"

    def module_call(self) -> Call:
        return Call("nn.Sigmoid")

    def aliases_input(self) -> bool:
        return False

    def describe(self) -> str:
        return "sigmoid"


@dataclass(frozen=True)
class GroupSoftmax(_Activation, Uncounted):
    """Softmax across `groups` channel groups (SK paths, ResNeSt radix); sigmoid if groups == 1.

    The block template computes it (`torch.softmax`, not the F.softmax ptflops patches), so it
    is no nn module here.
    """

    kind: ClassVar[str] = "softmax"
    groups: int = 2
    # ResNeSt's radix softmax runs per cardinal group: channels are `cardinal` x `groups`.
    cardinal: int = 1

    def infer(self, inputs: list[Shape]) -> Shape:
        c = inputs[0][0]
        if c % (self.groups * self.cardinal):
            parts = f"{self.cardinal} x {self.groups}" if self.cardinal > 1 else self.groups
            raise ShapeError(f"{c} channels do not split into {parts} groups")
        return inputs[0]

    def module_call(self) -> None:
        return None

    def aliases_input(self) -> bool:
        return False

    def describe(self) -> str:
        return f"softmax over {self.groups} splits" if self.groups > 1 else "sigmoid"


@dataclass(frozen=True)
class ReLU6(_Activation):
    """nn.ReLU6(inplace=True), as torchvision's MobileNetV2 builds it: it writes its input's
    storage. ptflops hooks nn.ReLU6 (pytorch_ops.py MODULES_MAPPING: relu_flops_counter_hook,
    one per output element) but counts it once even with count_functional: the module is a
    Hardtanh and calls F.hardtanh, not the F.relu6 ptflops patches. fvcore has no handle for
    aten::hardtanh_; pycls and FlopCounterMode count nothing.

    Autograd keeps a clone of the input as it was before being overwritten: a storage of its
    own that the memory protocol cannot name, so the estimate counts the shared input/output
    storage in its place (one map short when the next layer saves that storage too)."""

    kind: ClassVar[str] = "relu6"

    def module_call(self) -> Call:
        return Call("nn.ReLU6", (), (("inplace", True),))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return []

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("activation", site.out_numel)]

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def saved_private_elements(self, output: Shape) -> int:
        # In place, autograd keeps a clone of the input (the op overwrites it).
        return math.prod(output)

    def aliases_input(self) -> bool:
        return True

    def describe(self) -> str:
        return "ReLU6"


@dataclass(frozen=True)
class SiLU(_Activation):
    """nn.SiLU(inplace=True) (swish), as torchvision's EfficientNet builds it. ptflops hooks no
    nn.SiLU, but with count_functional it patches the F.silu the module calls (pytorch_ops.py
    FUNCTIONAL_MAPPING[F.silu]: the input's elements): once then, never without. fvcore has no
    handle for aten::silu_; pycls (its EfficientNet's Swish) and FlopCounterMode count nothing.

    In place, autograd keeps a clone of the input (saved_private_elements), not the shared
    storage it overwrites: that is saved only where the next op keeps its input (a conv with
    TensorFlow's "same" padding keeps a padded copy instead)."""

    kind: ClassVar[str] = "silu"

    def module_call(self) -> Call:
        return Call("nn.SiLU", (), (("inplace", True),))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return []

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("activation", site.in_numel)] if functional else []

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def saved_private_elements(self, output: Shape) -> int:
        # In place, autograd keeps a clone of the input (the op overwrites it).
        return math.prod(output)

    def aliases_input(self) -> bool:
        return True

    def describe(self) -> str:
        return "SiLU"


@dataclass(frozen=True)
class Hardswish(_Activation, Uncounted):
    """nn.Hardswish(inplace=True): torchvision's MobileNetV3 builds every one in place (its
    Conv2dNormActivation passes inplace=True, and the head says so). ptflops hooks no
    nn.Hardswish and patches no F.hardswish; fvcore has no aten::hardswish_ handle.

    In place, autograd keeps a clone of the input, as for ReLU6 (the same shortfall)."""

    kind: ClassVar[str] = "hardswish"

    def module_call(self) -> Call:
        return Call("nn.Hardswish", (), (("inplace", True),))

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def saved_private_elements(self, output: Shape) -> int:
        # In place, autograd keeps a clone of the input (the op overwrites it).
        return math.prod(output)

    def aliases_input(self) -> bool:
        return True

    def describe(self) -> str:
        return "hardswish"


@dataclass(frozen=True)
class Hardsigmoid(_Activation, Uncounted):
    """nn.Hardsigmoid() (not in place): the gate of torchvision's MobileNetV3 SE
    (SqueezeExcitation(scale_activation=nn.Hardsigmoid) builds it without arguments). ptflops
    hooks no nn.Hardsigmoid and patches no F.hardsigmoid; fvcore has no handle. Autograd saves
    its input."""

    kind: ClassVar[str] = "hardsigmoid"

    def module_call(self) -> Call:
        return Call("nn.Hardsigmoid")

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def aliases_input(self) -> bool:
        return False

    def describe(self) -> str:
        return "hard sigmoid"


@dataclass(frozen=True)
class GELU(_Activation):
    """nn.GELU() (approximate='none'). ptflops hooks it (pytorch_ops.py: MODULES_MAPPING[nn.GELU]
    = relu_flops_counter_hook, one per output element) and, with count_functional, also the
    F.gelu it calls (FUNCTIONAL_MAPPING, one per input element): twice. fvcore has no
    aten::gelu handle; pycls and FlopCounterMode count nothing. Autograd saves its input."""

    kind: ClassVar[str] = "gelu"

    def module_call(self) -> Call:
        return Call("nn.GELU")

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return []

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("activation", site.out_numel + (site.in_numel if functional else 0))]

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def aliases_input(self) -> bool:
        return False

    def describe(self) -> str:
        return "GELU"


@dataclass(frozen=True)
class LeakyReLU(_Activation):
    """nn.LeakyReLU(negative_slope, inplace). ptflops hooks it (MODULES_MAPPING, one per output
    element) and counts it once either way: the module calls F.leaky_relu, which ptflops does
    not patch. fvcore has no aten::leaky_relu handle; pycls and FlopCounterMode count nothing.
    Autograd saves the input, or in place the result (one storage with the input)."""

    kind: ClassVar[str] = "leaky_relu"
    negative_slope: float = 0.01
    inplace: bool = False

    def module_call(self) -> Call:
        kwargs: list[tuple[str, Any]] = []
        if self.negative_slope != 0.01:
            kwargs.append(("negative_slope", self.negative_slope))
        if self.inplace:
            kwargs.append(("inplace", True))
        return Call("nn.LeakyReLU", (), tuple(kwargs))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return []

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("activation", site.out_numel)]

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return [node] if self.inplace else inputs[:1]

    def aliases_input(self) -> bool:
        return self.inplace

    def describe(self) -> str:
        return f"leaky ReLU {self.negative_slope:g}"
