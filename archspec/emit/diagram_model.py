"""What a diagram shows at one zoom level: boxes ("units") that group IR nodes, and their edges.

- layer: one unit per op, inside clusters per stage, per block and per attention branch;
- block: per block its body, its projection shortcut and its merge (the residual add or the
  dense concatenation, with the ops after it); ops outside blocks form one unit per run
  (stem, head, DenseNet's final norm); clusters per stage;
- stage: one unit per stage.

Consecutive identical blocks (same ops, shapes and wiring) are drawn once and marked xN unless
`collapse` is off: a ResNet-152 stage of 36 blocks becomes its projection block plus one x35
block. Edges between repetitions of a collapsed run are dropped; the drawn copy keeps the
edges into the run and the last copy's edges out of it. The layers of a dense block differ
only in their input width (each reads the running concatenation and appends growth_rate
channels), so they collapse too: the drawn layer takes the block's input and its
concatenation gives the block's output. Expanded, a dense block is a concatenation chain, as
the IR models it, with no all-to-all edges.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from archspec.ir.graph import ArchGraph
from archspec.ir.ops import Shape

LEVELS = ("stage", "block", "layer")
MERGE_KINDS = frozenset({"add", "concat"})


@dataclass(frozen=True)
class Copy:
    """Where a node is drawn: the node that stands for it, in which run, which repetition."""

    node: str
    run: str  # the drawn block of its run of identical blocks; "" outside blocks
    index: int  # 0 for the drawn repetition


@dataclass
class Unit:
    key: str
    role: str  # input | op | body | shortcut | merge | group | stage | output
    nodes: list[str] = field(default_factory=list)
    clusters: tuple[str, ...] = ()
    block: str = ""
    stage: str = ""
    name: str = ""  # what an input or output box says


@dataclass(frozen=True)
class Link:
    tail: str
    head: str
    shape: Shape
    skip: bool = False  # a shortcut, or the running features a merge carries forward


@dataclass(frozen=True)
class Cluster:
    kind: str  # stage | block | branch
    stage: str
    tag: str = ""


@dataclass
class Diagram:
    arch: ArchGraph
    level: str
    units: dict[str, Unit]
    links: list[Link]
    clusters: dict[str, Cluster]
    runs: dict[str, tuple[str, ...]]  # drawn block -> every block it stands for
    parts: dict[str, str]  # block node -> body | shortcut | merge | after
    same_rank: list[tuple[str, ...]]  # units drawn side by side


def build(arch: ArchGraph, level: str, *, collapse: bool = True) -> Diagram:
    if level not in LEVELS:
        raise ValueError(f"unknown diagram level {level!r}; use one of {', '.join(LEVELS)}")
    blocks = _blocks(arch)
    # A stage box sums all its blocks, so nothing may stand in for another there.
    runs = _runs(arch, blocks, collapse=collapse and level != "stage")
    copies = _copies(arch, blocks, runs)
    parts = _parts(arch, blocks)
    drawn = [node for node, copy in copies.items() if copy.node == node]
    units = _units(arch, level, drawn, parts)
    unit_of = {node: unit.key for unit in units.values() for node in unit.nodes}
    links = _links(arch, copies, unit_of, parts)
    _add_outputs(arch, copies, unit_of, units, links)
    rows = _rows(arch, units) if level != "stage" else []
    return Diagram(arch, level, units, links, clusters_of(units), runs, parts, rows)


def _blocks(arch: ArchGraph) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    for node, data in arch.nodes():
        if data["block"]:
            blocks.setdefault(data["block"], []).append(node)
    return blocks


def _runs(
    arch: ArchGraph, blocks: dict[str, list[str]], *, collapse: bool
) -> dict[str, tuple[str, ...]]:
    runs: dict[str, list[str]] = {}
    last: tuple[str, Hashable] | None = None
    for block, nodes in blocks.items():
        signature = _signature(arch, block, nodes)
        if collapse and last is not None and last[1] == signature:
            runs[last[0]].append(block)
            continue
        runs[block] = [block]
        last = (block, signature)
    return {block: tuple(members) for block, members in runs.items()}


def _signature(arch: ArchGraph, block: str, nodes: list[str]) -> Hashable:
    """Equal for blocks that compute the same thing from the same kind of input."""
    inside = set(nodes)

    def relative(node: str) -> str:
        return node[len(block) :] if node in inside else ""

    graph = arch.graph.nodes
    dense = graph[nodes[-1]]["op"].kind == "concat"
    ops = tuple(
        (
            relative(n),
            _without_width(graph[n]["op"]) if dense else graph[n]["op"],
            graph[n]["shape"][1:] if dense else graph[n]["shape"],
            tuple(map(relative, graph[n]["inputs"])),
        )
        for n in nodes
    )
    return graph[nodes[0]]["stage"], ops


def is_dense_layer(arch: ArchGraph, block: str) -> bool:
    """A block that ends in a concatenation: a DenseNet layer."""
    last = next(n for n, data in reversed(list(arch.nodes())) if data["block"] == block)
    return bool(arch.graph.nodes[last]["op"].kind == "concat")


def _without_width(op: Any) -> Any:
    """A dense layer's op with the width it reads masked: the one thing layers differ in."""
    masked = {f.name: 0 for f in fields(op) if f.name in ("in_channels", "num_features")}
    return replace(op, **masked)


