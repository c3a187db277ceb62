"""The report's diagram as a tree: stages that open into blocks, blocks that open into ops.

The words come from the Graphviz diagrams' own helpers (`diagram_text`, `diagram_labels`) and
the numbers from `stats`, so the page says what `archspec diagram` and `archspec stats` say.
Which ops a block's shortcut holds, and which edges are shortcuts, come from `diagram_model`.
Only the geometry is new: boxes are sized here and the ops of a block are placed by
`layers`; the page's script stacks whatever is open along one vertical axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

from archspec.emit import diagram_model
from archspec.emit.diagram_labels import stage_rows
from archspec.emit.diagram_model import Diagram
from archspec.emit.diagram_text import (
    Row,
    block_kind,
    category,
    op_text,
    shape_text,
    short_block,
    stage_title,
    summary,
)
from archspec.ir.graph import ArchGraph
from archspec.report.boxes import Box, Facts, box, circle, text_width
from archspec.report.layers import Item, Layout, layout
from archspec.stats import GroupRow, LayerRow, Stats

CIRCLED = frozenset({"add", "mul"})
HEAD_PAD = 44.0  # room around a frame's title for the chevron


@dataclass(frozen=True)
class Ops:
    """Ops drawn as they are (a block's inside, or the stem): not expandable. The page draws
    them from `payload` when their block first opens, which keeps a zoo's page small."""

    key: str  # the group's id, unique within its model
    layout: Layout


@dataclass(frozen=True)
class Node:
    """A stage or block: a box when closed, a titled frame around its children when open."""

    kind: str  # stage | block
    box: Box
    header: str
    header_width: float
    children: tuple[Node | Ops, ...]


@dataclass(frozen=True)
class Tree:
    top: Box
    stages: tuple[Node | Ops, ...]
    bottom: Box
    groups: tuple[Ops, ...]  # every Ops of the tree, in drawing order


@dataclass
class _Context:
    arch: ArchGraph
    parts: dict[str, str]
    stage_diagram: Diagram
    blocks: dict[str, GroupRow]
    layers: dict[str, LayerRow]
    groups: list[Ops] = field(default_factory=list)


def tree(arch: ArchGraph, stats: Stats) -> Tree:
    parts = diagram_model.build(arch, "block", collapse=False).parts
    context = _Context(
        arch,
        parts,
        diagram_model.build(arch, "stage"),
        {row.name: row for row in stats.blocks},
        {row.path: row for row in stats.layers},
    )
    by_stage: dict[str, list[str]] = {}
    for key, data in arch.nodes():
        if data["stage"] != "input":
            by_stage.setdefault(data["stage"], []).append(key)
    rows = {row.name: row for row in stats.stages}
    stages = tuple(_stage(context, rows[name], keys) for name, keys in by_stage.items())
    top = _pill(f"input {shape_text(arch.input_shape)}")
    return Tree(top, stages, _output(arch), tuple(context.groups))


def _pill(text: str, *more: str) -> Box:
    texts = [("title", text), *(("row", line) for line in more)]
    return box(texts, "io", text)


def _output(arch: ArchGraph) -> Box:
    shape = arch.graph.nodes[arch.output]["shape"]
    taps = [f"{name} features" for name in arch.taps]
    return _pill(f"output {shape_text(shape)}", *([", ".join(taps)] if taps else []))


def _stage(context: _Context, row: GroupRow, keys: list[str]) -> Node:
    arch = context.arch
    unit = context.stage_diagram.units[row.name]
    title = stage_title(arch, row.name)
    facts = _group_facts(context, title, row, keys)
    rows = stage_rows(context.stage_diagram, unit)
    kind = rows[0].text if rows and rows[0].heading else ""
    children = tuple(_children(context, keys))
    header = f"{title}: {kind}" if kind else title
    return _node("stage", _group_box(context, title, rows, facts, keys), header, children)


def _children(context: _Context, keys: list[str]) -> list[Node | Ops]:
    """Blocks in order; runs of ops outside blocks (stem, DenseNet's final norm) as drawn."""
    graph = context.arch.graph.nodes
    out: list[Node | Ops] = []
    for block, run in groupby(keys, key=lambda key: graph[key]["block"]):
        members = list(run)
        out.append(_block(context, block, members) if block else _ops(context, members))
    return out


def _block(context: _Context, block: str, keys: list[str]) -> Node:
    arch = context.arch
    stage = arch.graph.nodes[keys[0]]["stage"]
    name = short_block(arch, block, stage)
    kind = block_kind(arch, block, stage)
    row = context.blocks[block]
    facts = _group_facts(context, f"{name}: {kind}", row, keys)
    body = [key for key in keys if context.parts.get(key) == "body"] or keys
    title = f"{name}: {kind}"
    return _node(
        "block",
        _group_box(context, title, summary(arch, body), facts, keys),
        title,
        (_ops(context, keys),),
    )


def _node(kind: str, closed: Box, header: str, children: tuple[Node | Ops, ...]) -> Node:
    return Node(kind, closed, header, text_width(header, "title") + HEAD_PAD, children)


def _group_facts(context: _Context, name: str, row: GroupRow, keys: list[str]) -> Facts:
    return Facts(
        name,
        "",
        input_shape(context.arch, keys[0]),
        row.shape,
        row.params,
        row.macs,
        row.rf,
        row.stride,
    )


def _group_box(
    context: _Context, title: str, rows: list[Row], facts: Facts, keys: list[str]
) -> Box:
    texts = [("title", title), *((_row_class(row), row.text) for row in rows)]
    texts.append(("foot", facts.footer()))
    return box(texts, category(context.arch, keys), facts.tip(), hint=True)


def _row_class(row: Row) -> str:
    if row.branch:
        return "branch"
    return "kind" if row.heading else "row"


def input_shape(arch: ArchGraph, key: str) -> tuple[int, ...] | None:
    """The shape an op (or a group, by its first op) reads: its first input's."""
    inputs = arch.graph.nodes[key]["inputs"]
    return tuple(arch.graph.nodes[inputs[0]]["shape"]) if inputs else None


def _ops(context: _Context, keys: list[str]) -> Ops:
    ops = Ops(f"g{len(context.groups)}", layout([_item(context, key) for key in keys]))
    context.groups.append(ops)
    return ops


def _item(context: _Context, key: str) -> Item:
    arch = context.arch
    data = arch.graph.nodes[key]
    inputs = tuple(data["inputs"])
    skips = tuple(diagram_model.is_skip(arch, context.parts, source, key) for source in inputs)
    return Item(key, _op_box(context, key), inputs, skips)


def _op_box(context: _Context, key: str) -> Box:
    data = context.arch.graph.nodes[key]
    layer = context.layers[key]
    rf, stride = data["field"] or (None, None)
    text = op_text(data["op"])
    # Named by node, as `stats --per-layer` names it ("layer1.0.relu#2": relu's second call).
    facts = Facts(
        key,
        text,
        input_shape(context.arch, key),
        data["shape"],
        layer.params,
        layer.macs,
        rf,
        stride,
    )
    colour = category(context.arch, [key])
    if data["op"].kind in CIRCLED:
        return circle(text, colour, facts.tip())
    name = data["path"].removeprefix(f"{data['block']}.") if data["block"] else data["path"]
    texts = [("row", text), ("foot", f"{name} | {shape_text(data['shape'])}")]
    shortcut = context.parts.get(key) == "shortcut"
    return box(texts, colour, facts.tip(), dashed=shortcut, branch=bool(data["tag"]))
