"""What follows the last stage: the layout's tail (norm, act) and classifier head.

torchvision names: ResNet `avgpool`, `fc`; DenseNet applies a ReLU first and calls the linear
`classifier`; timm ResNetV2 ends in `norm`, `act` and a `head` Sequential whose classifier is a
1x1 conv. Which applies is the layout's (archspec/stdlib/layouts/).
"""

from __future__ import annotations

from archspec.ir.graph import ArchGraph, Builder, Call, Member, Name, Scope, Seq, Step
from archspec.ir.ops import BatchNorm2d, Conv2d, Flatten, GlobalAvgPool, Linear, Op, ReLU
from archspec.lower.context import StageOutput
from archspec.spec.layout import HeadLayout, Layout
from archspec.spec.models import Spec

NUM_CLASSES = Name("num_classes")


def lower_tail(
    arch: ArchGraph, b: Builder, spec: Spec, current: StageOutput, layout: Layout
) -> str:
    """The tail's norm + act (unless `final_norm: false`), then the head; the output node."""
    x, tail = current.x, layout.tail
    members: list[tuple[str, Op]] = []
    if tail.norm is not None and spec.final_norm is not False:
        members.append((tail.norm, BatchNorm2d(current.channels)))
    if tail.act is not None and spec.final_norm is not False:
        members.append((tail.act, ReLU()))
    x = b.chain(members, x, Scope("", "head"))
    arch.model.members += [Member(name, op) for name, op in members]
    arch.model.features += [Step("call", name) for name, _ in members]
    if spec.head is None:
        return x
    return _lower_head(
        arch, b, layout.head, StageOutput(x, current.channels), spec.head.num_classes
    )


def _lower_head(
    arch: ArchGraph, b: Builder, head: HeadLayout, current: StageOutput, num_classes: int
) -> str:
    """Add the head's ops, members and forward steps; return the logits node."""
    scope = Scope(head.path, "head")
    channels = current.channels
    ops: list[tuple[str, Op]] = [(head.act, ReLU())] if head.act is not None else []
    ops.append((head.pool, GlobalAvgPool()))
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
        # Without a flatten member the flatten is torch.flatten in forward, not a module.
        module = not (isinstance(op, Flatten) and head.flatten is None)
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
        # `classifier.0`: the layout wraps the classifier in an nn.Sequential.
        attr, _, index = name.partition(".")
        arch.model.members.append(Member(attr, Seq((value,)) if index else value))
        arch.model.head.append(Step("call", attr))
    return x
