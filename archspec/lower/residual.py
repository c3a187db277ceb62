"""Residual stages: basic and bottleneck blocks, plain or with SE / SK / split attention.

Rules implemented here and nowhere else:
- the first block of a stage takes the stage stride; the rest use stride 1;
- a block projects its shortcut when its stride is not 1 or its channels change;
  `downsample: conv` is a strided 1x1 conv + BN, `avg` (ResNet-D) a 2x2 average pool
  (ceil_mode, count_include_pad=False; nn.Identity when stride is 1) + 1x1 conv + BN;
- bottleneck width = floor(width * base_width / 64) * groups (torchvision), output =
  width * expansion; the stride sits on the 3x3 (v1.5) or, with `stride_at: 1x1`, on the first 1x1;
- SK replaces the 3x3 (timm SelectiveKernelBasic / SelectiveKernelBottleneck); split attention
  replaces the 3x3 of a bottleneck (timm ResNestBottleneck) and, with `avd`, moves a strided
  block's stride into a 3x3 average pool after it (before it with `avd_first`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archspec.blocks.library import builtin_blocks
from archspec.ir.graph import BlockClass, Call, Scope, Seq
from archspec.ir.ops import Add, AvgPool2d, BatchNorm2d, Conv2d, Identity, Op, ReLU, ZeroPad2d
from archspec.lower.attention import (
    CONV_NORM_ACT,
    SK_CLASS,
    SPLIT_CLASS,
    check_sk,
    selective_kernel,
    sk_attn_channels,
    sk_paths,
    split_attention,
    split_attn_channels,
)
from archspec.lower.blocks import lower_block
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.errors import LowerError
from archspec.lower.slots import attention_fill, flat_names, projection_fill
from archspec.spec.models import SelectiveKernel, SplitAttention


@dataclass(frozen=True)
class BlockArgs:
    in_channels: int
    width: int
    out_channels: int
    stride: int
    groups: int
    dilation: int
    bias: bool
    # The dilation the block reads its input at: the previous stage's for a stage's first block.
    first_dilation: int


@dataclass(frozen=True)
class BlockParts:
    """What a variant's main path adds: its output node and its constructor arguments."""

    y: str
    args: tuple[Any, ...]
    kwargs: list[tuple[str, Any]]


Main = Callable[[StageInput, BlockClass, Scope, str, BlockArgs], BlockParts]


def block_args(st: StageInput) -> list[BlockArgs]:
    """Each block's channels and stride: the first block takes the stage's input and stride."""
    row, geo = st.row, st.geometry
    width, out_channels = stage_channels(st)
    return [
        BlockArgs(
            st.channels if i == 0 else out_channels,
            width,
            out_channels,
            geo.stride if i == 0 else 1,
            row.groups,
            geo.dilation,
            st.spec.conv_bias,
            geo.first_dilation if i == 0 else geo.dilation,
        )
        for i in range(row.depth)
    ]


def lower_residual_stage(st: StageInput) -> tuple[StageOutput, list[tuple[str, object]]]:
    module = st.path(st.layout.stages.path)
    if not isinstance(st.row.attention, SelectiveKernel | SplitAttention):
        return _lower_defined_stage(st, module)
    cls, main, final_act = _variant(st)
    x, calls = st.x, []
    for i, args in enumerate(block_args(st)):
        path = st.block_path(i)
        scope = Scope(path, st.key, path)
        parts = main(st, cls, scope, x, args)
        x, call = _finish_block(st, cls, scope, x, args, parts, final_act)
        calls.append(call)
    return StageOutput(x, args.out_channels), st.children(calls)


