"""The HTML-like labels of a diagram's boxes and clusters.

A box reads top to bottom: bold name, what it computes (one row per conv, pool or linear, as a
paper's table prints them; attention branches in their own colour), then params and MACs in
small grey type. Ops inside one box at layer level show the op and its module path instead.
"""

from __future__ import annotations

from archspec.emit.diagram_model import Diagram, Unit
from archspec.emit.diagram_text import (
    Row,
    block_kind,
    branch_name,
    human,
    op_text,
    short_block,
    stage_title,
    summary,
)
from archspec.emit.diagram_writer import escape
from archspec.ir.graph import ArchGraph

GREY = "#555555"
# The params/MACs line: one point under the box text and near-black, readable at 100% zoom.
STATS_COLOUR = "#333333"
STATS_SIZE = "9"
BRANCH_COLOUR = "#8e3b6f"


def label(diagram: Diagram, unit: Unit) -> str:
    """The markup of a box."""
    if unit.role in ("input", "output"):
        return bold(unit.name)
    if unit.role == "op":
        return _op_label(diagram, unit)
    if unit.role == "merge":
        texts = [op_text(diagram.arch.graph.nodes[node]["op"]) for node in unit.nodes]
        return "<BR/>".join([_symbol(texts[0]), *map(small, texts[1:])])
    if unit.role == "stage":
        return _stage_label(diagram, unit)
    return _box(_title(diagram, unit), summary(diagram.arch, unit.nodes), _stats(diagram, unit))


def cluster_label(diagram: Diagram, key: str) -> str:
    cluster = diagram.clusters[key]
    arch = diagram.arch
    if cluster.kind == "branch":
        text = branch_name(cluster.tag)
    elif cluster.kind == "block":
        text = f"{run_title(diagram, key, cluster.stage)}: {block_kind(arch, key, cluster.stage)}"
    else:
        kind = stage_kind(arch, cluster.stage)
        text = stage_title(arch, cluster.stage) + (f": {kind}" if kind else "")
    return bold(text)


def run_title(diagram: Diagram, block: str, stage: str) -> str:
    """The block's name, or for a collapsed run "layer3.1 .. layer3.5  (x5)"."""
    members = diagram.runs.get(block, (block,))
    names = [short_block(diagram.arch, member, stage) for member in members]
    return names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}  (x{len(names)})"


def _op_label(diagram: Diagram, unit: Unit) -> str:
    data = diagram.arch.graph.nodes[unit.nodes[0]]
    # The module path (the state_dict prefix), short inside its block's cluster.
    name = data["path"].removeprefix(f"{unit.block}.") if unit.block else data["path"]
    text = _run_text(diagram, unit)
    # The path is left out where it is no module (a residual "add", a "cat"), or where it holds
    # no weights and only repeats the op ("relu" under ReLU, "maxpool" under "maxpool 3x3").
    word = name.rsplit(".", 1)[-1].rstrip("0123456789").lower()
    repeats = word == text.lower().split(" ", 1)[0] and not data["params"]
    path = name if data["module"] and not repeats else ""
    details = [part for part in (path, _stats(diagram, unit)) if part]
    return "<BR/>".join([_symbol(text), *([small(" | ".join(details))] if details else [])])


def _run_text(diagram: Diagram, unit: Unit) -> str:
    """The op's text; across a run of dense layers the width it reads grows: "batchnorm 64 ..
    224"."""
    graph = diagram.arch.graph.nodes
    texts = [op_text(graph[nodes[0]]["op"]) for nodes in members(diagram, unit) if nodes]
    if texts[0] == texts[-1]:
        return texts[0]
    return f"{texts[0]} .. {texts[-1].rsplit(' ', 1)[-1]}"


def _symbol(text: str) -> str:
    """Bold text; a one-character operator ("+", "x") large enough to read in its circle."""
    return f'<FONT POINT-SIZE="14">{bold(text)}</FONT>' if len(text) == 1 else bold(text)


def _title(diagram: Diagram, unit: Unit) -> str:
    """The name of a block body, a projection shortcut or a run of ops outside blocks."""
    arch = diagram.arch
    if unit.role == "shortcut":
        return "projection shortcut" + _shortcut_source(arch, unit)
    if unit.role == "body":
        return run_title(diagram, unit.block, unit.stage)
    if unit.key == unit.stage:
        return stage_title(arch, unit.stage)
    return str(arch.graph.nodes[unit.nodes[0]]["path"])


