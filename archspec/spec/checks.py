"""Which fields apply where: a field that validates but would change nothing is refused.

These checks need only the validated spec (no graph), so they all run in one pass and every
finding is reported together. Arithmetic checks (groups that don't divide, maps too small) stay
in lowering, where the channel counts are known.

A field given once for every stage (a columnar scalar) is refused only where no stage can use
it; a value given for one stage is refused where that stage can't.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from archspec.errors import Loc
from archspec.spec.models import (
    BLOCK_TYPES,
    STEM_TYPES,
    SelectiveKernel,
    Spec,
    SplitAttention,
    StageRow,
)

# Stages of a block kind written as data (a user kind) take these fields only.
DEFINED = "defined"
RESIDUAL = ("basic", "bottleneck")
PREACT = ("preact_basic", "preact_bottleneck")
BOTTLENECKS = ("bottleneck", "preact_bottleneck")
TAP_PREFIX = "stage"
DENSE_COMPRESSION = 0.5  # torchvision DenseNet's transition (the implied value)

# Stage fields and the block kinds that take them (`block` and `depth` apply to all).
STAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "width": (*RESIDUAL, *PREACT, DEFINED),
    "stride": (*RESIDUAL, *PREACT, DEFINED),
    "groups": BOTTLENECKS,
    "base_width": BOTTLENECKS,
    "expansion": (*RESIDUAL, *PREACT),
    "dilation": (*RESIDUAL, *PREACT),
    "downsample": (*RESIDUAL, *PREACT, DEFINED),
    "stride_at": ("bottleneck",),
    "attention": (*RESIDUAL, *PREACT, DEFINED),
    "growth_rate": ("dense",),
    "bn_size": ("dense",),
    "bottleneck": ("dense",),
    "compression": ("dense",),
    "args": (DEFINED,),
    "entry": (DEFINED,),
}
_WHY = {
    "args": "`args` sets the params of a block kind written as data; built-in kinds have fields",
    "stride_at": "the stride moves to a first 1x1 only in (post-activation) bottleneck blocks",
    "groups": "grouped convolutions exist only in bottleneck blocks (as torchvision)",
    "base_width": "base_width sizes a bottleneck's 3x3 (as torchvision)",
}


@dataclass(frozen=True)
class Finding:
    """A problem at a row-form location (the loader maps it to the YAML as written)."""

    loc: Loc
    message: str
    hint: str


# Tells whether stages[i].<field> was written once for all stages (a columnar scalar).
IsShared = Callable[[int, str], bool]


def uniform_fields(rows: list[StageRow]) -> IsShared:
    """For stage tables built in memory (sweeps), which have no columnar form: a field given the
    same value in every stage counts as written once for all of them."""

    def shared(index: int, key: str) -> bool:
        values = [getattr(row, key) for row in rows if key in row.model_fields_set]
        return len(values) == len(rows) and all(value == values[0] for value in values)

    return shared


def check_spec(spec: Spec, shared: IsShared) -> list[Finding]:
    """Every applicability problem of a validated spec."""
    findings = [*_stem_findings(spec), *_model_findings(spec), *tap_findings(spec)]
    rows = list(enumerate(spec.stages))
    first = spec.input[0] if spec.stem.type == "none" else spec.stem.width
    ctx = stage_context(rows, len(spec.stages), first)
    findings += stage_findings(rows, shared, ctx)
    return list(dict.fromkeys(findings))


@dataclass(frozen=True)
class StageContext:
    count: int  # stages in the table
    in_channels: dict[int, int]  # stage index -> input channels, where known


def stage_context(rows: list[tuple[int, StageRow]], count: int, stem_width: int) -> StageContext:
    """Input channels of residual stages whose predecessors validated."""
    known: dict[int, int] = {}
    channels: int | None = stem_width
    by_index = dict(rows)
    for index in range(count):
        row = by_index.get(index)
        if row is None or channels is None:
            channels = None
            continue
        known[index] = channels
        channels = out_channels(row)
    return StageContext(count, known)


def stage_findings(
    rows: list[tuple[int, StageRow]], shared: IsShared, ctx: StageContext
) -> list[Finding]:
    """Findings of the stage rows that validated (the others have their own errors)."""
    findings: list[Finding] = []
    rules = ("attention_fields", "projection", "avd", "compression_last", "plain_bn_size")
    for name in (*STAGE_FIELDS, *rules):
        rule = _STAGE_RULES.get(name, _kind_rule)
        hits = [(i, finding) for i, row in rows for finding in rule(name, i, row, ctx)]
        findings += _shared_filter(hits, rows, shared, name)
    return findings


def _shared_filter(
    hits: list[tuple[int, Finding]],
    rows: list[tuple[int, StageRow]],
    shared: IsShared,
    name: str,
) -> list[Finding]:
    """A shared (scalar) field is wrong only if it is wrong for every stage that has it."""
    field = _FIELD_OF.get(name, name)
    per_stage = [finding for i, finding in hits if not shared(i, field)]
    given = [i for i, row in rows if _given(row, field) and shared(i, field)]
    scalar_hits = [finding for i, finding in hits if shared(i, field)]
    if given and len(scalar_hits) == len(given):
        per_stage.append(scalar_hits[0])
    return per_stage


_FIELD_OF = {
    "attention_fields": "attention",
    "projection": "downsample",
    "avd": "attention",
    "compression_last": "compression",
    "plain_bn_size": "bn_size",
}


def kind_group(block: str) -> str:
    """A built-in block kind, or DEFINED for a kind written as data."""
    return block if block in BLOCK_TYPES else DEFINED


def _kind_rule(name: str, index: int, row: StageRow, ctx: StageContext) -> Iterator[Finding]:
    kinds = STAGE_FIELDS[name]
    if _given(row, name) and kind_group(row.block) not in kinds:
        reason = _WHY.get(name, f"`{name}` applies to {_kinds(kinds)} stages")
        fix = f"remove `{name}` from this stage"
        if kind_group(row.block) == DEFINED:
            reason = f"{row.block!r} is written as data: its own params decide"
            fix = f"remove `{name}`, or give a param of {row.block!r} under `args`"
        if name in ("groups", "base_width") and row.block.endswith("basic"):
            fix = f"use block: bottleneck for grouped or widened blocks, or {fix}"
        yield Finding(
            ("stages", index, name), f"does not apply to {row.block} stages: {reason}", fix
        )


def _given(row: StageRow, name: str) -> bool:
    """Written with a value other than the default: a column may carry the default as a
    placeholder for stages the field doesn't apply to (`groups: [1, 1, 32, 32]`)."""
    default = StageRow.model_fields[name].get_default()
    return name in row.model_fields_set and getattr(row, name) != default


