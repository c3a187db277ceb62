"""Stems: conv7x7 (+ max-pool), conv3x3 (CIFAR), deep (three 3x3 convs, ResNet-C/D), each the
standard library's definition (archspec/stdlib/blocks/stem_conv.yaml, stem_deep.yaml) spliced
onto the model under the layout's names.

The definitions name their members by role (`conv`, `norm`, `act`, `pool`, and `pool_conv`,
which goes where `pool` does); the layout names each role (torchvision ResNet: `conv1 bn1 relu
maxpool`; timm ResNetV2: `stem.conv`, `stem.norm`, `stem.pool`). A deep stem's three convs are
timm's `conv1 = Sequential(conv, bn, relu, conv, bn, relu, conv)` with widths mid, mid, width
(tiered: two mids, timm's ResNet-T 24, 32).
"""

from __future__ import annotations

from typing import Any

from archspec.blocks.library import builtin_blocks
from archspec.ir.graph import Builder, Scope, Seq
from archspec.ir.ops import Op
from archspec.lower.choice import mark, uses_choice
from archspec.lower.context import StageOutput
from archspec.lower.defined import chain_ops, place
from archspec.lower.geometry import has_pool
from archspec.spec.layout import Layout, StemLayout
from archspec.spec.models import Spec


def stem_kind(spec: Spec) -> tuple[str, dict[str, Any]]:
    """The built-in stem's definition and arguments."""
    stem = spec.stem
    args: dict[str, Any] = {
        "in_channels": spec.input[0],
        "out_channels": stem.width,
        "bias": spec.conv_bias,
        "normed": stem.norm,
        "max_pool": has_pool(spec) and stem.pool != "conv",
        "conv_pool": stem.pool == "conv",
    }
    if stem.type == "deep":
        given = stem.mid_width or max(1, stem.width // 2)
        first, second = given if isinstance(given, list) else (given, given)
        return "stem_deep", {**args, "first": first, "second": second}
    if stem.type == "conv3x3":
        return "stem_conv", {**args, "kernel_size": 3, "stride": 1}
    return "stem_conv", args


def lower_stem(
    b: Builder, spec: Spec, x: str, layout: Layout
) -> tuple[StageOutput, list[tuple[str, object]]]:
    """The stem's ops, and its members as (module path, value) pairs, named by the layout."""
    if spec.stem.type == "none":
        return StageOutput(x, spec.input[0]), []
    names = layout.stem
    scope = Scope(names.path, "stem")
    kind, args = stem_kind(spec)
    block = builtin_blocks()[kind]
    for word in uses_choice(block):
        mark(b.memo, "stem", word)
    members: list[tuple[str, Op | Seq]] = []
    for member, value in chain_ops(kind, block, args, ("stem",), spec):
        name = _role(names, member)
        x = place(b, value, x, scope, name)
        members.append((name, value))
    if names.sequential:
        return StageOutput(x, spec.stem.width), [(names.path, Seq.named(*members))]
    return StageOutput(x, spec.stem.width), [(scope.path(n), value) for n, value in members]


def _role(names: StemLayout, member: str) -> str:
    """The layout's name for a stem definition's member (`pool_conv` sits where `pool` does)."""
    role = {"conv": names.conv, "norm": names.norm, "act": names.act, "pool": names.pool}
    return role.get(member.removesuffix("_conv"), member)
