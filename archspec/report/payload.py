"""What the page's script draws on demand, as compact JSON: layer rows and the ops of blocks.

Drawn up front, every op of every block would make a zoo's page mostly markup (a DenseNet has
700 ops). So stage and block boxes are markup, while the ops are data that the script draws
when their block first opens, and the per-layer table is filled when it is first shown. Texts
and coordinates are final here; the script only places them.
"""

from __future__ import annotations

from typing import Any

from archspec.emit.diagram_text import op_text, shape_text
from archspec.ir.graph import ArchGraph
from archspec.report.boxes import Box
from archspec.report.diagram import Ops, Tree, input_shape
from archspec.stats import Stats

# Bits of an op's flags: drawn as a circle, dashed (a projection shortcut), an attention op.
CIRCLE, DASHED, BRANCH = 1, 2, 4


def layer_rows(stats: Stats, arch: ArchGraph) -> list[list[Any]]:
    """The per-layer table: path, op, stage, output, params, MACs, MACs %, acts, RF, stride."""
    total = stats.totals.macs
    return [
        [
            row.path,
            op_text(arch.graph.nodes[row.path]["op"]),
            row.stage,
            shape_text(row.shape),
            row.params,
            row.macs,
            f"{100 * row.macs / total if total else 0.0:.1f}%",
            row.acts,
            row.rf,
            row.stride,
        ]
        for row in stats.layers
    ]


def _number(value: float) -> int | float:
    """A coordinate for JSON: one decimal at most, an int when whole (deterministic text)."""
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


def _flags(shown: Box) -> int:
    return CIRCLE * shown.circle | DASHED * shown.dashed | BRANCH * shown.branch


def _group(ops: Ops, rows: dict[str, int], arch: ArchGraph) -> dict[str, Any]:
    """Boxes as [x, y, width, height, colour, flags, lines, layer row, input shape]: the
    script writes the tooltip from the layer row, as `boxes.Facts.tip` words it (a browser
    test holds the two to the same text), so that no op's numbers travel twice."""
    boxes = [
        [
            _number(placed.x),
            _number(placed.y),
            _number(placed.box.width),
            _number(placed.box.height),
            placed.box.colour,
            _flags(placed.box),
            [[_number(ln.x), _number(ln.y), ln.cls, ln.text] for ln in placed.box.lines],
            rows[placed.key],
            _shape(input_shape(arch, placed.key)),
        ]
        for placed in ops.layout.boxes
    ]
    edges = [[edge.path, int(edge.skip)] for edge in ops.layout.edges]
    return {"boxes": boxes, "edges": edges}


def _shape(shape: tuple[int, ...] | None) -> str | None:
    return None if shape is None else shape_text(shape)


def payload(stats: Stats, arch: ArchGraph, drawn: Tree) -> dict[str, Any]:
    rows = {row.path: index for index, row in enumerate(stats.layers)}
    return {
        "layers": layer_rows(stats, arch),
        "groups": {ops.key: _group(ops, rows, arch) for ops in drawn.groups},
    }
