"""Classifier head: global average pool, flatten, linear (torchvision `avgpool`, `fc`)."""

from __future__ import annotations

from archspec.ir.graph import Builder, Call, Member, Name, Scope, Step
from archspec.ir.ops import Flatten, GlobalAvgPool, Linear
from archspec.spec.models import Head

NUM_CLASSES = Name("num_classes")


def lower_head(
    b: Builder, head: Head, x: str, channels: int, *, pool: str = "avgpool", fc: str = "fc"
) -> tuple[str, list[Member], list[Step]]:
    scope = Scope("", "head")
    x = b.add(GlobalAvgPool(), [x], scope, pool)
    x = b.add(Flatten(), [x], scope, "flatten", module=False)
    linear = Linear(channels, head.num_classes)
    x = b.add(linear, [x], scope, fc)
    members = [
        Member(pool, GlobalAvgPool()),
        Member(fc, Call("nn.Linear", (channels, NUM_CLASSES))),
    ]
    steps = [Step("call", pool), Step("flatten", ""), Step("call", fc)]
    return x, members, steps
