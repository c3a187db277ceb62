"""ArchGraph: the op graph (networkx API; `to_networkx()`) plus the module tree for emitters.

Every node holds one typed op, its module path (the state_dict prefix), and the stage and
block it belongs to. The module tree (`Member`s of `Call`s) mirrors the same ops as
constructor calls, so the emitted file and the analytic numbers come from one lowering.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from archspec.ir.code import BlockClass, Call, Name, Seq
from archspec.ir.digraph import DiGraph
from archspec.ir.ops import Op, Shape, TensorInfo

# The code values live in archspec.ir.code (ops build them too); re-exported for lowering.
__all__ = [
    "ArchGraph",
    "BlockClass",
    "Builder",
    "Call",
    "Member",
    "ModelDecl",
    "Name",
    "Scope",
    "Seq",
    "StageInfo",
    "Step",
]


@dataclass(frozen=True)
class Member:
    """`self.<attr> = <value>` in the model's constructor."""

    attr: str
    value: Op | Call | Seq


@dataclass(frozen=True)
class Step:
    """One line of the model's forward: call a member, flatten, or record a feature tap."""

    kind: str  # "call" | "flatten" | "pool" (functional, target: output side) | "tap"
    target: str


@dataclass
class ModelDecl:
    """What the model class looks like in code."""

    members: list[Member] = field(default_factory=list)
    features: list[Step] = field(default_factory=list)
    head: list[Step] = field(default_factory=list)
    taps: list[str] = field(default_factory=list)
    ctor_params: list[tuple[str, str, Any]] = field(default_factory=list)  # name, type, default
    zero_init_residual: bool = False


@dataclass(frozen=True)
class StageInfo:
    key: str  # "stem", "stage1", ..., "head"
    module: str  # module path of the stage ("layer1"); "" when spread over members
    block_type: str
    depth: int


@dataclass
class ArchGraph:
    name: str
    class_name: str
    title: str
    reference: str
    input_shape: Shape
    graph: DiGraph = field(default_factory=DiGraph)
    model: ModelDecl = field(default_factory=ModelDecl)
    stages: list[StageInfo] = field(default_factory=list)
    taps: dict[str, str] = field(default_factory=dict)  # tap name -> node id
    output: str = ""

    def nodes(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Nodes in execution (insertion == topological) order."""
        yield from self.graph.nodes(data=True)

    def inputs(self, node: str) -> list[str]:
        return list(self.graph.nodes[node]["inputs"])

    def to_networkx(self) -> Any:
        """The op graph as a networkx.DiGraph."""
        return self.graph.to_networkx()

    def state_dict(self) -> dict[str, TensorInfo]:
        """Every state_dict entry, keyed by its full name, in module order."""
        out: dict[str, TensorInfo] = {}
        for _, data in self.nodes():
            for tensor in data["op"].tensors():
                # A bare nn.Parameter member (layer scale) is its own entry: no suffix.
                out[f"{data['path']}.{tensor.name}" if tensor.name else data["path"]] = tensor
        return out


@dataclass(frozen=True)
class Scope:
    """Where ops being added belong: module path prefix, stage and block."""

    prefix: str
    stage: str
    block: str = ""
    # The attention add-on ops belong to ("se", "sk", "split"), for breakdowns.
    tag: str = ""

    def path(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def child(self, name: str, *, block: bool = False) -> Scope:
        path = self.path(name)
        return Scope(path, self.stage, path if block else self.block, self.tag)

    def tagged(self, tag: str) -> Scope:
        return Scope(self.prefix, self.stage, self.block, tag)


class Builder:
    """Adds ops to an ArchGraph, giving each node a unique id derived from its module path."""

    def __init__(self, arch: ArchGraph) -> None:
        self.arch = arch
        self._seen: dict[str, int] = {}
        # Facts a lowering works out once per network (keyed by its own tuples).
        self.memo: dict[tuple[str, str], Any] = {}

    def add(
        self,
        op: Op,
        inputs: list[str],
        scope: Scope,
        name: str,
        *,
        module: bool = True,
        origin: tuple[str, int] | None = None,
    ) -> str:
        """Add op as `name` inside scope; module=False marks functional ops (add, cat);
        `origin`: the (block kind, step) of a definition that made it, to locate errors."""
        path = scope.path(name)
        count = self._seen.get(path, 0) + 1
        self._seen[path] = count
        node = path if count == 1 else f"{path}#{count}"
        self.arch.graph.add_node(
            node,
            op=op,
            path=path,
            module=module,
            inputs=tuple(inputs),
            stage=scope.stage,
            tag=scope.tag,
            block=scope.block,
            origin=origin,
        )
        for source in inputs:
            self.arch.graph.add_edge(source, node)
        return node

    def chain(self, ops: list[tuple[str, Op]], x: str, scope: Scope) -> str:
        for name, op in ops:
            x = self.add(op, [x], scope, name)
        return x
