"""Attention that replaces a residual block's 3x3, with timm's arithmetic and module names
(squeeze-excitation and kinds written as data fill the `se` slot: archspec.lower.slots).

- `sk`: selective kernel conv replacing the 3x3 (timm `SelectiveKernel`: paths.N.conv/bn,
  attn.fc_reduce/bn/fc_select);
- `split`: ResNeSt split-attention conv replacing the 3x3 (timm `SplitAttn`: conv, bn0, fc1,
  bn1, fc2).
"""

from __future__ import annotations

from fractions import Fraction

from archspec.ir.graph import BlockClass, Builder, Scope
from archspec.ir.ops import (
    BatchNorm2d,
    ChannelSlice,
    Concat,
    Conv2d,
    GlobalAvgPool,
    GroupSoftmax,
    GroupSum,
    GroupWeightedSum,
    ReLU,
)
from archspec.lower.errors import LowerError
from archspec.spec.models import (
    SelectiveKernel,
    SplitAttention,
)

CONV_NORM_ACT = BlockClass(
    "conv_norm_act", "ConvNormAct", doc="Convolution, BatchNorm, then ReLU (or nothing)."
)
SK_ATTN = BlockClass(
    "selective_kernel_attn",
    "SelectiveKernelAttn",
    doc="SK attention: sum the paths, global average, reduce, softmax across the paths.",
)
SK_CLASS = BlockClass(
    "selective_kernel",
    "SelectiveKernel",
    requires=(CONV_NORM_ACT, SK_ATTN),
    doc="Selective kernel convolution: parallel paths mixed by a softmax attention.",
)
SPLIT_CLASS = BlockClass(
    "split_attention",
    "SplitAttention",
    doc="Split attention (ResNeSt): a radix-grouped conv whose splits are mixed by attention.",
)


def make_divisible(
    value: Fraction,
    divisor: int,
    min_value: int | None = None,
    round_limit: Fraction = Fraction(9, 10),
) -> int:
    """timm `make_divisible`, in exact arithmetic (timm's float ratios are exact binary ones)."""
    floor = min_value or divisor
    rounded = max(floor, int(value + Fraction(divisor, 2)) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


def sk_paths(sk: SelectiveKernel) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(kernels, dilations, paddings) of the branches; timm keep_3x3 dilates 3x3s by default."""
    if sk.kernels is None:
        dilations = tuple(range(1, sk.branches + 1))
        kernels = (3,) * sk.branches
    else:
        kernels, dilations = tuple(sk.kernels), (1,) * len(sk.kernels)
    paddings = tuple(d * (k - 1) // 2 for k, d in zip(kernels, dilations, strict=True))
    return kernels, dilations, paddings


def sk_attn_channels(channels: int, sk: SelectiveKernel) -> int:
    return make_divisible(Fraction(channels, sk.reduction), sk.divisor, sk.min_channels)


def check_sk(sk: SelectiveKernel, loc: tuple[str | int, ...]) -> None:
    if sk.kernels is not None:
        if len(sk.kernels) < 2:
            raise LowerError(
                (*loc, "kernels"),
                "needs at least two kernels (one per branch)",
                "e.g. kernels: [3, 5]",
            )
        if any(k % 2 == 0 for k in sk.kernels):
            raise LowerError(
                (*loc, "kernels"),
                f"kernel sizes must be odd, got {sk.kernels}",
                "use odd sizes such as 3, 5, 7 (same padding needs a centre)",
            )


def selective_kernel(
    b: Builder,
    scope: Scope,
    x: str,
    channels: tuple[int, int],
    stride: int,
    groups: int,
    sk: SelectiveKernel,
    split_input: bool,
    dilation: int = 1,
) -> str:
    """Add the SK conv's ops (paths.N.*, attn.*) under scope; return the output node.
    `dilation` scales every branch's dilation and padding (timm SelectiveKernel(dilation=))."""
    in_channels, out_channels = channels
    scope = scope.tagged("sk")
    kernels, dilations, paddings = sk_paths(sk)
    count = len(kernels)
    path_in = in_channels // count if split_input else in_channels
    path_groups = min(out_channels, groups)
    outputs = []
    for i, (k, d, p) in enumerate(zip(kernels, dilations, paddings, strict=True)):
        source = x
        if split_input:
            cut = ChannelSlice(i * path_in, (i + 1) * path_in)
            source = b.add(cut, [x], scope, f"paths.{i}.split", module=False)
        conv = Conv2d(path_in, out_channels, k, stride, p * dilation, d * dilation, path_groups)
        ops = [("conv", conv), ("bn", BatchNorm2d(out_channels)), ("act", ReLU())]
        outputs.append(b.chain([(f"paths.{i}.{n}", op) for n, op in ops], source, scope))
    stack = b.add(Concat(), outputs, scope, "stack", module=False)
    attn = sk_attn_channels(out_channels, sk)
    weights = b.chain(
        [
            ("attn.sum", GroupSum(count)),
            ("attn.mean", GlobalAvgPool(functional=True)),
            ("attn.fc_reduce", Conv2d(out_channels, attn, 1)),
            ("attn.bn", BatchNorm2d(attn)),
            ("attn.act", ReLU()),
            ("attn.fc_select", Conv2d(attn, out_channels * count, 1)),
            ("attn.softmax", GroupSoftmax(count)),
        ],
        stack,
        scope,
    )
    return b.add(GroupWeightedSum(count), [stack, weights], scope, "select", module=False)


def split_attn_channels(channels: int, split: SplitAttention) -> int:
    value = Fraction(channels * split.radix, split.reduction)
    return make_divisible(value, split.divisor, split.min_channels)


def split_attention(
    b: Builder,
    scope: Scope,
    x: str,
    channels: int,
    conv: tuple[int, int, int],
    split: SplitAttention,
) -> str:
    """Add ResNeSt's SplitAttn ops (conv, bn0, fc1, bn1, fc2) under scope; return the output."""
    stride, dilation, groups = conv
    scope = scope.tagged("split")
    radix = split.radix
    mid = channels * radix
    attn = split_attn_channels(channels, split)
    y = b.chain(
        [
            ("conv", Conv2d(channels, mid, 3, stride, dilation, dilation, groups * radix)),
            ("bn0", BatchNorm2d(mid)),
            ("act0", ReLU()),
        ],
        x,
        scope,
    )
    weights = b.chain(
        [
            ("sum", GroupSum(radix)),
            ("mean", GlobalAvgPool(functional=True)),
            ("fc1", Conv2d(channels, attn, 1, groups=groups, bias=True)),
            ("bn1", BatchNorm2d(attn)),
            ("act1", ReLU()),
            ("fc2", Conv2d(attn, mid, 1, groups=groups, bias=True)),
            ("rsoftmax", GroupSoftmax(radix)),
        ],
        y,
        scope,
    )
    return b.add(GroupWeightedSum(radix), [y, weights], scope, "select", module=False)