def _attention_rule(name: str, index: int, row: StageRow, ctx: StageContext) -> Iterator[Finding]:
    attention, loc = row.attention, ("stages", index, "attention")
    if attention is None:
        return
    if kind_group(row.block) == DEFINED and attention.type in ("sk", "split"):
        yield Finding(
            (*loc, "type"),
            f"{attention.type} attention replaces a built-in block's 3x3; {row.block!r} is "
            "written as data",
            "use attention: {type: se} or a kind of your own, in the block's attention slot",
        )
    if row.block in PREACT and attention.type in ("sk", "split"):
        yield Finding(
            (*loc, "type"),
            "pre-activation blocks take only squeeze-excitation or a kind written as data",
            "use attention: {type: se} (or eca, or one of your `blocks:`)",
        )
    if isinstance(attention, SplitAttention) and row.block != "bottleneck":
        yield Finding(
            (*loc, "type"),
            "split attention (ResNeSt) needs bottleneck blocks",
            "use block: bottleneck, or attention: se/sk",
        )
    if isinstance(attention, SelectiveKernel):
        if {"kernels", "branches"} <= attention.model_fields_set:
            yield Finding(
                (*loc, "branches"),
                "`kernels` sets the branches (one per kernel), so `branches` would be ignored",
                "give either `branches` (dilated 3x3s) or `kernels`, not both",
            )
        if row.stride_at != "3x3":
            yield Finding(
                ("stages", index, "stride_at"),
                "sk attention replaces the 3x3 conv, which carries the stride",
                "remove `stride_at`",
            )
    if isinstance(attention, SplitAttention):
        if row.stride_at != "3x3":
            yield Finding(
                ("stages", index, "stride_at"),
                "split attention replaces the 3x3 conv, which carries the stride",
                "remove `stride_at`",
            )
        if not attention.avd and "avd_first" in attention.model_fields_set:
            yield Finding(
                (*loc, "avd_first"),
                "places the avd pool, but `avd` is false",
                "remove `avd_first`, or set avd: true",
            )