def _shortcut_source(arch: ArchGraph, unit: Unit) -> str:
    """ " of act1" where the shortcut reads from inside its block (a pre-activation)."""
    source = arch.inputs(unit.nodes[0])[0]
    inside = arch.graph.nodes[source]["block"] == unit.block
    return (
        f" of {arch.graph.nodes[source]['path'].removeprefix(unit.block + '.')}" if inside else ""
    )


def _stage_label(diagram: Diagram, unit: Unit) -> str:
    return _box(
        stage_title(diagram.arch, unit.stage), stage_rows(diagram, unit), _stats(diagram, unit)
    )


def stage_rows(diagram: Diagram, unit: Unit) -> list[Row]:
    """A stage as a paper's table prints it: block kind xN and the convs of one block."""
    arch, stage = diagram.arch, unit.stage
    blocks = _stage_blocks(arch, stage)
    main = [block for block in blocks if block_kind(arch, block, stage) != "transition"]
    rows = summary(arch, _body(diagram, unit, main[-1]) if main else unit.nodes)
    for block in blocks:
        if block not in main:
            members = [n for n in unit.nodes if arch.graph.nodes[n]["block"] == block]
            rows += [Row("transition:", heading=True), *summary(arch, members)]
    kind = stage_kind(arch, stage)
    return ([Row(kind, heading=True)] if kind else []) + rows


def _body(diagram: Diagram, unit: Unit, block: str) -> list[str]:
    graph = diagram.arch.graph.nodes
    return [n for n in unit.nodes if graph[n]["block"] == block and diagram.parts[n] == "body"]


def _stage_blocks(arch: ArchGraph, stage: str) -> list[str]:
    blocks = (data["block"] for _, data in arch.nodes() if data["stage"] == stage)
    return list(dict.fromkeys(block for block in blocks if block))


def stage_kind(arch: ArchGraph, stage: str) -> str:
    """E.g. "bottleneck x4", "dense layer x6 + transition"; "" for the stem and head."""
    kinds = [block_kind(arch, block, stage) for block in _stage_blocks(arch, stage)]
    main = [kind for kind in kinds if kind != "transition"]
    if not main:
        return ""
    return f"{main[0]} x{len(main)}" + (" + transition" if len(main) < len(kinds) else "")


def _stats(diagram: Diagram, unit: Unit) -> str:
    """Params and MACs: "each" for a run of identical blocks, "in all" for a run of dense
    layers (each reads a wider input, so their counts differ)."""
    graph = diagram.arch.graph.nodes
    totals = [
        (sum(graph[n]["params"] for n in nodes), sum(graph[n]["macs"] for n in nodes))
        for nodes in members(diagram, unit)
    ]
    same = len(set(totals)) == 1
    params, macs = totals[0] if same else tuple(map(sum, zip(*totals, strict=True)))
    counts = [f"{human(params)} params"] * bool(params) + [f"{human(macs)} MACs"] * bool(macs)
    scope = "" if len(totals) == 1 else " each" if same else " in all"
    return ", ".join(counts) + (scope if counts else "")


def members(diagram: Diagram, unit: Unit) -> list[list[str]]:
    """The nodes the unit stands for in each block of its run (just its own outside runs)."""
    run = diagram.runs.get(unit.block, ())
    if len(run) < 2:
        return [unit.nodes]
    graph = diagram.arch.graph.nodes
    return [
        [m for n in unit.nodes if (m := member + n[len(unit.block) :]) in graph] for member in run
    ]


def _box(title: str, rows: list[Row], stats: str) -> str:
    parts = [bold(title), *map(_row, rows)]
    return "<BR/>".join(parts + ([small(stats)] if stats else []))


def _row(row: Row) -> str:
    text = f"<I>{escape(row.text)}</I>" if row.heading else escape(row.text)
    return f'<FONT COLOR="{BRANCH_COLOUR}">{text}</FONT>' if row.branch else text


def bold(text: str) -> str:
    return f"<B>{escape(text)}</B>"


def small(text: str) -> str:
    return f'<FONT POINT-SIZE="{STATS_SIZE}" COLOR="{STATS_COLOUR}">{escape(text)}</FONT>'