def _lower_defined_stage(
    st: StageInput, module: str
) -> tuple[StageOutput, list[tuple[str, object]]]:
    """Basic and bottleneck stages: the standard library's definitions (archspec/stdlib/blocks/
    basic.yaml, bottleneck.yaml, bottleneck_stride1x1.yaml), the stage filling their `se` and
    `downsample` slots."""
    kind = st.row.block
    if kind == "bottleneck" and st.row.stride_at == "1x1":
        kind = "bottleneck_stride1x1"
    block = builtin_blocks()[kind]
    x, calls = st.x, []
    for i, a in enumerate(block_args(st)):
        path = st.block_path(i)
        scope = Scope(path, st.key, path)
        fills = {}
        se = attention_fill(st.spec, st.row.attention, a.out_channels, (*st.loc, "attention"))
        if se is not None:
            fills["se"] = se
        projection = _projection(st, a)
        if projection is not None:
            fills["downsample"] = projection_fill(projection)
        x, call = lower_block(
            st.builder,
            scope,
            x,
            kind,
            block,
            definition_args(a, kind == "basic"),
            st.loc,
            _builtin,
            0,
            fills,
            tagged=False,
        )
        calls.append(call)
    return StageOutput(x, a.out_channels), st.children(calls)


def _builtin(kind: str) -> Any:
    return builtin_blocks().get(kind)


def definition_args(a: BlockArgs, basic: bool) -> dict[str, int | bool]:
    """A residual definition's arguments (basic, bottleneck, and their pre-activation kin): a
    bottleneck's one dilated conv reads the block's input (timm `first_dilation`); a basic
    block's second conv uses the stage's dilation."""
    if basic:
        return {
            "in_channels": a.in_channels,
            "out_channels": a.out_channels,
            "stride": a.stride,
            "dilation": a.dilation,
            "first_dilation": a.first_dilation,
            "bias": a.bias,
        }
    return {
        "in_channels": a.in_channels,
        "width": a.width,
        "out_channels": a.out_channels,
        "stride": a.stride,
        "groups": a.groups,
        "dilation": a.first_dilation,
        "bias": a.bias,
    }


def _projection(st: StageInput, a: BlockArgs) -> Seq | None:
    """The projection shortcut where the block strides or changes its channel count."""
    if a.stride == 1 and a.in_channels == a.out_channels:
        return None
    ops = shortcut_ops(a.in_channels, a.out_channels, a.stride, st.row.downsample, a.bias)
    if st.row.downsample == "avg" and a.stride == 1 and a.dilation != 1:
        ops[0] = same_avg_pool()
    return Seq(tuple(ops))


def _finish_block(
    st: StageInput,
    cls: BlockClass,
    scope: Scope,
    x: str,
    a: BlockArgs,
    parts: BlockParts,
    final_act: str,
) -> tuple[str, Call]:
    """Shortcut, residual add and final ReLU, shared by every residual variant."""
    b = st.builder
    y, kwargs = parts.y, list(parts.kwargs)
    identity, downsample = _shortcut(st, scope, x, a)
    if downsample is not None:
        kwargs.append(("downsample", downsample))
    y = b.add(Add(inplace=True), [y, identity], scope, "add", module=False)
    y = b.add(ReLU(), [y], scope, final_act)
    return y, Call(cls, parts.args, tuple(kwargs))


def stage_channels(st: StageInput) -> tuple[int, int]:
    """(inner width, output channels) of a residual stage's blocks."""
    row = st.row
    if row.width is None:
        raise LowerError(
            (*st.loc, "width"),
            f"a {row.block} stage needs `width`",
            "add the stage's planes, e.g. width: 64",
        )
    expansion = row.expansion or (4 if row.block.endswith("bottleneck") else 1)
    if row.block.endswith("basic"):
        if row.groups != 1 or row.base_width != 64:
            field = "groups" if row.groups != 1 else "base_width"
            raise LowerError(
                (*st.loc, field),
                "basic blocks support only groups 1 and base_width 64 (as torchvision)",
                "use block: bottleneck for grouped or widened blocks, or remove the field",
            )
        return row.width, row.width * expansion
    per_group = row.width * row.base_width // 64
    if per_group == 0:
        raise LowerError(
            (*st.loc, "base_width"),
            f"width {row.width} x base_width {row.base_width} / 64 rounds to 0 channels per group",
            "raise base_width or width so each group has at least one channel",
        )
    return per_group * row.groups, row.width * expansion


