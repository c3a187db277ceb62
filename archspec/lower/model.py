"""Spec -> ArchGraph: the one place a stage table becomes blocks and modules.

A family (residual, pre-activation, dense) fixes the model's module layout, i.e. its state_dict
names: where the stem's and the stages' modules live, and what follows the last stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archspec.ir.graph import ArchGraph, Builder, Member, Scope, Seq, StageInfo, Step
from archspec.ir.ops import Input
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.dense import lower_dense_stage, lower_dense_stem, lower_dense_tail
from archspec.lower.errors import LowerError
from archspec.lower.geometry import stage_geometry
from archspec.lower.head import lower_head
from archspec.lower.preact import lower_preact_stage, lower_preact_stem, lower_preact_tail
from archspec.lower.residual import lower_residual_stage
from archspec.lower.stem import lower_stem
from archspec.spec.models import Spec, default_class_name

Children = list[tuple[str, Any]]
StemLowering = Callable[[Builder, Spec, str], tuple[StageOutput, Children]]
StageLowering = Callable[[StageInput], tuple[StageOutput, Children]]
TailLowering = Callable[[ArchGraph, Builder, Spec, StageOutput], str]


@dataclass(frozen=True)
class Family:
    """How one family lays its modules out."""

    blocks: tuple[str, ...]
    stem: StemLowering
    stage: StageLowering
    tail: TailLowering
    # Container member of the stem's / stages' children (None: top-level attributes);
    # a named container is an nn.Sequential with named children, an unnamed one is indexed.
    stem_container: str | None = None
    stage_container: str | None = None
    named_container: bool = False


def _residual_tail(arch: ArchGraph, b: Builder, spec: Spec, current: StageOutput) -> str:
    if spec.head is None:
        return current.x
    return lower_head(arch, b, spec.head, current)


FAMILIES = (
    Family(("basic", "bottleneck"), lower_stem, lower_residual_stage, _residual_tail),
    Family(
        ("preact_basic", "preact_bottleneck"),
        lower_preact_stem,
        lower_preact_stage,
        lower_preact_tail,
        stage_container="stages",
    ),
    Family(
        ("dense",),
        lower_dense_stem,
        lower_dense_stage,
        lower_dense_tail,
        stem_container="features",
        stage_container="features",
        named_container=True,
    ),
)
STAGE_LOWERINGS = {block: family.stage for family in FAMILIES for block in family.blocks}


def class_name(spec: Spec) -> str:
    return spec.class_name or default_class_name(spec.name)


@dataclass
class _Layout:
    """Children gathered into containers while lowering; becomes members at the end."""

    arch: ArchGraph
    family: Family
    containers: dict[str, Children] = field(default_factory=dict)

    def place(self, children: Children, container: str | None) -> None:
        for name, value in children:
            if container is None:
                self.arch.model.members.append(Member(name, value))
                self.arch.model.features.append(Step("call", name))
                continue
            if container not in self.containers:
                self.containers[container] = []
                self.arch.model.members.append(Member(container, Seq(())))
            self.containers[container].append((name, value))
            ref = f"{container}.{name}" if self.family.named_container else f"{container}[{name}]"
            self.arch.model.features.append(Step("call", ref))

    def finish(self) -> None:
        members = self.arch.model.members
        for i, member in enumerate(members):
            children = self.containers.get(member.attr)
            if children is not None:
                names = tuple(n for n, _ in children) if self.family.named_container else None
                members[i] = Member(member.attr, Seq(tuple(v for _, v in children), names))


def lower(spec: Spec) -> ArchGraph:
    family = _family(spec)
    arch = ArchGraph(spec.name, class_name(spec), spec.title, spec.reference, tuple(spec.input))
    arch.model.zero_init_residual = spec.zero_init_residual
    b = Builder(arch)
    layout = _Layout(arch, family)
    x = b.add(Input(tuple(spec.input)), [], Scope("", "input"), "input", module=False)
    current, children = family.stem(b, spec, x)
    layout.place(children, family.stem_container)
    arch.stages.append(StageInfo("stem", "", spec.stem.type, 1))
    _tap(arch, spec, "stem", current.x)
    geometry = stage_geometry(spec)
    for index, row in enumerate(spec.stages):
        last = index == len(spec.stages) - 1
        st = StageInput(spec, row, index, b, current.x, current.channels, last, geometry[index])
        current, children = family.stage(st)
        layout.place(children, family.stage_container)
        container = family.stage_container
        module = f"{container}.{children[0][0]}" if container else children[0][0]
        arch.stages.append(StageInfo(st.key, module, row.block, row.depth))
        _tap(arch, spec, st.key, current.x)
    _check_taps(spec)
    arch.output = family.tail(arch, b, spec, current)
    layout.finish()
    if spec.head is not None:
        arch.model.ctor_params.append(("num_classes", "int", spec.head.num_classes))
        arch.stages.append(StageInfo("head", "", spec.head.type, 1))
    return arch


def _family(spec: Spec) -> Family:
    first = next(f for f in FAMILIES if spec.stages[0].block in f.blocks)
    for index, row in enumerate(spec.stages):
        if row.block not in first.blocks:
            raise LowerError(
                ("stages", index, "block"),
                f"{row.block!r} stages cannot follow "
                f"{spec.stages[0].block!r} stages in one network",
                "use blocks of one family: " + ", ".join(first.blocks),
            )
    return first


def _check_taps(spec: Spec) -> None:
    known = ["stem"] + [f"stage{i + 1}" for i in range(len(spec.stages))]
    for i, tap in enumerate(spec.outputs or []):
        if tap not in known:
            raise LowerError(
                ("outputs", i),
                f"{tap!r} is not a stage of this network",
                "taps available here: " + ", ".join(known),
            )
    if spec.outputs and len(set(spec.outputs)) != len(spec.outputs):
        raise LowerError(("outputs",), "lists a tap twice", "name each tap once")


def _tap(arch: ArchGraph, spec: Spec, key: str, node: str) -> None:
    if spec.outputs and key in spec.outputs:
        arch.taps[key] = node
        arch.model.features.append(Step("tap", key))
        arch.model.taps.append(key)