def _copies(
    arch: ArchGraph, blocks: dict[str, list[str]], runs: dict[str, tuple[str, ...]]
) -> dict[str, Copy]:
    copies = {node: Copy(node, "", 0) for node, _ in arch.nodes()}
    for drawn, members in runs.items():
        for index, block in enumerate(members):
            for node in blocks[block]:
                copies[node] = Copy(drawn + node[len(block) :], drawn, index)
    return copies


def _parts(arch: ArchGraph, blocks: dict[str, list[str]]) -> dict[str, str]:
    parts: dict[str, str] = {}
    for block, nodes in blocks.items():
        merge = _merge_index(arch, nodes)
        for index, node in enumerate(nodes):
            parts[node] = _part(node[len(block) + 1 :], index, merge)
    return parts


def _merge_index(arch: ArchGraph, nodes: list[str]) -> int:
    """The block's residual add or dense concatenation (attention branches have their own)."""
    for index in range(len(nodes) - 1, -1, -1):
        data = arch.graph.nodes[nodes[index]]
        if data["op"].kind in MERGE_KINDS and not data["tag"]:
            return index
    return len(nodes)


def _part(relative: str, index: int, merge: int) -> str:
    if index > merge:
        return "after"
    if index == merge:
        return "merge"
    return "shortcut" if relative.partition(".")[0] == "downsample" else "body"


def _units(arch: ArchGraph, level: str, drawn: list[str], parts: dict[str, str]) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    previous: Unit | None = None
    for node in drawn:
        data = arch.graph.nodes[node]
        key, role = _place(level, node, data, parts.get(node, ""))
        if role == "group" and previous and previous.role == role:
            key = previous.key if previous.stage == data["stage"] else key
        unit = units.setdefault(
            key, Unit(key, role, block=data["block"], stage=data["stage"], name=key)
        )
        unit.nodes.append(node)
        previous = unit
    blocky = {data["stage"] for _, data in arch.nodes() if data["block"]}
    for unit in units.values():
        unit.clusters = _cluster_path(arch, level, unit, blocky)
    return units


def _place(level: str, node: str, data: dict[str, Any], part: str) -> tuple[str, str]:
    """The unit key and role of a drawn node (a run of block-less ops shares its first key)."""
    if data["stage"] == "input":
        return "input", "input"
    if level == "layer":
        return node, "op"
    if level == "stage":
        return data["stage"], "stage"
    if part:
        role = "merge" if part == "after" else part
        return data["block"] if role == "body" else f"{data['block']}/{role}", role
    return data["stage"] if data["stage"] in ("stem", "head") else node, "group"


