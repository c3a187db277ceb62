"""What a stage lowering receives and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archspec.ir.graph import Builder, Scope, Seq
from archspec.lower.geometry import StageGeometry
from archspec.spec.layout import Layout, block_name, render
from archspec.spec.models import Spec, StageRow


@dataclass
class StageInput:
    """A stage to lower: its row, where it goes, and the tensor it starts from."""

    spec: Spec
    row: StageRow
    index: int  # 0-based stage index
    builder: Builder
    x: str  # node id of the stage input
    channels: int
    last: bool  # the final stage (DenseNet: no transition after it)
    geometry: StageGeometry  # stride and dilations (see archspec.lower.geometry)
    layout: Layout  # how modules are named (see archspec.spec.layout)
    # Blocks already in a flat layout's one container (the stem's and earlier stages').
    offset: int = 0

    @property
    def loc(self) -> tuple[str | int, ...]:
        return ("stages", self.index)

    @property
    def key(self) -> str:
        return f"stage{self.index + 1}"

    def path(self, template: str) -> str:
        """A layout name template filled in for this stage: `layer{n}` -> `layer2`."""
        return render(template, n=self.index + 1, i=self.index)

    def scope(self, module: str) -> Scope:
        return Scope(module, self.key)

    def block_path(self, index: int) -> str:
        """Module path of the stage's block `index`: `layer2.0`, or in a flat layout the
        container's next number (`features.7`)."""
        module = self.path(self.layout.stages.path)
        named = self.layout.stages.block_name
        if named is not None:
            return f"{module}.{block_name(named, self.index, index)}"
        if self.layout.stages.grouped:
            return f"{module}.{self.offset}.{index}"
        return f"{module}.{self.offset + index if self.layout.stages.flat else index}"

    def children(self, calls: Sequence[object]) -> list[tuple[str, object]]:
        """The stage's members: one Sequential of its blocks, or in a flat layout each block
        as the container's next child."""
        module = self.path(self.layout.stages.path)
        if self.layout.stages.grouped:
            return [(f"{module}.{self.offset}", Seq(tuple(calls)))]
        if self.layout.stages.flat:
            return [(f"{module}.{self.offset + i}", call) for i, call in enumerate(calls)]
        named = self.layout.stages.block_name
        if named is not None:
            names = (block_name(named, self.index, i) for i in range(len(calls)))
            return [(module, Seq.named(*zip(names, calls, strict=True)))]
        return [(module, Seq(tuple(calls)))]


@dataclass
class StageOutput:
    x: str
    channels: int
