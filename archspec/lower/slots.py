"""What a stage puts in its blocks' slot members (archspec.blocks.definition.SlotMember).

- `attention`: the row's attention, written as data (the stdlib's `se`, or a kind of the
  spec's own), built with `channels` = the block's output channels, tagged with its kind;
- `downsample`: the projection shortcut a block needs where it strides or changes channels,
  as the stage lowering built it (conv + BN, ResNet-D avg-down, timm's pre-activation
  Downsample*): its ops under the slot's path, and the same value as the constructor argument.
"""

from __future__ import annotations

from typing import Any

from archspec.blocks.library import builtin_blocks, find_block
from archspec.ir.graph import Builder, Scope, Seq
from archspec.ir.ops import Op
from archspec.lower.blocks import SlotFill, lower_block
from archspec.lower.choice import Choice
from archspec.lower.context import StageInput
from archspec.lower.errors import LowerError
from archspec.spec.models import BlockAttention, Spec, SqueezeExcite


def attention_fill(st: StageInput, channels: int, choice: Choice) -> SlotFill | None:
    """The fill of an `attention` slot, or None where the row has none (or one the stage
    lowers itself: sk and split replace the 3x3, not a slot). An attention kind that writes
    act() or norm() takes the stage's choice (the standard library's SE keeps its ReLU, as
    timm's)."""
    spec, attention, loc = st.spec, st.row.attention, (*st.loc, "attention")
    if isinstance(attention, SqueezeExcite):
        kind, args = "se", {"reduction": attention.reduction, "divisor": attention.divisor}
        block = builtin_blocks()["se"]
    elif isinstance(attention, BlockAttention):
        kind, args = attention.type, attention.args()
        found = find_block(kind, spec.blocks)
        if found is None:  # archspec.spec.block_use reports it on load
            raise LowerError((*loc, "type"), f"unknown type {kind!r}", "define it under blocks:")
        block = found
    else:
        return None
    args = {**args, "channels": channels}

    def fill(b: Builder, scope: Scope, x: str) -> tuple[str, Any]:
        return lower_block(b, scope, x, kind, block, args, loc, _resolver(spec), choice=choice)

    return fill


def projection_fill(value: Seq) -> SlotFill:
    """The fill of a `downsample` slot: the ops of the (possibly nested, possibly named)
    Sequential `value`, in order."""

    def fill(b: Builder, scope: Scope, x: str) -> tuple[str, Any]:
        return b.chain(flat_names("", value), x, scope), value

    return fill


def flat_names(path: str, item: Op | Seq) -> list[tuple[str, Op]]:
    """(module path, op) of every op in a (possibly nested) Sequential at `path` ("" for the
    Sequential's own children: `0`, `conv`)."""
    if not isinstance(item, Seq):
        return [(path, item)]
    names = item.names or tuple(str(i) for i in range(len(item.items)))
    return [
        pair
        for name, sub in zip(names, item.items, strict=True)
        for pair in flat_names(f"{path}.{name}" if path else name, sub)
    ]


def _resolver(spec: Spec) -> Any:
    return lambda kind: find_block(kind, spec.blocks)
