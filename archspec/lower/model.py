"""Spec -> ArchGraph: the one place a stage table becomes blocks and modules.

A family (residual, pre-activation, dense) lowers its stages' blocks; its layout (data, see
archspec.spec.layout) names everything: where the stem's and the stages' modules live, and what
follows the last stage. The layout's module paths become the model's members here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archspec.ir.graph import ArchGraph, Builder, Member, Scope, Seq, StageInfo, Step
from archspec.ir.ops import Input
from archspec.lower.blocks import choice_used
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.defined import lower_defined_stage, lower_defined_stem, lower_defined_tail
from archspec.lower.dense import lower_dense_stage
from archspec.lower.errors import LowerError
from archspec.lower.geometry import stage_geometry
from archspec.lower.head import lower_tail
from archspec.lower.preact import lower_preact_stage
from archspec.lower.residual import lower_residual_stage
from archspec.lower.stem import lower_stem
from archspec.spec.layout import Layout, builtin_layout
from archspec.spec.models import STEM_TYPES, Spec, default_class_name

# (module path, value) pairs: a path of one segment is a member of the model; a longer one
# lives in the container named by its first segment (see _Placement).
Children = list[tuple[str, Any]]
StageLowering = Callable[[StageInput], tuple[StageOutput, Children]]


@dataclass(frozen=True)
class Family:
    """Blocks that lower alike, and the layout that names their model by default."""

    blocks: tuple[str, ...]
    stage: StageLowering
    layout_name: str

    @property
    def layout(self) -> Layout:
        return builtin_layout(self.layout_name)

    def stem(
        self, b: Builder, spec: Spec, x: str, layout: Layout | None = None
    ) -> tuple[StageOutput, Children]:
        if spec.stem.type not in STEM_TYPES:
            return lower_defined_stem(b, spec, x, layout or self.layout)
        return lower_stem(b, spec, x, layout or self.layout)

    def tail(
        self,
        arch: ArchGraph,
        b: Builder,
        spec: Spec,
        current: StageOutput,
        layout: Layout | None = None,
    ) -> str:
        return lower_tail(arch, b, spec, current, layout or self.layout)


FAMILIES = (
    Family(("basic", "bottleneck"), lower_residual_stage, "torchvision_resnet"),
    Family(("preact_basic", "preact_bottleneck"), lower_preact_stage, "timm_resnetv2"),
    Family(("dense",), lower_dense_stage, "torchvision_densenet"),
)
STAGE_LOWERINGS = {block: family.stage for family in FAMILIES for block in family.blocks}
# Stages of block kinds written as data (archspec.lower.defined).
DEFINED = Family((), lower_defined_stage, "torchvision_resnet")


def class_name(spec: Spec) -> str:
    return spec.class_name or default_class_name(spec.name)


@dataclass
class _Placement:
    """Children gathered into containers while lowering; becomes members at the end.

    A container is an nn.Sequential member called child by child in forward; it is indexed
    (`stages[0]`) when its children are numbers, else named (`features.conv0`). Segments past
    the container's child become nested named Sequentials (`stages.0.blocks`)."""

    arch: ArchGraph
    containers: dict[str, Children] = field(default_factory=dict)

    def place(self, children: Children) -> None:
        for path, value in children:
            top, *rest = path.split(".")
            if not rest:
                self.arch.model.members.append(Member(top, value))
                self.arch.model.features.append(Step("call", top))
                continue
            if top not in self.containers:
                self.containers[top] = []
                self.arch.model.members.append(Member(top, Seq(())))
            name, nested = rest[0], _nest(rest[1:], value)
            held = self.containers[top]
            if held and held[-1][0] == name and _both_named(held[-1][1], nested):
                # One child holding two named parts (timm `stages.1.downsample`, `.blocks`).
                held[-1] = (name, _merged(held[-1][1], nested))
                continue
            held.append((name, nested))
            ref = f"{top}[{name}]" if name.isdigit() else f"{top}.{name}"
            self.arch.model.features.append(Step("call", ref))

    def finish(self) -> None:
        members = self.arch.model.members
        for i, member in enumerate(members):
            children = self.containers.get(member.attr)
            if children is not None:
                indexed = all(n.isdigit() for n, _ in children)
                names = None if indexed else tuple(n for n, _ in children)
                members[i] = Member(member.attr, Seq(tuple(v for _, v in children), names))
                self._call_whole(member.attr, [n for n, _ in children])

    def _call_whole(self, top: str, names: list[str]) -> None:
        """`x = self.stages(x)` where forward calls every child in order with no tap between
        them (as torchvision's `self.features(x)` and `self.trunk_output(x)`, timm's
        `self.stages(x)`)."""
        steps = self.arch.model.features
        count = len(names)
        wanted = [Step("call", f"{top}[{n}]" if n.isdigit() else f"{top}.{n}") for n in names]
        for start in range(len(steps) - count + 1):
            if steps[start : start + count] == wanted:
                steps[start : start + count] = [Step("call", top)]
                return


