"""What follows the last stage: the layout's tail (norm, act) and classifier head.

torchvision names: ResNet `avgpool`, `fc`; DenseNet applies a ReLU first and calls the linear
`classifier`; timm ResNetV2 ends in `norm`, `act` and a `head` Sequential whose classifier is a
1x1 conv. Which applies is the layout's (archspec/stdlib/layouts/).
"""

from __future__ import annotations

import functools
from typing import Any

from archspec.blocks.library import find_block
from archspec.ir.graph import ArchGraph, BlockClass, Builder, Call, Member, Name, Scope, Seq, Step
from archspec.ir.ops import (
    AdaptiveAvgPool2d,
    Conv2d,
    Flatten,
    GlobalAvgPool,
    Linear,
    Op,
    ReLU,
)
from archspec.lower.blocks import lower_block
from archspec.lower.choice import act_op, choice_of, mark, norm_op
from archspec.lower.context import StageOutput
from archspec.lower.defined import splice_named
from archspec.lower.errors import LowerError
from archspec.spec.layout import HeadLayout, Layout
from archspec.spec.models import Spec

NUM_CLASSES = Name("num_classes")


def lower_tail(
    arch: ArchGraph, b: Builder, spec: Spec, current: StageOutput, layout: Layout
) -> str:
    """The tail's norm + act (unless `final_norm: false`), then the head; the output node."""
    x, tail = current.x, layout.tail
    members: list[tuple[str, Op]] = []
    choice = choice_of(spec)
    if tail.norm is not None and spec.final_norm is not False:
        members.append((tail.norm, norm_op(choice, current.channels)))
        mark(b.memo, "head", "norm")
    if tail.act is not None and spec.final_norm is not False:
        members.append((tail.act, act_op(choice)))
        mark(b.memo, "head", "act")
    x = b.chain(members, x, Scope("", "head"))
    arch.model.members += [Member(name, op) for name, op in members]
    arch.model.features += [Step("call", name) for name, _ in members]
    if spec.head is None:
        return x
    if spec.head.type != "classifier":
        return _lower_head_kind(arch, b, spec, layout.head, StageOutput(x, current.channels))
    return _lower_head(
        arch, b, layout.head, StageOutput(x, current.channels), spec.head.num_classes
    )


def _lower_head_kind(
    arch: ArchGraph, b: Builder, spec: Spec, head: HeadLayout, current: StageOutput
) -> str:
    """The layout's pool and flatten, then the head kind written as data at `head.block`,
    built with in_channels (the pooled features) and num_classes (the model's parameter)."""
    assert spec.head is not None
    scope = Scope(head.path, "head")
    x = _pool(arch, b, head, current.x, scope)
    channels = current.channels * head.pool_size * head.pool_size
    x = b.add(Flatten(), [x], scope, head.flatten or "flatten", module=head.flatten is not None)
    if head.flatten is None:
        arch.model.head.append(Step("flatten", ""))
    else:
        arch.model.members.append(Member(head.flatten, Flatten()))
        arch.model.head.append(Step("call", head.flatten))
    kind = head.kinds.get(spec.head.type, spec.head.type)
    block = find_block(kind, spec.blocks)
    if block is None:  # archspec.spec.block_use reports it on load
        raise LowerError(("head", "type"), f"unknown head type {kind!r}", "")
    args = {**spec.head.args, "in_channels": channels, "num_classes": spec.head.num_classes}
    if head.splice:
        y, ops = splice_named(b, "head", kind, block, args, x, spec)
        for name, op in ops:
            value: Any = op
            if isinstance(op, Linear) and op.out_features == spec.head.num_classes:
                value = Call("nn.Linear", (op.in_features, NUM_CLASSES))
            arch.model.members.append(Member(name, value))
            arch.model.head.append(Step("call", name))
        return y
    resolve = functools.partial(find_block, own=spec.blocks)
    path = head.block
    scope, choice = Scope(path, "head", path), choice_of(spec)
    y, call = lower_block(b, scope, x, kind, block, args, ("head",), resolve, choice=choice)
    arch.model.members.append(Member(path, _num_classes_named(call, spec.head.num_classes)))
    arch.model.head.append(Step("call", path))
    return y


