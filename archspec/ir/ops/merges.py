"""Merges: ops that combine tensors (residual add, gate, concat, sums over attention splits).

The generated code computes them in expressions (`out += identity`, `x * w`, `torch.cat`,
`.sum(dim=1)`), none of which ptflops patches, so they are no nn modules and no tool counts
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from archspec.ir.ops.base import POINTWISE, Shape, ShapeError, Uncounted, Window


@dataclass(frozen=True)
class _Merge(Uncounted):
    """Base of merges: expressions in forward (no module), pointwise, no indices."""

    def module_call(self) -> None:
        return None

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def window(self) -> Window:
        return POINTWISE


@dataclass(frozen=True)
class Add(_Merge):
    """Elementwise sum of same-shaped inputs (the residual add); `inplace`: `out += identity`,
    which writes the first input's storage. Its backward needs no saved tensor."""

    kind: ClassVar[str] = "add"
    category: ClassVar[str] = "add"
    inplace: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        if len(set(inputs)) != 1:
            raise ShapeError(f"cannot add tensors of shapes {inputs}")
        return inputs[0]

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def aliases_input(self) -> bool:
        return self.inplace

    def describe(self) -> str:
        return "+"


@dataclass(frozen=True)
class Mul(_Merge):
    """Elementwise product with broadcasting of (C, 1, 1) gates (SE, attention). Autograd
    saves both factors."""

    kind: ClassVar[str] = "mul"
    category: ClassVar[str] = "mul"

    def infer(self, inputs: list[Shape]) -> Shape:
        return max(inputs, key=math.prod)

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs

    def aliases_input(self) -> bool:
        return False

    def describe(self) -> str:
        return "x"


@dataclass(frozen=True)
class Concat(_Merge):
    """Channel concatenation (DenseNet). Its backward slices, saving nothing."""

    kind: ClassVar[str] = "concat"
    category: ClassVar[str] = "concat"

    def infer(self, inputs: list[Shape]) -> Shape:
        spatial = {shape[1:] for shape in inputs}
        if len(spatial) != 1:
            raise ShapeError(f"cannot concatenate feature maps of sizes {sorted(spatial)}")
        return (sum(shape[0] for shape in inputs), *inputs[0][1:])

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def aliases_input(self) -> bool:
        return False

    def describe(self) -> str:
        return "concat"


@dataclass(frozen=True)
class GroupSum(_Merge):
    """Sum of `groups` equal channel groups: (G*C, H, W) -> (C, H, W). Saves nothing."""

    kind: ClassVar[str] = "group_sum"
    category: ClassVar[str] = "add"
    groups: int = 2

    def infer(self, inputs: list[Shape]) -> Shape:
        c, *rest = inputs[0]
        if c % self.groups:
            raise ShapeError(f"{c} channels do not split into {self.groups} groups")
        return (c // self.groups, *rest)

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def aliases_input(self) -> bool:
        return False

    def describe(self) -> str:
        return f"sum of {self.groups} splits"


@dataclass(frozen=True)
class GroupWeightedSum(_Merge):
    """sum_g x_g * a_g for x (G*C, H, W) and attention a (G*C, 1, 1) -> (C, H, W). A product:
    autograd saves both factors."""

    kind: ClassVar[str] = "weighted_sum"
    category: ClassVar[str] = "mul"
    groups: int = 2

    def infer(self, inputs: list[Shape]) -> Shape:
        weights = math.prod(inputs[1]) if len(inputs) > 1 else inputs[0][0]
        if weights != inputs[0][0]:
            raise ShapeError(f"{weights} weights for {inputs[0][0]} channels of {self.groups} maps")
        return GroupSum(self.groups).infer(inputs[:1])

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs

    def aliases_input(self) -> bool:
        return False

    def describe(self) -> str:
        return f"attention-weighted sum of {self.groups} splits"