def _variant(st: StageInput) -> tuple[BlockClass, Main, str]:
    attention = st.row.attention
    if isinstance(attention, SelectiveKernel):
        check_sk(attention, (*st.loc, "attention"))
        return _sk_class(st, attention), _sk_main, "act"
    if isinstance(attention, SplitAttention):
        _check_split_groups(st, attention)
        cls = BlockClass(
            "resnest_bottleneck",
            "ResNestBottleneck",
            (("avd_first", attention.avd_first),),
            "bn3",
            "ResNeSt bottleneck: 1x1, split-attention 3x3, 1x1, residual.",
            (SPLIT_CLASS,),
        )
        return cls, _split_main, "act3"
    raise AssertionError("plain stages lower through their definitions")


def _check_split_groups(st: StageInput, split: SplitAttention) -> None:
    """The radix-grouped conv needs width % (groups x radix) == 0, fc1/fc2 attn % groups == 0."""
    width, _ = stage_channels(st)
    groups = st.row.groups
    if width % (groups * split.radix):
        raise LowerError(
            (*st.loc, "attention", "radix"),
            f"the 3x3's {width} channels do not split into groups ({groups}) x radix "
            f"({split.radix})",
            "choose width, base_width, groups and radix so that the inner width is divisible "
            "by groups x radix",
        )
    attn = split_attn_channels(width, split)
    if attn % groups:
        raise LowerError(
            (*st.loc, "groups"),
            f"the attention width {attn} is not divisible by groups ({groups})",
            "change groups, attention.divisor or attention.min_channels so groups divides it",
        )


def _optional(*items: tuple[str, Any, Any]) -> list[tuple[str, Any]]:
    """Keyword arguments that differ from their defaults."""
    return [(key, value) for key, value, default in items if value != default]


def _sk_class(st: StageInput, sk: SelectiveKernel) -> BlockClass:
    basic = st.row.block == "basic"
    split = sk.split_input if sk.split_input is not None else basic
    kernels, dilations, paddings = sk_paths(sk)
    options = (
        ("kernels", kernels),
        ("dilations", dilations),
        ("paddings", paddings),
        ("split_input", split),
    )
    if basic:
        return BlockClass(
            "sk_basic",
            "SelectiveKernelBasic",
            options,
            "conv2.bn",
            "Basic block whose first 3x3 is a selective kernel convolution.",
            (SK_CLASS, CONV_NORM_ACT),
        )
    return BlockClass(
        "sk_bottleneck",
        "SelectiveKernelBottleneck",
        options,
        "conv3.bn",
        "Bottleneck whose 3x3 is a selective kernel convolution.",
        (SK_CLASS, CONV_NORM_ACT),
    )


def _sk_main(st: StageInput, cls: BlockClass, scope: Scope, x: str, a: BlockArgs) -> BlockParts:
    b, sk = st.builder, st.row.attention
    assert isinstance(sk, SelectiveKernel)
    split = bool(cls.option("split_input"))
    count = len(cls.option("kernels"))
    if cls.template == "sk_basic":
        _check_split(st, a.in_channels, count, split)
        channels = (a.in_channels, a.out_channels)
        y = selective_kernel(
            b, scope.child("conv1"), x, channels, a.stride, 1, sk, split, a.first_dilation
        )
        d = a.dilation
        y = b.chain(
            [
                ("conv2.conv", Conv2d(a.out_channels, a.out_channels, 3, 1, d, d)),
                ("conv2.bn", BatchNorm2d(a.out_channels)),
            ],
            y,
            scope,
        )
        attn = sk_attn_channels(a.out_channels, sk)
        return BlockParts(
            y,
            (a.in_channels, a.out_channels),
            [
                ("attn_channels", attn),
                *_optional(
                    ("stride", a.stride, 1),
                    ("dilation", a.dilation, 1),
                    ("first_dilation", a.first_dilation, a.dilation),
                ),
            ],
        )
    _check_split(st, a.width, count, split, a.groups)
    y = b.chain(
        [
            ("conv1.conv", Conv2d(a.in_channels, a.width, 1)),
            ("conv1.bn", BatchNorm2d(a.width)),
            ("conv1.act", ReLU()),
        ],
        x,
        scope,
    )
    y = selective_kernel(
        b,
        scope.child("conv2"),
        y,
        (a.width, a.width),
        a.stride,
        a.groups,
        sk,
        split,
        a.first_dilation,
    )
    y = b.chain(
        [
            ("conv3.conv", Conv2d(a.width, a.out_channels, 1)),
            ("conv3.bn", BatchNorm2d(a.out_channels)),
        ],
        y,
        scope,
    )
    attn = sk_attn_channels(a.width, sk)
    return BlockParts(
        y,
        (a.in_channels, a.width, a.out_channels),
        [
            ("attn_channels", attn),
            *_optional(
                ("stride", a.stride, 1),
                ("groups", a.groups, 1),
                ("dilation", a.first_dilation, 1),
            ),
        ],
    )


