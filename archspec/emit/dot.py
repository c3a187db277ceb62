"""ArchGraph -> Graphviz DOT at three zoom levels: stage, block, layer.

`diagram_model` decides the boxes and edges and `diagram_labels` what they say; this module
lays them out: a fill colour per op kind, the tensor shape on every edge, shortcut paths
dashed, and a title with the model's totals over a legend. The output is a pure function of
the ArchGraph, byte for byte (golden files hold it).
"""

from __future__ import annotations

from archspec.emit import diagram_model
from archspec.emit.diagram_filter import keep_stages
from archspec.emit.diagram_labels import BRANCH_COLOUR, GREY, cluster_label, label
from archspec.emit.diagram_model import Diagram, Link, Unit
from archspec.emit.diagram_text import PALETTE, category, human, shape_text
from archspec.emit.diagram_writer import (
    INDENT,
    Attrs,
    Html,
    assignment,
    digraph,
    edge,
    escape,
    nest,
    node,
    same_rank,
)
from archspec.ir.graph import ArchGraph
from archspec.stats import compute_stats

LEVELS = diagram_model.LEVELS
FONT = "Helvetica"
SKIP_COLOUR = "#c2410c"
_CLUSTER_STYLE: dict[str, Attrs] = {
    "stage": {"style": "rounded,filled", "fillcolor": "#f4f4f4", "color": "#b0b0b0"},
    "block": {"style": "rounded,filled", "fillcolor": "#ffffff", "color": "#b0b0b0"},
    "branch": {"style": "rounded,filled,dashed", "fillcolor": "#fcf1f7", "color": BRANCH_COLOUR},
}
_NODE: Attrs = {
    "shape": "box",
    "style": "rounded,filled",
    "fontname": FONT,
    "fontsize": "10",
    "margin": "0.1,0.04",
    "penwidth": "0.8",
    "color": GREY,
}
_EDGE: Attrs = {
    "fontname": FONT,
    "fontsize": "9",
    "arrowsize": "0.6",
    "color": "#333333",
    "fontcolor": "#333333",
}


RANKDIRS = ("TB", "LR")


