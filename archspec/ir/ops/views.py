"""Ops that compute nothing: the graph's input, views, the identity, and dropout (an identity
in eval mode).

A view shares its input's storage, so it allocates nothing and autograd saves nothing for it;
no tool counts any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from archspec.ir.code import Call
from archspec.ir.ops.base import POINTWISE, Shape, ShapeError, Uncounted, Window


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

    def saved_private_elements(self, output: Shape) -> int:
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

    def saved_private_elements(self, output: Shape) -> int:
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
class ChannelChunk(_View):
    """Chunk `index` of `count` equal channel chunks, `x.chunk(count, 1)[index]` (SK paths that
    each read a chunk of the input), in a generated forward: no module."""

    kind: ClassVar[str] = "chunk"
    index: int = 0
    count: int = 1

    def infer(self, inputs: list[Shape]) -> Shape:
        c, *rest = inputs[0]
        if c % self.count:
            raise ShapeError(f"{c} channels do not split into {self.count} equal chunks")
        return (c // self.count, *rest)

    def module_call(self) -> None:
        return None

    def describe(self) -> str:
        return f"channel chunk {self.index + 1} of {self.count}"


@dataclass(frozen=True)
class Dropout(Uncounted):
    """nn.Dropout(p=p), in place as torchvision's MobileNetV3 and EfficientNet heads build it,
    not in MobileNetV2's and VGG's. No tool counts it: ptflops hooks no nn.Dropout and patches no
    F.dropout, fvcore ignores aten::dropout (jit_analysis.py _IGNORED_OPS), pycls and
    FlopCounterMode count nothing.

    In eval mode F.dropout returns its input tensor itself; in training it returns the input
    when in place or p == 0, else a new tensor, so the output aliases its input exactly then
    (storage identity is what the training estimate dedups by; at inference the difference is
    a head vector, never the peak). Autograd keeps no input or output for it, only a private
    mask of the output's size (p > 0): the noise it multiplies by on CPU (the input's dtype),
    a bool mask on CUDA (native_dropout): its private saved elements, counted at the
    network's dtype (the CPU case).
    """

    kind: ClassVar[str] = "dropout"
    category: ClassVar[str] = "other"
    p: float
    inplace: bool = False

    def module_call(self) -> Call:
        kwargs: list[tuple[str, Any]] = [("p", self.p)]
        if self.inplace:
            kwargs.append(("inplace", True))
        return Call("nn.Dropout", (), tuple(kwargs))

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        # The mask (the input's dtype on CPU), where it drops anything.
        return math.prod(output) if self.p > 0 else 0

    def aliases_input(self) -> bool:
        return self.inplace or self.p == 0

    def window(self) -> Window:
        return POINTWISE

    def describe(self) -> str:
        return f"dropout {self.p:g}"


@dataclass(frozen=True)
class StochasticDepth(Uncounted):
    """torchvision.ops.StochasticDepth(p, "row"): in training, zero a residual branch for a
    whole sample with probability p and scale the rest by 1 / (1 - p); an identity in eval
    mode. The generated file defines the class (templates/model.py.jinja) with torchvision's
    arithmetic and random draws, so a seeded training step gives torchvision's outputs. No
    tool counts it (the product with the noise is no module or patched function either).

    In eval mode, and at p == 0, it returns its input tensor itself. In training it returns
    `x * noise`, a new tensor; autograd keeps only the (N, 1, 1, 1) noise (x's gradient needs
    it; the noise needs none).
    """

    kind: ClassVar[str] = "stochastic_depth"
    category: ClassVar[str] = "other"
    p: float

    def module_call(self) -> Call:
        return Call("StochasticDepth", (self.p, "row"))

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        # `x * noise`: the noise needs no gradient, so autograd keeps only the noise (the
        # factor x's gradient needs; private, below), not x.
        return []

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 1 if self.p > 0 else 0  # one noise value per sample

    def aliases_input(self) -> bool:
        return self.p == 0

    def window(self) -> Window:
        return POINTWISE

    def describe(self) -> str:
        return f"stochastic depth {self.p:g}"
