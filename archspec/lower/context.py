"""What a stage lowering receives and returns."""

from __future__ import annotations

from dataclasses import dataclass

from archspec.ir.graph import Builder, Scope
from archspec.lower.geometry import StageGeometry
from archspec.spec.layout import Layout, render
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


@dataclass
class StageOutput:
    x: str
    channels: int
