"""Stems: conv7x7 (+ max-pool), conv3x3 (CIFAR), deep (three 3x3 convs, ResNet-C/D).

Module names come from the layout (torchvision ResNet: `conv1 bn1 relu maxpool`); the deep stem
is timm's `conv1 = Sequential(conv, bn, relu, conv, bn, relu, conv)` with widths mid, mid, width
(tiered: two mids, timm's ResNet-T 24, 32).
"""

from __future__ import annotations

from archspec.ir.graph import Builder, Scope, Seq
from archspec.ir.ops import Conv2d, MaxPool2d, Op
from archspec.lower.choice import Choice, act_op, choice_of, mark, norm_op
from archspec.lower.context import StageOutput
from archspec.lower.geometry import has_pool
from archspec.spec.layout import Layout
from archspec.spec.models import Spec


def stem_convs(spec: Spec, choice: Choice) -> list[Op]:
    """The stem's convs (a deep stem's with the network's norm and activation between)."""
    stem, bias, c_in = spec.stem, spec.conv_bias, spec.input[0]
    if stem.type == "conv7x7":
        return [Conv2d(c_in, stem.width, 7, 2, 3, bias=bias)]
    if stem.type == "conv3x3":
        return [Conv2d(c_in, stem.width, 3, 1, 1, bias=bias)]
    given = stem.mid_width or max(1, stem.width // 2)
    first, second = given if isinstance(given, list) else (given, given)
    return [
        Conv2d(c_in, first, 3, 2, 1, bias=bias),
        norm_op(choice, first),
        act_op(choice),
        Conv2d(first, second, 3, 1, 1, bias=bias),
        norm_op(choice, second),
        act_op(choice),
        Conv2d(second, stem.width, 3, 1, 1, bias=bias),
    ]


def lower_stem(
    b: Builder, spec: Spec, x: str, layout: Layout
) -> tuple[StageOutput, list[tuple[str, object]]]:
    """The stem's ops, and its members as (module path, value) pairs, named by the layout."""
    if spec.stem.type == "none":
        return StageOutput(x, spec.input[0]), []
    names = layout.stem
    scope = Scope(names.path, "stem")
    choice = choice_of(spec)
    convs = stem_convs(spec, choice)
    if len(convs) == 1:
        x = b.add(convs[0], [x], scope, names.conv)
        members: list[tuple[str, Op | Seq]] = [(names.conv, convs[0])]
    else:
        x = b.chain([(f"{names.conv}.{i}", op) for i, op in enumerate(convs)], x, scope)
        members = [(names.conv, Seq(tuple(convs)))]
    tail: list[tuple[str, Op]] = []
    if spec.stem.norm:
        tail += [(names.norm, norm_op(choice, spec.stem.width)), (names.act, act_op(choice))]
    if spec.stem.norm or len(convs) > 1 or spec.stem.pool == "conv":
        mark(b.memo, "stem", "norm")
        mark(b.memo, "stem", "act")
    if spec.stem.pool == "conv":  # timm replace_stem_pool: Sequential(conv, bn, act)
        width = spec.stem.width
        ops: list[Op] = [Conv2d(width, width, 3, 2, 1, bias=spec.conv_bias)]
        ops += [norm_op(choice, width), act_op(choice)]
        x = b.chain(tail, x, scope)
        x = b.chain([(f"{names.pool}.{i}", op) for i, op in enumerate(ops)], x, scope)
        members += [*tail, (names.pool, Seq(tuple(ops)))]
    else:
        if has_pool(spec):
            tail.append((names.pool, MaxPool2d(3, 2, 1)))
        x = b.chain(tail, x, scope)
        members += tail
    if names.sequential:
        return StageOutput(x, spec.stem.width), [(names.path, Seq.named(*members))]
    return StageOutput(x, spec.stem.width), [(scope.path(n), value) for n, value in members]
