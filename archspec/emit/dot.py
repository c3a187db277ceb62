"""ArchGraph -> Graphviz DOT at three zoom levels: stage, block, layer.

Nodes are grouped into units (one op, one block, or one stage); edges between units carry the
tensor shape that flows along them. Text is ASCII and escaped by the graphviz package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import graphviz

from archspec.ir.graph import ArchGraph
from archspec.stats import compute_stats

LEVELS = ("stage", "block", "layer")
_COLOURS = {
    "conv": "#cfe2f3",
    "norm": "#fff2cc",
    "activation": "#d9ead3",
    "pool": "#f4cccc",
    "linear": "#d9d2e9",
    "add": "#eeeeee",
    "mul": "#eeeeee",
    "concat": "#eeeeee",
    "other": "#ffffff",
}


@dataclass
class _Unit:
    key: str
    nodes: list[str] = field(default_factory=list)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _human(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def emit_dot(arch: ArchGraph, level: str = "block") -> str:
    unit_of = _unit_function(arch, level)
    units: dict[str, _Unit] = {}
    for node, data in arch.nodes():
        if data["stage"] == "input" or data["op"].kind == "flatten":
            continue
        key = unit_of(node, data)
        units.setdefault(key, _Unit(key)).nodes.append(node)
    totals = compute_stats(arch).totals
    dot = graphviz.Digraph(
        arch.name,
        graph_attr={
            "rankdir": "TB",
            "fontname": "Helvetica",
            "labelloc": "t",
            "label": f"{arch.title or arch.name}: {totals.params:,} params, "
            f"{totals.macs:,} MACs at {_shape(arch.input_shape)}",
        },
    )
    dot.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10")
    dot.attr("edge", fontname="Helvetica", fontsize="8")
    dot.node("input", f"input\n{_shape(arch.input_shape)}", fillcolor="#ffffff")
    _add_units(dot, arch, units, level)
    _add_edges(dot, arch, units, unit_of)
    return str(dot.source)


def _unit_function(arch: ArchGraph, level: str) -> Callable[[str, dict[str, Any]], str]:
    if level == "layer":
        return lambda node, data: node
    if level == "block":
        return lambda node, data: data["block"] or node
    return lambda node, data: data["stage"]


def _add_units(dot: graphviz.Digraph, arch: ArchGraph, units: dict[str, _Unit], level: str) -> None:
    if level != "layer":
        for unit in units.values():
            dot.node(_id(unit.key), _unit_label(arch, unit, level), fillcolor=_fill(arch, unit))
        return
    by_block: dict[str, list[_Unit]] = {}
    for unit in units.values():
        by_block.setdefault(arch.graph.nodes[unit.nodes[0]]["block"], []).append(unit)
    for block, members in by_block.items():
        target = dot
        if block:
            with dot.subgraph(name=f"cluster_{_id(block)}") as sub:
                sub.attr(label=block, style="rounded", color="#999999", fontname="Helvetica")
                for unit in members:
                    sub.node(
                        _id(unit.key), _unit_label(arch, unit, level), fillcolor=_fill(arch, unit)
                    )
            continue
        for unit in members:
            target.node(_id(unit.key), _unit_label(arch, unit, level), fillcolor=_fill(arch, unit))


def _add_edges(
    dot: graphviz.Digraph,
    arch: ArchGraph,
    units: dict[str, _Unit],
    unit_of: Callable[[str, dict[str, Any]], str],
) -> None:
    graph = arch.graph
    seen: set[tuple[str, str]] = set()
    for unit in units.values():
        for node in unit.nodes:
            for source in _visible_inputs(arch, node):
                data = graph.nodes[source]
                head = "input" if data["stage"] == "input" else unit_of(source, data)
                if head == unit.key or (head, unit.key) in seen:
                    continue
                seen.add((head, unit.key))
                dot.edge(_id(head), _id(unit.key), label=_shape(data["shape"]))


def _visible_inputs(arch: ArchGraph, node: str) -> list[str]:
    """Inputs with flatten nodes skipped (they are drawn as part of the edge)."""
    out = []
    for source in arch.inputs(node):
        if arch.graph.nodes[source]["op"].kind == "flatten":
            out += arch.inputs(source)
        else:
            out.append(source)
    return out


def _unit_label(arch: ArchGraph, unit: _Unit, level: str) -> str:
    nodes = [arch.graph.nodes[n] for n in unit.nodes]
    last = nodes[-1]
    params = sum(d["params"] for d in nodes)
    macs = sum(d["macs"] for d in nodes)
    if level == "layer":
        title = f"{last['path']}\n{last['op'].describe()}"
    elif level == "block":
        title = _block_title(arch, unit, nodes)
    else:
        title = _stage_title(arch, unit.key)
    lines = [title, _shape(last["shape"])]
    if params or macs:
        lines.append(f"{_human(params)} params, {_human(macs)} MACs")
    return "\n".join(lines)


def _block_title(arch: ArchGraph, unit: _Unit, nodes: list[dict[str, Any]]) -> str:
    if len(nodes) == 1:
        return f"{nodes[0]['path']}\n{nodes[0]['op'].describe()}"
    projected = any(".downsample." in d["path"] for d in nodes)
    stage = next(s for s in arch.stages if s.key == nodes[0]["stage"])
    return f"{unit.key}\n{stage.block_type}" + (" (projection)" if projected else "")


def _stage_title(arch: ArchGraph, key: str) -> str:
    stage = next(s for s in arch.stages if s.key == key)
    if stage.key in ("stem", "head"):
        return f"{key}\n{stage.block_type}"
    return f"{key} ({stage.module})\n{stage.block_type} x{stage.depth}"


def _fill(arch: ArchGraph, unit: _Unit) -> str:
    if len(unit.nodes) > 1:
        return "#f3f3f3"
    return _COLOURS.get(arch.graph.nodes[unit.nodes[0]]["op"].category, "#ffffff")


def _id(key: str) -> str:
    return key.replace(".", "_").replace("#", "_n")