def _avd_rule(name: str, index: int, row: StageRow, ctx: StageContext) -> Iterator[Finding]:
    """avd moves a strided block's stride into a pool: meaningless in a stride-1 stage."""
    attention = row.attention
    if not isinstance(attention, SplitAttention) or _stride(row, index) != 1:
        return
    for field in ("avd", "avd_first"):
        if field in attention.model_fields_set and (field == "avd" or attention.avd):
            yield Finding(
                ("stages", index, "attention", field),
                "applies only to a strided block, and this stage has stride 1",
                f"remove `{field}` from this stage",
            )


def _projection_rule(name: str, index: int, row: StageRow, ctx: StageContext) -> Iterator[Finding]:
    """`downsample` shapes the projection shortcut; a stage without one can't use it. The
    first block projects when it strides or changes the channel count."""
    if not _given(row, "downsample") or row.block == "dense":
        return
    in_channels = ctx.in_channels.get(index)
    if in_channels is None or row.width is None:
        return
    if _stride(row, index) == 1 and in_channels == out_channels(row):
        yield Finding(
            ("stages", index, "downsample"),
            "this stage has no projection shortcut (stride 1, channels unchanged)",
            "remove `downsample` from this stage",
        )


def out_channels(row: StageRow) -> int | None:
    if row.width is None:
        return None
    return row.width * (row.expansion or (4 if row.block in BOTTLENECKS else 1))


def _compression_rule(name: str, index: int, row: StageRow, ctx: StageContext) -> Iterator[Finding]:
    # The implied 0.5 may stand in a column as a placeholder for the last stage.
    given = _given(row, "compression") and row.compression != DENSE_COMPRESSION
    if row.block == "dense" and given and index == ctx.count - 1:
        yield Finding(
            ("stages", index, "compression"),
            "the last dense stage has no transition to compress",
            "remove `compression` from the last stage",
        )


def _plain_rule(name: str, index: int, row: StageRow, ctx: StageContext) -> Iterator[Finding]:
    if row.block == "dense" and row.bottleneck is False and _given(row, "bn_size"):
        yield Finding(
            ("stages", index, "bn_size"),
            "`bn_size` sizes the 1x1 bottleneck, which `bottleneck: false` leaves out",
            "remove `bn_size`, or `bottleneck: false`",
        )


def _stride(row: StageRow, index: int) -> int:
    return row.stride or (1 if index == 0 else 2)


_STAGE_RULES: dict[str, Callable[[str, int, StageRow, StageContext], Iterator[Finding]]] = {
    "attention_fields": _attention_rule,
    "projection": _projection_rule,
    "avd": _avd_rule,
    "compression_last": _compression_rule,
    "plain_bn_size": _plain_rule,
}


def _kinds(kinds: tuple[str, ...]) -> str:
    words = tuple("user-defined" if kind == DEFINED else kind for kind in kinds)
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else words[0]


