"""Stages and stems of block kinds written as data (archspec.blocks): user kinds.

A stage kind receives its slot from the stage table: `in_channels` (the previous stage's
output, then its own), `out_channels` (the row's `width`) and `stride` (the stage's, on its
first block); the row's `args` give its other params; its slot members take the row's
`attention` and the stage's projection shortcut. A stem kind receives `in_channels` (the
input's) and `out_channels` (the stem's `width`). archspec.spec.block_use checks the slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from archspec.blocks.definition import BlockDef
from archspec.blocks.library import find_block
from archspec.blocks.syntax import Apply, Use
from archspec.errors import Loc
from archspec.ir.graph import Builder, Scope, Seq
from archspec.ir.ops import Op, ReLU
from archspec.lower.blocks import Items, SlotFill, block_plan, block_values, lower_block
from archspec.lower.choice import choice_of, chosen, chosen_resolver, mark, uses_choice
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.errors import LowerError
from archspec.lower.residual import shortcut_ops
from archspec.lower.slots import attention_fill, projection_fill
from archspec.spec.layout import Layout, render
from archspec.spec.models import Spec, StageRow

STAGE_SLOT = ("in_channels", "out_channels", "stride")
STEM_SLOT = ("in_channels", "out_channels")


def _definition(spec: Spec, kind: str, loc: Loc) -> BlockDef:
    block = find_block(kind, spec.blocks)
    if block is None:  # archspec.spec.block_use reports it on load
        raise LowerError(loc, f"unknown block kind {kind!r}", "define it under `blocks:`")
    return block


def lower_defined_stage(st: StageInput) -> tuple[StageOutput, list[tuple[str, Any]]]:
    """depth blocks of the row's kind in the stage's Sequential (each followed by its own
    ReLU module where the layout says so)."""
    spec, row, b = st.spec, st.row, st.builder
    kind = st.layout.stages.kinds.get(row.block, row.block)
    block = _definition(spec, kind, (*st.loc, "block"))
    if row.width is None:
        raise LowerError(
            (*st.loc, "width"), f"a {kind} stage needs `width`", "add width: <out channels>"
        )
    st, entry = _entry(st)
    x = st.x
    items: list[Any] = []
    for i in range(row.depth):
        args = {
            **row.args,
            "in_channels": st.channels if i == 0 else row.width,
            "out_channels": row.width,
            "stride": st.geometry.stride if i == 0 and not entry else 1,
        }
        args.update((k, v) for k, v in (("index", i), ("depth", row.depth)) if k in block.params)
        if "drop_prob" in block.params:
            args["drop_prob"] = _drop_path(spec, st.index, i, st.layout.stages.drop_path)
        if st.layout.stages.splice:
            x = splice_block(st, kind, block, args, x, items)
            continue
        path = st.block_path(len(items))
        scope = Scope(path, st.key, path)
        fills = _fills(st, block, args)
        x, call = lower_block(
            b,
            scope,
            x,
            kind,
            block,
            args,
            st.loc,
            _resolver(spec),
            0,
            fills,
            tagged=False,
            choice=choice_of(spec, row),
        )
        items.append(call)
        if st.layout.stages.act_after_block:
            x = b.add(ReLU(), [x], Scope("", st.key), st.block_path(len(items)))
            items.append(ReLU())
    return StageOutput(x, row.width), entry + st.children(items)


def _entry(st: StageInput) -> tuple[StageInput, list[tuple[str, Any]]]:
    """The row's `entry` kind where the stage strides or changes width (ConvNeXt's
    downsampling layer), at the layout's `stages.entry`; the stage's blocks start from it."""
    row, stages = st.row, st.layout.stages
    assert row.width is not None
    if row.entry is None or (st.geometry.stride == 1 and st.channels == row.width):
        return st, []
    loc = (*st.loc, "entry")
    if stages.entry is None:
        message = f"layout {st.layout.name!r} has no place for a stage's entry kind"
        raise LowerError(loc, message, "use a layout with `stages.entry` (torchvision_convnext)")
    kind = stages.kinds.get(row.entry, row.entry)
    block = _definition(st.spec, kind, loc)
    args = {"in_channels": st.channels, "out_channels": row.width, "stride": st.geometry.stride}
    path, offset = st.path(stages.entry), st.offset
    if stages.flat and path == stages.path:  # the flat container's next child
        path, offset = f"{path}.{offset}", offset + 1
    scope = Scope(path, st.key, path)
    choice = choice_of(st.spec, row)
    y, call = lower_block(
        st.builder, scope, st.x, kind, block, args, loc, _resolver(st.spec), choice=choice
    )
    return replace(st, x=y, channels=row.width, offset=offset), [(path, call)]


def _drop_path(spec: Spec, stage: int, index: int, rule: str = "count") -> float:
    """Stochastic depth of block `index` of stage `stage`: rate x k / n for the k-th of the n
    blocks of kinds with a `drop_prob` param (torchvision's and timm's EfficientNet), or with
    the layout's `drop_path: linspace`, rate x k / (n - 1) (both libraries' ConvNeXt)."""
    rate = spec.drop_path_rate or 0.0
    counts = [
        row.depth if "drop_prob" in getattr(find_block(row.block, spec.blocks), "params", {}) else 0
        for row in spec.stages
    ]
    place, total = float(sum(counts[:stage]) + index), sum(counts)
    if rule == "linspace":
        return rate * place / (total - 1) if total > 1 else 0.0
    return rate * place / total


def lower_defined_tail(
    b: Builder, spec: Spec, x: str, channels: int, layout: Layout, offset: int = 0
) -> tuple[StageOutput, list[tuple[str, Any]]]:
    """The tail kind after the last stage, at the layout's `tail.block` (`{n}`: the number
    after the last stage's; the flat container's next child where it names that container,
    `offset` children being there already)."""
    tail = spec.tail
    assert tail is not None
    kind = layout.tail.kinds.get(tail.type, tail.type)
    block = _definition(spec, kind, ("tail", "type"))
    args = {**tail.args, "in_channels": channels, "out_channels": tail.width}
    if layout.tail.splice:
        y, ops = splice_named(b, "tail", kind, block, args, x, spec)
        return StageOutput(y, tail.width), ops
    count = len(spec.stages)
    attr = render(layout.tail.block, n=count + 1, i=count)
    if layout.stages.flat and attr == layout.stages.path:
        attr = f"{attr}.{offset}"
    scope = Scope(attr, "tail", attr)
    choice = choice_of(spec)
    y, call = lower_block(b, scope, x, kind, block, args, ("tail",), _resolver(spec), choice=choice)
    return StageOutput(y, tail.width), [(attr, call)]


def splice_block(
    st: StageInput,
    kind: str,
    block: BlockDef,
    args: dict[str, Any],
    x: str,
    items: list[Any],
) -> str:
    """A chain block's ops, each the container's next child (torchvision VGG's `features.N`)."""
    loc = (*st.loc, "block")
    for word in uses_choice(block):
        mark(st.builder.memo, st.key, word)
    for _, op in chain_ops(kind, block, args, loc, st.spec, st.row):
        x = place(st.builder, op, x, Scope("", st.key), st.block_path(len(items)))
        items.append(op)
    return x


def place(b: Builder, value: Op | Seq, x: str, scope: Scope, name: str) -> str:
    """A spliced member's ops at `name` (a list's items at `name.0`, `name.1`, ...)."""
    if isinstance(value, Op):
        return b.add(value, [x], scope, name)
    for index, op in enumerate(value.items):
        x = place(b, op, x, scope, f"{name}.{index}")
    return x


def _fills(st: StageInput, block: BlockDef, args: dict[str, Any]) -> dict[str, SlotFill]:
    """The block's slots: `attention` takes the row's attention (channels: the block's output),
    `downsample` the stage's projection (conv + BN, or ResNet-D avg-down with `downsample:
    avg`) where the block strides or changes its channel count."""
    fills: dict[str, SlotFill] = {}
    c_in, c_out, stride = args["in_channels"], args["out_channels"], args["stride"]
    for name, role in block.slots().items():
        if role == "attention":
            fill = attention_fill(st, c_out, choice_of(st.spec, st.row))
        elif stride != 1 or c_in != c_out:
            ops = shortcut_ops(st, (c_in, c_out), stride, bias=False)
            fill = projection_fill(Seq(tuple(ops)))
        else:
            fill = None
        if fill is not None:
            fills[name] = fill
    return fills


def lower_defined_stem(
    b: Builder, spec: Spec, x: str, layout: Layout
) -> tuple[StageOutput, list[tuple[str, Any]]]:
    """The stem kind as one module, at the layout's `stem.block`."""
    stem = spec.stem
    kind = layout.stem.kinds.get(stem.type, stem.type)
    block = _definition(spec, kind, ("stem", "type"))
    args = {**stem.args, "in_channels": spec.input[0], "out_channels": stem.width}
    if layout.stem.splice:
        # On the model itself, or in the layout's stem container (timm DenseNet's features).
        y, ops = splice_named(b, "stem", kind, block, args, x, spec, layout.stem.path)
        return StageOutput(y, stem.width), ops
    attr = layout.stem.block
    if layout.stages.flat and attr == layout.stages.path:
        attr = f"{attr}.0"  # the first child of the flat container
    scope = Scope(attr, "stem", attr)
    choice = choice_of(spec)
    y, call = lower_block(b, scope, x, kind, block, args, ("stem",), _resolver(spec), choice=choice)
    return StageOutput(y, stem.width), [(attr, call)]


def splice_named(
    b: Builder,
    part: str,
    kind: str,
    block: BlockDef,
    args: dict[str, Any],
    x: str,
    spec: Spec,
    prefix: str = "",
) -> tuple[str, list[tuple[str, Op | Seq]]]:
    """A chain kind's ops under their member names, on the model itself (timm's `conv_stem`,
    `bn1`, `act1`) or in the container at `prefix` (`features.conv0`)."""
    placed = chain_ops(kind, block, args, (part, "type"), spec)
    for word in uses_choice(block):
        mark(b.memo, part, word)
    scope = Scope(prefix, part)
    for name, op in placed:
        x = place(b, op, x, scope, name)
    return x, [(scope.path(name), op) for name, op in placed]


def chain_ops(
    kind: str,
    block: BlockDef,
    args: dict[str, Any],
    loc: Loc,
    spec: Spec,
    row: StageRow | None = None,
) -> list[tuple[str, Op | Seq]]:
    """(member, op) of a chain kind for these arguments, in order, absent ones left out: its
    steps must be `v = member(v)` on op members, ending `return v` (what a layout splices).
    Its act() and norm() are the stage's (`row`) or the network's choice."""
    choice = choice_of(spec, row)
    block = chosen(block, choice)
    resolve = chosen_resolver(_resolver(spec), choice)
    _, absent, members = block_plan(kind, block, args, loc, resolve)
    values = block_values(kind, block, args, loc)
    ops = []
    for step in block.steps():
        member = _chained_member(step, members, kind, loc)
        if member is None:
            break
        if member[0] not in absent and (step.when is None or values[step.when]):
            ops.append(member)
    return ops


def _chained_member(
    step: Any, members: Mapping[str, Any], kind: str, loc: Loc
) -> tuple[str, Op | Seq] | None:
    """(member, op) of a chain step `v = member(v)`, a list of ops as one Seq; None at its
    final `return v`."""
    expr = step.expr
    if step.target is None and isinstance(expr, Use):
        return None
    member = members.get(expr.func) if isinstance(expr, Apply) else None
    if isinstance(member, Items) and all(isinstance(item, Op) for item in member.items):
        member = Seq(member.items)
    chained = isinstance(expr, Apply) and len(expr.args) == 1 and expr.index is None
    if step.target is None or not chained or not (member is None or isinstance(member, Op | Seq)):
        raise LowerError(
            loc,
            f"{kind!r} is not a chain of ops, so the layout cannot splice it",
            "write its forward as `v = member(v)` steps ending `return v`",
        )
    assert isinstance(expr, Apply)
    return expr.func, member  # type: ignore[return-value]


def _resolver(spec: Spec) -> Any:
    return lambda kind: find_block(kind, spec.blocks)