def _both_named(held: Any, nested: Any) -> bool:
    """A container child and a new part for it are both one level of named parts."""
    return all(isinstance(v, Seq) and v.names is not None for v in (held, nested))


def _merged(held: Seq, nested: Seq) -> Seq:
    """The named parts of both, in order."""
    parts = [
        part for seq in (held, nested) for part in zip(seq.names or (), seq.items, strict=True)
    ]
    return Seq.named(*parts)


def _nest(names: list[str], value: Any) -> Any:
    """`value` inside named Sequentials, outermost first: blocks -> Seq.named(("blocks", v))."""
    for name in reversed(names):
        value = Seq.named((name, value))
    return value


def lower(spec: Spec, layout: Layout | None = None) -> ArchGraph:
    """The spec's graph, its modules named by `layout` (default: its family's)."""
    family = family_of(spec)
    layout = layout or spec_layout(spec) or family.layout
    arch = ArchGraph(spec.name, class_name(spec), spec.title, spec.reference, tuple(spec.input))
    arch.model.zero_init_residual = spec.zero_init_residual
    b = Builder(arch)
    placement = _Placement(arch)
    x = b.add(Input(tuple(spec.input)), [], Scope("", "input"), "input", module=False)
    current, children = family.stem(b, spec, x, layout)
    placement.place(children)
    flat = layout.stages.path if layout.stages.flat else None
    offset = sum(1 for path, _ in children if path.split(".")[0] == flat)
    arch.stages.append(StageInfo("stem", "", spec.stem.type, 1))
    _tap(arch, spec, "stem", current.x)
    geometry = stage_geometry(spec)
    for index, row in enumerate(spec.stages):
        last = index == len(spec.stages) - 1
        st = StageInput(
            spec, row, index, b, current.x, current.channels, last, geometry[index], layout, offset
        )
        current, children = family.stage(st)
        placement.place(children)
        offset += sum(1 for path, _ in children if path.split(".")[0] == flat)
        module = ".".join(children[0][0].split(".")[:2])
        arch.stages.append(StageInfo(st.key, module, row.block, row.depth))
        _tap(arch, spec, st.key, current.x)
    if spec.tail is not None:
        current, children = lower_defined_tail(b, spec, current.x, current.channels, layout, offset)
        placement.place(children)
        arch.stages.append(StageInfo("tail", children[0][0], spec.tail.type, 1))
    arch.output = family.tail(arch, b, spec, current, layout)
    placement.finish()
    _check_choices(spec, b)
    if spec.head is not None:
        arch.model.ctor_params.append(("num_classes", "int", spec.head.num_classes))
        arch.stages.append(StageInfo("head", "", spec.head.type, 1))
    return arch


def _check_choices(spec: Spec, b: Builder) -> None:
    """`act:` and `norm:` change the network only where some block writes act() / norm()
    (or the stem and projections build the norm): a choice nothing takes is refused."""
    given: list[tuple[tuple[str | int, ...], str, object]] = []
    for word in ("act", "norm"):
        given.append(((word,), "", getattr(spec, word)))
        for index, row in enumerate(spec.stages):
            given.append((("stages", index, word), f"stage{index + 1}", getattr(row, word)))
    for loc, stage, value in given:
        word = str(loc[-1])
        if value is not None and not choice_used(b, stage, word):
            where = f"stage {stage.removeprefix('stage')}" if stage else "this network"
            what = "activation" if word == "act" else "norm"
            raise LowerError(
                loc,
                f"no block of {where} takes the network's {what} (none writes {word}())",
                f"remove `{word}`, or use kinds that write {word}() (README: 'act and norm')",
            )


def family_of(spec: Spec) -> Family:
    """The first stage's family (archspec.spec.checks refuses stages of another family)."""
    return next((f for f in FAMILIES if spec.stages[0].block in f.blocks), DEFINED)


def spec_layout(spec: Spec) -> Layout | None:
    """The spec's own `layout`: written inline, read from its file on load, or built in."""
    if spec.layout is None or isinstance(spec.layout, Layout):
        return spec.layout
    if spec.layout.endswith((".yaml", ".yml")):
        message = "a layout file is read when the spec is loaded from its file"
        raise LowerError(("layout",), message, "load the spec with archspec.read_spec")
    return builtin_layout(spec.layout)


def _tap(arch: ArchGraph, spec: Spec, key: str, node: str) -> None:
    if spec.outputs and key in spec.outputs:
        arch.taps[key] = node
        arch.model.features.append(Step("tap", key))
        arch.model.taps.append(key)
