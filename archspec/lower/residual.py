"""Residual stages: basic and bottleneck blocks, plain or with SE / SK / split attention.

Rules implemented here and nowhere else:
- the first block of a stage takes the stage stride; the rest use stride 1;
- a block projects its shortcut when its stride is not 1 or its channels change;
  `downsample: conv` is a strided 1x1 conv + BN, `avg` (ResNet-D) a 2x2 average pool
  (ceil_mode, count_include_pad=False; nn.Identity when stride is 1) + 1x1 conv + BN, `pad`
  (option A of He et al. 2015) the identity subsampled by the stride, zero-padded channels;
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
from archspec.ir.graph import Scope, Seq
from archspec.ir.ops import (
    AvgPool2d,
    Conv2d,
    Identity,
    Op,
    ZeroPad2d,
    ZeroPadShortcut,
)
from archspec.lower.attention import (
    check_sk,
    sk_attn_channels,
    sk_paths,
    split_attn_channels,
)
from archspec.lower.blocks import SlotFill, lower_block
from archspec.lower.choice import choice_of, mark, norm_op
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.errors import LowerError
from archspec.lower.slots import attention_fill, projection_fill
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
    """Residual stages: the standard library's definitions (archspec/stdlib/blocks/ basic,
    bottleneck, bottleneck_stride1x1, sk_basic, sk_bottleneck, resnest_bottleneck), the stage
    filling their `se` and `downsample` slots."""
    kind, variant = _variant(st)
    block = builtin_blocks()[kind]
    choice = choice_of(st.spec, st.row)
    x, calls = st.x, []
    for i, a in enumerate(block_args(st)):
        path = st.block_path(i)
        scope = Scope(path, st.key, path)
        fills: dict[str, SlotFill] = {}
        se = attention_fill(st, a.out_channels, choice)
        if se is not None:
            fills["se"] = se
        projection = _projection(st, a)
        if projection is not None:
            fills["downsample"] = projection_fill(projection)
        args = {**definition_args(a, kind.endswith("basic")), **variant(a)}
        x, call = lower_block(
            st.builder,
            scope,
            x,
            kind,
            block,
            args,
            st.loc,
            _builtin,
            0,
            fills,
            tagged=False,
            choice=choice,
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
    if st.row.downsample == "pad" and a.out_channels < a.in_channels:
        raise LowerError(
            (*st.loc, "downsample"),
            f"a pad shortcut cannot narrow {a.in_channels} channels to {a.out_channels}",
            "use downsample: conv here, or widen the stage",
        )
    ops = shortcut_ops(st, (a.in_channels, a.out_channels), a.stride, a.bias)
    if st.row.downsample == "avg" and a.stride == 1 and a.dilation != 1:
        ops[0] = same_avg_pool()
    return Seq(tuple(ops))


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


Variant = Callable[[BlockArgs], dict[str, Any]]


def _variant(st: StageInput) -> tuple[str, Variant]:
    """The row's block kind and the arguments its attention adds to each block."""
    attention, kind = st.row.attention, st.row.block
    if isinstance(attention, SelectiveKernel):
        check_sk(attention, (*st.loc, "attention"))
        return ("sk_basic" if kind == "basic" else "sk_bottleneck"), _sk_args(st, attention)
    if isinstance(attention, SplitAttention):
        _check_split_groups(st, attention)
        return "resnest_bottleneck", _split_args(attention)
    if kind == "bottleneck" and st.row.stride_at == "1x1":
        return "bottleneck_stride1x1", lambda a: {}
    return kind, lambda a: {}


def _sk_args(st: StageInput, sk: SelectiveKernel) -> Variant:
    """timm SelectiveKernel's paths: kernels, and dilations and paddings scaled by the
    dilation the block reads its input at; a basic block splits its input by default."""
    basic = st.row.block == "basic"
    split = sk.split_input if sk.split_input is not None else basic
    kernels, dilations, paddings = sk_paths(sk)

    def args(a: BlockArgs) -> dict[str, Any]:
        width = a.out_channels if basic else a.width
        _check_split(st, a.in_channels if basic else a.width, len(kernels), split, a.groups)
        d = a.first_dilation
        return {
            "attn_channels": sk_attn_channels(width, sk),
            "kernels": kernels,
            "dilations": tuple(d * x for x in dilations),
            "paddings": tuple(d * p for p in paddings),
            "split_input": split,
        }

    return args


def _split_args(split: SplitAttention) -> Variant:
    """ResNeSt's radix, attention width and average-pool downsampling (avd)."""
    return lambda a: {
        "radix": split.radix,
        "attn_channels": split_attn_channels(a.width, split),
        "avd": split.avd,
        "pool_first": split.avd_first,
    }


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


def same_avg_pool() -> Seq:
    """timm AvgPool2dSame(2, 1): the avg-down pool of a dilated stride-1 stage ('same' padding
    keeps the map's size). A stage that both strides and dilates (only explicit columns can
    say so; timm's own pool would then not stride, and fail) keeps the strided pool."""
    return Seq((ZeroPad2d(1, 1), AvgPool2d(2, 1, ceil_mode=True, count_include_pad=False)))


def shortcut_ops(
    st: StageInput, channels: tuple[int, int], stride: int, bias: bool
) -> list[Op | Seq]:
    """The projection shortcut: [conv, norm]; for ResNet-D, [pool | identity, conv, norm]; for
    option A (`pad`, He et al. 2015's CIFAR ResNets), the subsampled, zero-padded identity.
    The norm is the network's (timm passes norm_layer to its downsample)."""
    (in_channels, out_channels), style = channels, st.row.downsample
    if style == "pad":
        return [ZeroPadShortcut(in_channels, out_channels, stride)]
    mark(st.builder.memo, st.key, "norm")
    norm = norm_op(choice_of(st.spec, st.row), out_channels)
    if style == "conv":
        return [Conv2d(in_channels, out_channels, 1, stride, bias=bias), norm]
    pool: Op = (
        Identity() if stride == 1 else AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)
    )
    return [pool, Conv2d(in_channels, out_channels, 1, bias=bias), norm]
