"""Spec -> ArchGraph: the one place a stage table becomes blocks and modules."""

from __future__ import annotations

from collections.abc import Callable

from archspec.ir.graph import ArchGraph, Builder, Member, Scope, StageInfo, Step
from archspec.ir.ops import Input
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.errors import LowerError
from archspec.lower.head import NUM_CLASSES, lower_head
from archspec.lower.residual import lower_residual_stage
from archspec.lower.stem import lower_stem
from archspec.spec.models import Spec

StageLowering = Callable[[StageInput], tuple[StageOutput, Member]]

# block type -> how a stage of it is lowered (the registry DESIGN.md asks for).
STAGE_LOWERINGS: dict[str, StageLowering] = {
    "basic": lower_residual_stage,
    "bottleneck": lower_residual_stage,
}


def class_name(spec: Spec) -> str:
    """resnet50_c5_backbone -> Resnet50C5Backbone; an `_` stays before a digit (Resnext50_32x4d)."""
    if spec.class_name:
        return spec.class_name
    text = ""
    for part in spec.name.split("_"):
        if part:
            text += ("_" if part[0].isdigit() and text else "") + part[0].upper() + part[1:]
    return text


def lower(spec: Spec) -> ArchGraph:
    arch = ArchGraph(spec.name, class_name(spec), spec.title, spec.reference, tuple(spec.input))
    b = Builder(arch)
    x = b.add(Input(tuple(spec.input)), [], Scope("", "input"), "input", module=False)
    stem, members = lower_stem(b, spec, x)
    arch.model.members += members
    arch.model.features += [Step("call", m.attr) for m in members]
    arch.stages.append(StageInfo("stem", "", spec.stem.type, 1))
    _tap(arch, spec, "stem", stem.x)
    current = stem
    for index, _row in enumerate(spec.stages):
        current = _lower_stage(arch, b, spec, index, current)
    arch.output = current.x
    _check_taps(spec)
    if spec.head is not None:
        arch.output, members, steps = lower_head(b, spec.head, current.x, current.channels)
        arch.model.members += members
        arch.model.head += steps
        arch.model.ctor_params.append(("num_classes", "int", spec.head.num_classes))
        arch.stages.append(StageInfo("head", "", spec.head.type, 1))
    return arch


def _lower_stage(
    arch: ArchGraph, b: Builder, spec: Spec, index: int, current: StageOutput
) -> StageOutput:
    row = spec.stages[index]
    lowering = STAGE_LOWERINGS.get(row.block)
    if lowering is None:
        raise LowerError(
            ("stages", index, "block"),
            f"block {row.block!r} is not supported yet",
            "use one of: " + ", ".join(STAGE_LOWERINGS),
        )
    st = StageInput(spec, row, index, b, current.x, current.channels, index == len(spec.stages) - 1)
    out, member = lowering(st)
    arch.model.members.append(member)
    arch.model.features.append(Step("call", member.attr))
    arch.stages.append(StageInfo(st.key, member.attr, row.block, row.depth))
    _tap(arch, spec, st.key, out.x)
    return out


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


__all__ = ["NUM_CLASSES", "STAGE_LOWERINGS", "lower"]
