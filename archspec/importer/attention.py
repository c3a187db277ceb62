"""Attention modules inside residual blocks, recognised by their members: timm's SEModule
(fc1/fc2), EcaModule (a Conv1d across channels), SelectiveKernel (paths/attn) and SplitAttn
(conv/fc1/fc2 with a radix). Widths that timm derives by rounding are fitted: the first
(reduction, divisor, ...) in the order a person would write them that gives every block's width."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Any

from archspec.expr.functions import make_divisible
from archspec.importer.errors import NotImportable
from archspec.importer.tree import child, conv, kind, no_class
from archspec.lower.attention import sk_attn_channels, split_attn_channels
from archspec.spec.models import SelectiveKernel, SplitAttention

# Candidate values in the order a person would reach for them (the defaults first).
REDUCTIONS = (16, 8, 4, 2, 32, 1, 64)
DIVISORS = (8, 1, 16, 32, 4, 2, 64)
MIN_CHANNELS: tuple[int | None, ...] = (None, 32, 16, 8, 64, 1)

# (channels the width is computed from, the width found), one pair per block.
Pairs = Sequence[tuple[int, int]]


def is_se(module: Any) -> bool:
    return child(module, "fc1") is not None and child(module, "fc2") is not None


def is_eca(module: Any) -> bool:
    return kind(child(module, "conv")) == "Conv1d"


def is_sk(module: Any) -> bool:
    return child(module, "paths") is not None and child(module, "attn") is not None


def is_split(module: Any) -> bool:
    return child(module, "fc1") is not None and hasattr(module, "radix")


def se_pair(module: Any, path: str) -> tuple[int, int]:
    """(channels, reduced width) of an SEModule; refuses a norm or activation timm's SE lacks."""
    fc1 = conv(module.fc1, f"{path}.fc1")
    _require_bias(module.fc1, f"{path}.fc1")
    if child(module, "bn") is not None:
        raise NotImportable(f"{path}.bn", "a norm inside squeeze-excitation has no spec form")
    _require(module, "act", ("ReLU",), path)
    _require(module, "gate", ("Sigmoid",), path)
    return fc1.in_channels, fc1.out_channels


def check_eca(module: Any, path: str) -> None:
    conv1d = module.conv
    if conv1d.bias is not None:
        raise NotImportable(f"{path}.conv", "ECA with a biased Conv1d has no spec form")
    _require(module, "gate", ("Sigmoid",), path)


def se_attention(pairs: Pairs) -> Iterable[dict[str, Any]]:
    """SE settings giving each block's reduced width, best first."""

    def width(c: int, r: int, d: int) -> int:
        return max(1, c // r) if d == 1 else make_divisible(c / r, d, round_limit=0)

    for r, d in _fits(pairs, lambda c, p: width(c, p[0], p[1]), _grid(pairs)):
        yield _without_defaults(
            {"type": "se", "reduction": r, "divisor": d}, reduction=16, divisor=8
        )


def sk_attention(module: Any, path: str, dilation: int, basic: bool) -> dict[str, Any]:
    """The SK fields read from the branches (not the rounded width; see sk_fits)."""
    paths = list(module.paths)
    convs = [conv(p, f"{path}.paths.{i}") for i, p in enumerate(paths)]
    kernels = [c.kernel for c in convs]
    dilations = [c.dilation // max(dilation, 1) for c in convs]
    out: dict[str, Any] = {"type": "sk"}
    if kernels == [3] * len(kernels) and dilations == list(range(1, len(kernels) + 1)):
        if len(kernels) != 2:
            out["branches"] = len(kernels)
    elif dilations == [1] * len(kernels):
        out["kernels"] = kernels
    else:
        raise NotImportable(
            f"{path}.paths", f"branches {kernels} dilated {dilations}: no spec form"
        )
    split_input = convs[0].in_channels * len(convs) == _sk_input(module, convs)
    if split_input != basic:
        out["split_input"] = split_input
    return out


def _sk_input(module: Any, convs: list[Any]) -> int:
    return int(getattr(module, "in_channels", 0)) or convs[0].in_channels


def sk_fits(base: dict[str, Any], pairs: Pairs) -> Iterable[dict[str, Any]]:
    # timm's own divisor before an explicit floor: (reduction, floor, divisor).
    grid = itertools.product(_reductions(pairs), MIN_CHANNELS, DIVISORS)

    def width(c: int, p: tuple[int, int | None, int]) -> int:
        model = SelectiveKernel(type="sk", reduction=p[0], divisor=p[2], min_channels=p[1])
        return sk_attn_channels(c, model)

    for r, m, d in _fits(pairs, width, grid):
        fields = {**base, "reduction": r, "divisor": d, "min_channels": m}
        yield _without_defaults(fields, reduction=16, divisor=8, min_channels=None)


def split_fits(base: dict[str, Any], pairs: Pairs) -> Iterable[dict[str, Any]]:
    radix = int(base.get("radix", 2))
    grid = itertools.product(
        _reductions([(c * radix, a) for c, a in pairs]), DIVISORS, (32, 16, 8, 64, 1)
    )

    def width(c: int, p: tuple[int, int, int]) -> int:
        model = SplitAttention(
            type="split", radix=radix, reduction=p[0], divisor=p[1], min_channels=p[2]
        )
        return split_attn_channels(c, model)

    for r, d, m in _fits(pairs, width, grid):
        fields = {**base, "reduction": r, "divisor": d, "min_channels": m}
        yield _without_defaults(
            fields, radix=2, reduction=4, divisor=8, min_channels=32, avd=True, avd_first=False
        )


def attention_kind(module: Any, path: str) -> str:
    """'se' or 'eca' for the module in a block's `se` slot; anything else has no spec form."""
    if is_se(module):
        return "se"
    if is_eca(module):
        return "eca"
    raise no_class(path, module)


def _fits(pairs: Pairs, width: Callable[[int, Any], int], grid: Iterable[Any]) -> Iterable[Any]:
    for params in grid:
        if all(width(c, params) == a for c, a in pairs):
            yield params


def _grid(pairs: Pairs) -> Iterable[tuple[int, int]]:
    return itertools.product(_reductions(pairs), DIVISORS)


def _reductions(pairs: Pairs) -> list[int]:
    """The ratio at the widest block (least distorted by rounding) first, then the usual ones."""
    c, a = max(pairs)
    guess = round(Fraction(c, max(a, 1)))
    return list(dict.fromkeys([guess, *REDUCTIONS] if guess >= 1 else REDUCTIONS))


def _without_defaults(fields: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in defaults or defaults[k] != v}


def _require(module: Any, name: str, kinds: tuple[str, ...], path: str) -> None:
    found = kind(child(module, name))
    if found and found not in kinds:
        raise NotImportable(f"{path}.{name}", f"{found} here has no spec form")


def _require_bias(module: Any, path: str) -> None:
    if module.bias is None:
        raise NotImportable(path, "squeeze-excitation without a bias has no spec form")