def _check_split(st: StageInput, channels: int, count: int, split: bool, groups: int = 1) -> None:
    per_path = channels // count if split else channels
    if split and channels % count:
        raise LowerError(
            (*st.loc, "attention", "split_input"),
            f"{channels} input channels do not split evenly into {count} branches",
            "use split_input: false, or widths divisible by the branch count",
        )
    if per_path % min(groups, channels):
        raise LowerError(
            (*st.loc, "groups"),
            f"{per_path} branch input channels are not divisible by groups ({groups})",
            "use split_input: false",
        )


def _split_main(st: StageInput, cls: BlockClass, scope: Scope, x: str, a: BlockArgs) -> BlockParts:
    b, split = st.builder, st.row.attention
    assert isinstance(split, SplitAttention)
    avd = split.avd and a.stride > 1
    pool = AvgPool2d(3, a.stride, 1)
    conv_stride = 1 if avd else a.stride
    y = b.chain(
        [
            ("conv1", Conv2d(a.in_channels, a.width, 1)),
            ("bn1", BatchNorm2d(a.width)),
            ("act1", ReLU()),
        ],
        x,
        scope,
    )
    if avd and split.avd_first:
        y = b.add(pool, [y], scope, "avd_first")
    y = split_attention(
        b, scope.child("conv2"), y, a.width, (conv_stride, a.first_dilation, a.groups), split
    )
    if avd and not split.avd_first:
        y = b.add(pool, [y], scope, "avd_last")
    y = b.chain(
        [("conv3", Conv2d(a.width, a.out_channels, 1)), ("bn3", BatchNorm2d(a.out_channels))],
        y,
        scope,
    )
    kwargs = _optional(
        ("stride", conv_stride, 1),
        ("groups", a.groups, 1),
        ("dilation", a.first_dilation, 1),
        ("avd", pool if avd else None, None),
    )
    attn = split_attn_channels(a.width, split)
    kwargs = [("radix", split.radix), ("attn_channels", attn), *kwargs]
    return BlockParts(y, (a.in_channels, a.width, a.out_channels), kwargs)


def _shortcut(st: StageInput, scope: Scope, x: str, a: BlockArgs) -> tuple[str, Seq | None]:
    downsample = _projection(st, a)
    if downsample is None:
        return x, None
    return st.builder.chain(flat_names("downsample", downsample), x, scope), downsample


def same_avg_pool() -> Seq:
    """timm AvgPool2dSame(2, 1): the avg-down pool of a dilated stride-1 stage ('same' padding
    keeps the map's size). A stage that both strides and dilates (only explicit columns can
    say so; timm's own pool would then not stride, and fail) keeps the strided pool."""
    return Seq((ZeroPad2d(1, 1), AvgPool2d(2, 1, ceil_mode=True, count_include_pad=False)))


def shortcut_ops(
    in_channels: int, out_channels: int, stride: int, style: str, bias: bool
) -> list[Op | Seq]:
    """The projection shortcut: [conv, bn] or, for ResNet-D, [pool | identity, conv, bn]."""
    if style == "conv":
        return [Conv2d(in_channels, out_channels, 1, stride, bias=bias), BatchNorm2d(out_channels)]
    pool: Op = (
        Identity() if stride == 1 else AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)
    )
    return [pool, Conv2d(in_channels, out_channels, 1, bias=bias), BatchNorm2d(out_channels)]
