"""Attention that replaces a residual block's 3x3, with timm's arithmetic and module names
(squeeze-excitation and kinds written as data fill the `se` slot: archspec.lower.slots).

- `sk`: selective kernel conv replacing the 3x3 (timm `SelectiveKernel`: paths.N.conv/bn,
  attn.fc_reduce/bn/fc_select);
- `split`: ResNeSt split-attention conv replacing the 3x3 (timm `SplitAttn`: conv, bn0, fc1,
  bn1, fc2).
"""

from __future__ import annotations

from fractions import Fraction

from archspec.lower.errors import LowerError
from archspec.spec.models import SelectiveKernel, SplitAttention


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


def split_attn_channels(channels: int, split: SplitAttention) -> int:
    value = Fraction(channels * split.radix, split.reduction)
    return make_divisible(value, split.divisor, split.min_channels)