def _stem_findings(spec: Spec) -> Iterator[Finding]:
    stem = spec.stem
    if stem.type not in STEM_TYPES:
        for name in ("mid_width", "pool", "norm"):
            if name in stem.model_fields_set:
                yield Finding(
                    ("stem", name),
                    f"the stem kind {stem.type!r} is written as data: its own params decide",
                    f"remove `{name}`, or give a param of {stem.type!r} under `args`",
                )
        return
    if stem.type == "none":
        for name in ("width", "mid_width", "pool", "norm"):
            if name in stem.model_fields_set:
                yield Finding(
                    ("stem", name),
                    "a `none` stem has no layers: the first stage reads the input",
                    f"remove `{name}`",
                )
    if stem.args:
        yield Finding(
            ("stem", "args"),
            f"`args` sets the params of a stem kind written as data; {stem.type} has fields",
            "remove `args`",
        )
    if "mid_width" in stem.model_fields_set and stem.type != "deep":
        yield Finding(
            ("stem", "mid_width"),
            f"sizes the deep stem's first two convs; a {stem.type} stem has one conv",
            "remove `mid_width`, or use stem type deep",
        )
    family = spec.stages[0].block
    if stem.type == "deep" and family in (*PREACT, "dense"):
        yield Finding(
            ("stem", "type"),
            f"{family} networks take a single-conv stem",
            "use stem type conv7x7 or conv3x3",
        )


def _head_findings(spec: Spec) -> Iterator[Finding]:
    if spec.head is not None and spec.head.type == "classifier" and spec.head.args:
        yield Finding(
            ("head", "args"),
            "`args` sets the params of a head kind written as data; classifier has fields",
            "remove `args`",
        )


def _model_findings(spec: Spec) -> Iterator[Finding]:
    yield from _head_findings(spec)
    family = spec.stages[0].block
    given = spec.model_fields_set
    replaced = [
        (i, row.attention.type)
        for i, row in enumerate(spec.stages)
        if isinstance(row.attention, SelectiveKernel | SplitAttention)
    ]
    if spec.conv_bias and replaced:
        index, kind = replaced[0]
        yield Finding(
            ("conv_bias",),
            f"{kind} attention (stage {index + 1}) replaces the 3x3 conv with timm's, which has "
            "no bias",
            "remove conv_bias, or use attention: {type: se}",
        )
    if family == "dense":
        for name in ("conv_bias", "zero_init_residual", "output_stride"):
            if name in given:
                yield Finding((name,), "does not apply to DenseNet", f"remove `{name}`")
    if kind_group(family) == DEFINED or spec.stem.type not in STEM_TYPES:
        for name in ("conv_bias", "zero_init_residual", "output_stride"):
            if name in given:
                yield Finding(
                    (name,),
                    "does not apply to block kinds written as data (their params decide)",
                    f"remove `{name}`",
                )
    if "final_norm" in given and family not in PREACT:
        yield Finding(
            ("final_norm",),
            "only pre-activation networks end in a norm + ReLU after the last stage",
            "remove `final_norm`",
        )
    yield from _family_findings(spec)


def _family_findings(spec: Spec) -> Iterator[Finding]:
    first = spec.stages[0].block
    if kind_group(first) == DEFINED:
        for index, row in enumerate(spec.stages):
            if kind_group(row.block) != DEFINED:
                yield Finding(
                    ("stages", index, "block"),
                    f"built-in {row.block!r} stages cannot follow stages of a kind written as "
                    "data: they are named and assembled differently",
                    "write every stage with kinds of your own, or every stage built-in",
                )
        return
    families = (RESIDUAL, PREACT, ("dense",))
    allowed = next(f for f in families if first in f)
    for index, row in enumerate(spec.stages):
        if row.block not in allowed:
            yield Finding(
                ("stages", index, "block"),
                f"{row.block!r} stages cannot follow {first!r} stages in one network",
                "use blocks of one family: " + ", ".join(allowed),
            )


def tap_findings(spec: Spec) -> Iterator[Finding]:
    known = ["stem"] + [f"{TAP_PREFIX}{i + 1}" for i in range(len(spec.stages))]
    outputs = spec.outputs or []
    for i, tap in enumerate(outputs):
        if tap not in known:
            yield Finding(
                ("outputs", i),
                f"{tap!r} is not a stage of this network",
                "taps available here: " + ", ".join(known),
            )
    if len(set(outputs)) != len(outputs):
        yield Finding(("outputs",), "lists a tap twice", "name each tap once")
