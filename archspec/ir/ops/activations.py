"""Activations: ReLU, sigmoid, and the softmax across attention splits.

Autograd saves each one's output (the derivative is computed from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from archspec.ir.code import Call
from archspec.ir.ops.base import POINTWISE, Costs, Op, Shape, Site, Uncounted, Window


@dataclass(frozen=True)
class _Activation(Op):
    """Base of activations: pointwise, and autograd saves the output."""

    category: ClassVar[str] = "activation"

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return [node]

    def saved_index_elements(self, output: Shape) -> int:
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

    def module_call(self) -> None:
        return None

    def aliases_input(self) -> bool:
        return False

    def describe(self) -> str:
        return f"softmax over {self.groups} splits" if self.groups > 1 else "sigmoid"
