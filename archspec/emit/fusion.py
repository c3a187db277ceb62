"""(conv, norm) pairs that a generated model's fuse() folds, read from the IR's data flow.

Each block template lists the pairs inside its own class (`fusible = ...`); the model class lists
the pairs its own constructor builds: the stem and the projection shortcuts it passes to blocks.
The tests check that the two together fold exactly `fusible(arch)`.
"""

from __future__ import annotations

import json
from typing import Any

from archspec.emit.source import INDENT, LINE_LENGTH
from archspec.ir.graph import ArchGraph, BlockClass, Call, Member, Seq
from archspec.ir.ops import BatchNorm2d, Conv2d, Op


def fusible(arch: ArchGraph) -> list[tuple[str, str]]:
    """(conv, norm) module paths where the norm reads that conv's output and nothing else
    reads it: the pairs fuse() folds."""
    graph = arch.graph
    pairs = []
    for node, data in arch.nodes():
        inputs = data["inputs"]
        if not isinstance(data["op"], BatchNorm2d) or len(inputs) != 1:
            continue
        source = graph.nodes[inputs[0]]
        # Exactly a Conv2d: fuse_conv_bn rebuilds an nn.Conv2d (not a "same"-padded one).
        if type(source["op"]) is Conv2d and list(graph.successors(inputs[0])) == [node]:
            pairs.append((source["path"], data["path"]))
    return pairs


def model_pairs(arch: ArchGraph) -> list[tuple[str, str]]:
    """The fusible pairs whose modules the model's own constructor builds."""
    owned = {path for member in arch.model.members for path in _built_by_model(member)}
    return [(c, n) for c, n in fusible(arch) if c in owned and n in owned]


def _built_by_model(member: Member) -> list[str]:
    return list(_paths(member.value, member.attr))


def _paths(value: Any, path: str) -> Any:
    """Module paths of the torch ops written in the model's constructor (not in a block's)."""
    if isinstance(value, Op) or (isinstance(value, Call) and isinstance(value.target, str)):
        yield path
    elif isinstance(value, Seq):
        keys = value.names if value.names is not None else range(len(value.items))
        for key, item in zip(keys, value.items, strict=True):
            yield from _paths(item, f"{path}.{key}")
    elif isinstance(value, Call) and isinstance(value.target, BlockClass):
        # A module handed to a block (downsample=...) is stored under the argument's name.
        for key, item in value.kwargs:
            yield from _paths(item, f"{path}.{key}")


def pairs_statement(pairs: list[tuple[str, str]], indent: int) -> str:
    """`fusible = (...)` as `ruff format` lays it out: on one line if it fits, else one pair
    per line with a trailing comma."""
    items = [f"({json.dumps(conv)}, {json.dumps(norm)})" for conv, norm in pairs]
    flat = "fusible = (" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if indent + len(flat) <= LINE_LENGTH:
        return flat
    inner = " " * (indent + len(INDENT))
    body = "".join(f"{inner}{item},\n" for item in items)
    return "fusible = (\n" + body + " " * indent + ")"
