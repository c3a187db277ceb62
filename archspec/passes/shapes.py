"""Shape propagation: every node gets `shape` (its output, batch left out)."""

from __future__ import annotations

from archspec.ir.graph import ArchGraph
from archspec.ir.ops import ShapeError


class ShapePassError(Exception):
    """An op rejected its input; names the node and stage so the error can be located."""

    def __init__(
        self, node: str, stage: str, message: str, origin: tuple[str, int] | None = None
    ) -> None:
        super().__init__(f"{node}: {message}")
        self.node = node
        self.stage = stage
        self.message = message
        # (block kind, forward step) of an op a block definition made (archspec.lower.blocks).
        self.origin = origin


def infer_shapes(arch: ArchGraph) -> None:
    graph = arch.graph
    for node, data in arch.nodes():
        inputs = [graph.nodes[source]["shape"] for source in data["inputs"]]
        try:
            data["shape"] = data["op"].infer(inputs)
        except ShapeError as exc:
            raise ShapePassError(node, data["stage"], str(exc), data.get("origin")) from None
