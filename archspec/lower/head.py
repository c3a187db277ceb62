"""Classifier head: [ReLU,] global average pool, flatten, linear.

torchvision names: ResNet `avgpool`, `fc`; DenseNet applies a ReLU first and calls the linear
`classifier`.
"""

from __future__ import annotations

from archspec.ir.graph import ArchGraph, Builder, Call, Member, Name, Scope, Step
from archspec.ir.ops import Flatten, GlobalAvgPool, Linear, Op, ReLU
from archspec.lower.context import StageOutput
from archspec.spec.models import Head

NUM_CLASSES = Name("num_classes")


def lower_head(
    arch: ArchGraph,
    b: Builder,
    head: Head,
    current: StageOutput,
    *,
    fc: str = "fc",
    relu_first: bool = False,
) -> str:
    """Add the head's ops, members and forward steps; return the logits node."""
    scope = Scope("", "head")
    modules: list[tuple[str, Op]] = [("relu", ReLU())] if relu_first else []
    modules.append(("avgpool", GlobalAvgPool()))
    x = b.chain(modules, current.x, scope)
    x = b.add(Flatten(), [x], scope, "flatten", module=False)
    x = b.add(Linear(current.channels, head.num_classes), [x], scope, fc)
    arch.model.members += [Member(name, op) for name, op in modules]
    arch.model.members.append(Member(fc, Call("nn.Linear", (current.channels, NUM_CLASSES))))
    arch.model.head += [Step("call", name) for name, _ in modules]
    arch.model.head += [Step("flatten", ""), Step("call", fc)]
    return x