def _num_classes_named(call: Call, num_classes: int) -> Call:
    """The model's `num_classes` parameter in place of its value in the head's constructor."""
    block = call.target.code.block if isinstance(call.target, BlockClass) else None
    names = list(block.params) if block is not None else []
    required = [n for n in names if block is not None and block.params[n].default is None]
    args = tuple(
        NUM_CLASSES if index < len(required) and required[index] == "num_classes" else value
        for index, value in enumerate(call.args)
    )
    kwargs = tuple((k, NUM_CLASSES if k == "num_classes" else v) for k, v in call.kwargs)
    assert num_classes in (*call.args, *(v for _, v in call.kwargs))
    return Call(call.target, args, kwargs)


def _pool_op(head: HeadLayout) -> Op:
    """nn.AdaptiveAvgPool2d((1, 1)) as ResNets have it, another output size (VGG's 7), or
    torchvision's functional adaptive average (MobileNet)."""
    if head.pool is not None and head.pool_size == 1:
        return GlobalAvgPool()
    op: Op = AdaptiveAvgPool2d(head.pool_size, functional=head.pool is None)
    return op


def _pool(arch: ArchGraph, b: Builder, head: HeadLayout, x: str, scope: Scope) -> str:
    """The layout's global pool: a module, or torchvision's functional adaptive average."""
    op = _pool_op(head)
    y = b.add(op, [x], scope, head.pool or "pool", module=head.pool is not None)
    if head.pool is None:
        arch.model.head.append(Step("pool", str(head.pool_size)))
    else:
        arch.model.members.append(Member(head.pool, op))
        arch.model.head.append(Step("call", head.pool))
    return y


def _lower_head(
    arch: ArchGraph, b: Builder, head: HeadLayout, current: StageOutput, num_classes: int
) -> str:
    """Add the head's ops, members and forward steps; return the logits node."""
    scope = Scope(head.path, "head")
    channels = current.channels * head.pool_size * head.pool_size
    ops: list[tuple[str, Op]] = [(head.act, ReLU())] if head.act is not None else []
    ops.append((head.pool or "pool", _pool_op(head)))
    if head.classifier == "linear":
        classifier: Op = Linear(channels, num_classes)
        code = Call("nn.Linear", (channels, NUM_CLASSES))
    else:
        classifier = Conv2d(channels, num_classes, 1, bias=True)
        code = Call("nn.Conv2d", (channels, NUM_CLASSES), (("kernel_size", 1),))
    fc: list[tuple[str, Op]] = [(head.fc, classifier)]
    flatten: list[tuple[str, Op]] = [(head.flatten or "flatten", Flatten())]
    order = flatten + fc if head.classifier == "linear" else fc + flatten
    x = current.x
    for name, op in ops + order:
        # Without a flatten (pool) member it is torch.flatten (a functional pool) in forward.
        module = op.module_call() is not None and not (
            isinstance(op, Flatten) and head.flatten is None
        )
        x = b.add(op, [x], scope, name, module=module)
    members = [(name, code if op is classifier else op) for name, op in ops + order]
    if head.path:
        arch.model.members.append(Member(head.path, Seq.named(*members)))
        arch.model.head.append(Step("call", head.path))
        return x
    for name, value in members:
        if isinstance(value, Flatten) and head.flatten is None:
            arch.model.head.append(Step("flatten", ""))
            continue
        if isinstance(value, Op) and value.module_call() is None:
            arch.model.head.append(Step("pool", str(head.pool_size)))
            continue
        # `classifier.0`: the layout wraps the classifier in an nn.Sequential.
        attr, _, index = name.partition(".")
        arch.model.members.append(Member(attr, Seq((value,)) if index else value))
        arch.model.head.append(Step("call", attr))
    return x