def emit_dot(
    arch: ArchGraph,
    level: str = "block",
    *,
    collapse: bool = True,
    rankdir: str = "TB",
    stages: frozenset[str] | None = None,
) -> str:
    """The diagram at `level`; with `collapse`, runs of identical blocks are drawn once (xN).

    `rankdir` "LR" lays it out left to right; `stages` ("stage3", ...) keeps only those.
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"unknown rankdir {rankdir!r}; use one of {', '.join(RANKDIRS)}")
    diagram = diagram_model.build(arch, level, collapse=collapse)
    if stages is not None:
        diagram = keep_stages(diagram, stages)
    nodes = [
        (unit.clusters, node(unit.key, _node_attrs(diagram, unit)))
        for unit in diagram.units.values()
    ]
    body = nest(nodes, lambda key: _cluster_lines(diagram, key))
    body += [INDENT + line for line in _legend(diagram)]
    body += [INDENT + same_rank(keys) for keys in diagram.same_rank]
    labelled = _labelled(diagram)
    body += [
        INDENT + edge(link.tail, link.head, _edge_attrs(link, index in labelled))
        for index, link in enumerate(diagram.links)
    ]
    shown = f", {', '.join(sorted(stages))} only" if stages is not None else ""
    return digraph(arch.name, _defaults(diagram, rankdir, shown), body)


def _labelled(diagram: Diagram) -> set[int]:
    """The links that print their tensor shape. A tensor feeding several boxes says its shape
    once (on the main path, not the shortcut); at layer level, only ops that change the shape
    label their output, since every label costs a rank of height."""
    entering: dict[str, set[tuple[int, ...]]] = {}
    for link in diagram.links:
        entering.setdefault(link.head, set()).add(link.shape)
    said: set[tuple[str, tuple[int, ...]]] = set()
    labelled = set()
    order = sorted(range(len(diagram.links)), key=lambda i: diagram.links[i].skip)
    for index in order:
        link = diagram.links[index]
        unchanged = entering.get(link.tail) == {link.shape} and diagram.level == "layer"
        if (link.tail, link.shape) not in said and not unchanged:
            labelled.add(index)
        said.add((link.tail, link.shape))
    return labelled


def _defaults(diagram: Diagram, rankdir: str, shown: str) -> dict[str, Attrs]:
    graph: Attrs = {
        "rankdir": rankdir,
        # Lets rank=same hold across clusters (the dense ladders); plain dot drops such nodes.
        "newrank": "true",
        "fontname": FONT,
        "nodesep": "0.2",
        "ranksep": "0.28",
        "labelloc": "t",
        "label": Html(_title(diagram, shown)),
    }
    return {"graph": graph, "node": _NODE, "edge": _EDGE}


def _node_attrs(diagram: Diagram, unit: Unit) -> Attrs:
    values: dict[str, str | Html] = {"label": Html(label(diagram, unit))}
    if unit.role in ("input", "output"):
        return {**values, "shape": "ellipse", "fillcolor": "#ffffff"}
    values["fillcolor"] = PALETTE[category(diagram.arch, unit.nodes)][0]
    kind = diagram.arch.graph.nodes[unit.nodes[0]]["op"].kind
    if unit.role in ("op", "merge") and kind in ("add", "mul"):
        values["shape"] = "circle"
    if unit.role == "shortcut":
        values["style"] = "rounded,filled,dashed"
    return values


def _cluster_lines(diagram: Diagram, key: str) -> list[str]:
    style = _CLUSTER_STYLE[diagram.clusters[key].kind]
    values = {**style, "label": Html(cluster_label(diagram, key)), "labeljust": "l"}
    return [assignment(name, value) for name, value in values.items()]


def _edge_attrs(link: Link, labelled: bool) -> Attrs:
    values: dict[str, str | Html] = {"label": shape_text(link.shape)} if labelled else {}
    if link.skip:
        values.update(style="dashed", color=SKIP_COLOUR, fontcolor=SKIP_COLOUR)
    return values


def _title(diagram: Diagram, shown: str) -> str:
    arch = diagram.arch
    totals = compute_stats(arch).totals
    counts = (
        f"{totals.params:,} params | {totals.macs:,} MACs ({human(totals.macs)})"
        f" | input {shape_text(arch.input_shape)}"
    )
    heading = f'<FONT POINT-SIZE="16"><B>{escape(arch.title or arch.name)}</B></FONT>'
    where = f"{arch.name}, {diagram.level} level{shown}"
    return f"{heading}<BR/>{escape(counts)}<BR/>{escape(where)}"


def _legend(diagram: Diagram) -> list[str]:
    """A legend node beside the input (in the graph label, graphviz-pure stretches its cells).

    Colour swatches on the first row, one note per row below, so that it stays narrow.
    """
    used = {
        category(diagram.arch, unit.nodes)
        for unit in diagram.units.values()
        if unit.role not in ("input", "output")
    }
    swatches = [
        f'<TD BGCOLOR="{fill}" BORDER="1">{escape(text)}</TD>'
        for key, (fill, text) in PALETTE.items()
        if key in used
    ]
    notes = [f'<TD COLSPAN="{len(swatches)}">{note}</TD>' for note in _notes(diagram)]
    rows = "".join(f"<TR>{row}</TR>" for row in ["".join(swatches), *notes])
    table = f'<TABLE BORDER="0" CELLSPACING="2" CELLPADDING="1">{rows}</TABLE>'
    legend = node("legend", {"shape": "plain", "style": "", "fontsize": "9", "label": Html(table)})
    return [legend, same_rank(("input", "legend"))]


def _notes(diagram: Diagram) -> list[str]:
    """Legend entries beyond colours, as markup."""
    notes = []
    if any(link.skip for link in diagram.links):
        notes.append(f'<FONT COLOR="{SKIP_COLOUR}">- - - shortcut / carried features</FONT>')
    if diagram.level != "layer":
        notes.append(escape("box colour: its heaviest op (MACs)"))
    runs = [block for block, members in diagram.runs.items() if len(members) > 1]
    dense = [block for block in runs if diagram_model.is_dense_layer(diagram.arch, block)]
    if len(dense) < len(runs):
        notes.append(escape("xN: N identical blocks, drawn once"))
    if dense:
        notes.append(escape("xN dense layers: each reads all earlier outputs, drawn once"))
    return notes