def _cluster_path(arch: ArchGraph, level: str, unit: Unit, blocky: set[str]) -> tuple[str, ...]:
    if unit.role == "input" or level == "stage":
        return ()
    if level == "block":
        return (unit.stage,) if unit.stage in blocky else ()
    tag = arch.graph.nodes[unit.nodes[0]]["tag"]
    path: tuple[str, ...] = (unit.stage,)
    if unit.block:
        path += (unit.block,)
    return path + ((f"{unit.block}/{tag}",) if unit.block and tag else ())


def clusters_of(units: dict[str, Unit]) -> dict[str, Cluster]:
    clusters: dict[str, Cluster] = {}
    for unit in units.values():
        for depth, key in enumerate(unit.clusters):
            kind = ("stage", "block", "branch")[depth]
            tag = key.rsplit("/", 1)[-1] if kind == "branch" else ""
            clusters.setdefault(key, Cluster(kind, unit.stage, tag))
    return clusters


def _links(
    arch: ArchGraph, copies: dict[str, Copy], unit_of: dict[str, str], parts: dict[str, str]
) -> list[Link]:
    found: dict[tuple[str, str], Link] = {}
    for node, data in arch.nodes():
        target = copies[node]
        for source in data["inputs"]:
            origin = copies[source]
            if target.run and target.run == origin.run and target.index != origin.index:
                continue  # between repetitions of a collapsed run
            tail, head = unit_of[origin.node], unit_of[target.node]
            if tail == head:
                continue
            skip = is_skip(arch, parts, origin.node, target.node)
            link = Link(tail, head, arch.graph.nodes[source]["shape"], skip)
            known = found.setdefault((tail, head), link)
            if known.skip and not skip:
                found[(tail, head)] = replace(known, skip=False)
    return list(found.values())


def is_skip(arch: ArchGraph, parts: dict[str, str], source: str, target: str) -> bool:
    """Shortcut paths, and what a merge receives from outside its block's body."""
    if "shortcut" in (parts.get(source), parts.get(target)):
        return True
    graph = arch.graph.nodes
    return parts.get(target) == "merge" and graph[source]["block"] != graph[target]["block"]


def _rows(arch: ArchGraph, units: dict[str, Unit]) -> list[tuple[str, ...]]:
    """Each block of a dense stage on one rank: its boxes left to right.

    A dense layer's row ends in its concatenation, and the concatenations form a vertical
    trunk of running features: one rank per layer, where box below box would take three
    (block level) or seven (layer level). Transitions are rows too, which keeps each stage
    from starting far to the right of the one before.
    """
    rows: dict[str, list[str]] = {}
    for unit in units.values():
        if unit.block and unit.role != "output":
            rows.setdefault(unit.block, []).append(unit.key)
    dense = {units[keys[-1]].stage for keys in rows.values() if _is_concat(arch, units[keys[-1]])}
    return [
        tuple(keys) for keys in rows.values() if len(keys) > 1 and units[keys[0]].stage in dense
    ]


def _is_concat(arch: ArchGraph, unit: Unit) -> bool:
    return bool(arch.graph.nodes[unit.nodes[-1]]["op"].kind == "concat")


def _add_outputs(
    arch: ArchGraph,
    copies: dict[str, Copy],
    unit_of: dict[str, str],
    units: dict[str, Unit],
    links: list[Link],
) -> None:
    """A node per feature tap, and one for the model's output unless a tap already is it."""
    outputs = {f"output:{name}": (node, f"{name} features") for name, node in arch.taps.items()}
    if arch.output not in arch.taps.values():
        outputs["output"] = (arch.output, "output")
    for key, (node, name) in outputs.items():
        units[key] = Unit(key, "output", [node], name=name)
        shape = arch.graph.nodes[node]["shape"]
        links.append(Link(unit_of[copies[node].node], key, shape))
