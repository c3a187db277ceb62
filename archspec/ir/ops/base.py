"""The op contract: every fact a pass or emitter needs about an op, declared on the op.

As an ONNX OpSchema does, each op class states in one place its output shape, its tensors, how
it is emitted (the torch.nn constructor), its cost under every counting convention, what
autograd saves for its backward, whether it writes its input's storage, its receptive-field
window, and its diagram text and colour. The passes only ask. The facets are abstract here, so
an op that leaves one out cannot be instantiated, and tests/test_op_facets.py names it.

Shapes are (C, H, W) for feature maps and (F,) after flattening; batch is left out.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from archspec.ir.code import Call

Shape = tuple[int, ...]
# A convention's cost of one op: (breakdown category, count) pairs.
Costs = list[tuple[str, int]]


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


def sliding_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Output length of a sliding window along one axis (PyTorch's formula, floor included)."""
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
class Site:
    """The shapes an op sees where it sits in a graph: what the counting rules read."""

    inputs: list[Shape]
    output: Shape

    @property
    def in_numel(self) -> int:
        return math.prod(self.inputs[0]) if self.inputs else 0

    @property
    def out_numel(self) -> int:
        return math.prod(self.output)


class Window(NamedTuple):
    """What one output pixel reads of its input: a kernel x kernel window at a stride and
    dilation, or (`whole`) the entire map, as a global pool does. (A tuple: the receptive
    field pass asks every node for one.)"""

    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    whole: bool = False


# Elementwise and channel-mixing ops: each output pixel reads the same input pixel.
POINTWISE = Window()


@dataclass(frozen=True)
class Op(ABC):
    """An IR node. `kind` names it in tables; `category` groups it in convention breakdowns
    and picks its diagram colour ("conv", "linear", "norm", "activation", "pool", "add",
    "mul", "concat", "other")."""

    kind: ClassVar[str]
    category: ClassVar[str]
    # The source of a class the generated file defines for this op where torch has none
    # (LayerNorm2d, Permute, Conv2dSame, ...): written with torch only, named as module_call's
    # target, copied into the files whose models use the op.
    helper: ClassVar[str] = ""

    def infer(self, inputs: list[Shape]) -> Shape:
        """Output shape (by default the first input's); raises ShapeError if the op cannot
        take its inputs."""
        return inputs[0]

    def tensors(self) -> list[TensorInfo]:
        """state_dict entries, relative to the op's module path (by default none)."""
        return []

    # Emission.
    @abstractmethod
    def module_call(self) -> Call | None:
        """The torch.nn constructor with non-default arguments only, or None where the
        generated code computes the op in an expression (`out += identity`, `torch.cat`)."""

    # Whether forward_call uses its argument as a method receiver (`arg.flatten(1)`), so an
    # expression must arrive in parentheses.
    forward_receiver: ClassVar[bool] = False

    def forward_call(self, attr: str, arg: str) -> str:
        """How a generated forward calls the op's module `self.<attr>` on the value `arg`."""
        return f"self.{attr}({arg})"

    # Counting conventions (the rule texts live on each op; conventions.py says which tool
    # and version each one reproduces).
    @abstractmethod
    def macs(self, inputs: list[Shape], output: Shape) -> int:
        """archspec's MACs: conv and linear multiply-accumulates, bias adds excluded."""

    @abstractmethod
    def fvcore(self, site: Site) -> Costs:
        """fvcore FlopCountAnalysis: what its aten-op handles count for this op."""

    @abstractmethod
    def ptflops(self, site: Site, functional: bool) -> Costs:
        """ptflops (pytorch backend) module hooks; `functional`: count_functional is on."""

    @abstractmethod
    def pycls(self, site: Site) -> Costs:
        """pycls net.complexity() 'flops'."""

    @abstractmethod
    def pycls_acts(self, site: Site) -> int:
        """pycls net.complexity() 'acts': output elements it counts for this op."""

    # Memory.
    @abstractmethod
    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        """The tensors (by node: the op's inputs or itself) autograd keeps for backward."""

    @abstractmethod
    def saved_index_elements(self, output: Shape) -> int:
        """Elements of int64 indices autograd keeps for backward (max-pool argmax)."""

    @abstractmethod
    def saved_private_elements(self, output: Shape) -> int:
        """Elements (in the network's dtype, per sample) autograd keeps that are neither an
        input nor the output: the input clone an in-place activation keeps, dropout's mask."""

    @abstractmethod
    def aliases_input(self) -> bool:
        """Whether the output shares its first input's storage: in-place or a view."""

    # Receptive field.
    @abstractmethod
    def window(self) -> Window:
        """The input window one output pixel reads."""

    # Diagrams.
    @abstractmethod
    def describe(self) -> str:
        """What the op does, in the words a paper's figure would use."""


@dataclass(frozen=True)
class Uncounted(Op):
    """Base of ops that no counting tool counts: they have no MACs, fvcore has no handle for
    their aten ops (elementwise, cat, views, pad), ptflops hooks no such module and patches
    no such function, and pycls' complexity counts convs and linears only."""

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
