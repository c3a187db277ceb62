"""A small directed graph with networkx's node/edge API, for the IR's hot path.

Importing networkx costs ~180 ms, more than compiling and analysing a ResNet-50, so the passes
run on this structure and `to_networkx()` hands out a real networkx.DiGraph (same node ids and
attributes) for graph algorithms and for users who want one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class NodeView:
    """`g.nodes[n]` -> attribute dict; `g.nodes(data=True)` -> (node, attrs) pairs."""

    def __init__(self, nodes: dict[str, dict[str, Any]]) -> None:
        self._nodes = nodes

    def __getitem__(self, node: str) -> dict[str, Any]:
        return self._nodes[node]

    def __call__(self, data: bool = False) -> Iterator[Any]:
        return iter(self._nodes.items()) if data else iter(self._nodes)

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._nodes


class DiGraph:
    """Insertion-ordered nodes with attribute dicts and ordered successor / predecessor lists."""

    def __init__(self) -> None:
        self._nodes: dict[str, dict[str, Any]] = {}
        self._succ: dict[str, list[str]] = {}
        self._pred: dict[str, list[str]] = {}
        self.nodes = NodeView(self._nodes)

    def add_node(self, node: str, **attrs: Any) -> None:
        self._nodes.setdefault(node, {}).update(attrs)
        self._succ.setdefault(node, [])
        self._pred.setdefault(node, [])

    def add_edge(self, source: str, target: str) -> None:
        for node in (source, target):
            if node not in self._nodes:
                self.add_node(node)
        if target not in self._succ[source]:
            self._succ[source].append(target)
            self._pred[target].append(source)

    def successors(self, node: str) -> Iterator[str]:
        return iter(self._succ[node])

    def predecessors(self, node: str) -> Iterator[str]:
        return iter(self._pred[node])

    def edges(self) -> Iterator[tuple[str, str]]:
        return ((s, t) for s, targets in self._succ.items() for t in targets)

    def number_of_nodes(self) -> int:
        return len(self._nodes)

    def number_of_edges(self) -> int:
        return sum(len(targets) for targets in self._succ.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    def to_networkx(self) -> Any:
        """A networkx.DiGraph with the same nodes, attributes (shared dicts' copies) and edges."""
        import networkx  # noqa: PLC0415 - 180 ms; only for callers who ask for it

        graph = networkx.DiGraph()
        graph.add_nodes_from(self._nodes.items())
        graph.add_edges_from(self.edges())
        return graph
