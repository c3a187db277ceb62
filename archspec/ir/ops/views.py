"""Ops that compute nothing: the graph's input, views and the identity.

A view shares its input's storage, so it allocates nothing and autograd saves nothing for it;
no tool counts any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from archspec.ir.code import Call
from archspec.ir.ops.base import POINTWISE, Shape, Uncounted, Window


@dataclass(frozen=True)
class Input(Uncounted):
    """The image fed to the network: the source of every field (one pixel)."""

    kind: ClassVar[str] = "input"
    category: ClassVar[str] = "other"
    shape: Shape = (3, 224, 224)

    def infer(self, inputs: list[Shape]) -> Shape:
        return self.shape

    def module_call(self) -> None:
        return None

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return POINTWISE

    def describe(self) -> str:
        return "input"


@dataclass(frozen=True)
class _View(Uncounted):
    """Base of views: they share their input's storage and save nothing."""

    category: ClassVar[str] = "other"

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return True

    def window(self) -> Window:
        return POINTWISE


@dataclass(frozen=True)
class Flatten(_View):
    """nn.Flatten(1) before the classifier: (C, 1, 1) -> (C,)."""

    kind: ClassVar[str] = "flatten"

    def infer(self, inputs: list[Shape]) -> Shape:
        return (math.prod(inputs[0]),)

    def module_call(self) -> Call:
        return Call("nn.Flatten", (1,))

    def describe(self) -> str:
        return "flatten"


@dataclass(frozen=True)
class Identity(_View):
    """nn.Identity: a block's shortcut where it needs no projection."""

    kind: ClassVar[str] = "identity"

    def module_call(self) -> Call:
        return Call("nn.Identity")

    def describe(self) -> str:
        return "identity"


@dataclass(frozen=True)
class ChannelSlice(_View):
    """x[:, start:stop] (SK branches that each read a slice of the input), in the block
    template's forward: no module."""

    kind: ClassVar[str] = "slice"
    start: int = 0
    stop: int = 0

    def infer(self, inputs: list[Shape]) -> Shape:
        return (self.stop - self.start, *inputs[0][1:])

    def module_call(self) -> None:
        return None

    def describe(self) -> str:
        return f"channels {self.start}:{self.stop}"
