"""Residual stages: basic and bottleneck blocks (torchvision / timm `resnet.py` semantics).

Rules implemented here and nowhere else:
- the first block of a stage takes the stage stride; the rest use stride 1;
- a block projects its shortcut when its stride is not 1 or its channels change;
  `downsample: conv` is a strided 1x1 conv + BN, `avg` (ResNet-D) a 2x2 average pool
  (ceil_mode, count_include_pad=False; nn.Identity when stride is 1) + 1x1 conv + BN;
- bottleneck width = floor(width * base_width / 64) * groups (torchvision), output =
  width * expansion; the stride sits on the 3x3 (v1.5) or, with `stride_at: 1x1`, on the first 1x1.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.ir.graph import BlockClass, Builder, Call, Member, Scope, Seq
from archspec.ir.ops import Add, AvgPool2d, BatchNorm2d, Conv2d, Identity, Op, ReLU
from archspec.lower.attention import squeeze_excite
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.errors import LowerError


@dataclass(frozen=True)
class BlockArgs:
    in_channels: int
    width: int
    out_channels: int
    stride: int
    groups: int
    dilation: int
    bias: bool


def lower_residual_stage(st: StageInput) -> tuple[StageOutput, Member]:
    row = st.row
    width, out_channels = _channels(st)
    stride = row.stride or (1 if st.index == 0 else 2)
    module = f"layer{st.index + 1}"
    cls = _block_class(st)
    x, channels, calls = st.x, st.channels, []
    for i in range(row.depth):
        args = BlockArgs(
            channels,
            width,
            out_channels,
            stride if i == 0 else 1,
            row.groups,
            row.dilation,
            st.spec.conv_bias,
        )
        scope = Scope(f"{module}.{i}", st.key, f"{module}.{i}")
        x, call = _lower_block(st, cls, scope, x, args)
        calls.append(call)
        channels = out_channels
    return StageOutput(x, out_channels), Member(module, Seq(tuple(calls)))


def _channels(st: StageInput) -> tuple[int, int]:
    row = st.row
    if row.width is None:
        raise LowerError(
            (*st.loc, "width"),
            f"a {row.block} stage needs `width`",
            "add the stage's planes, e.g. width: 64",
        )
    expansion = row.expansion or (4 if row.block == "bottleneck" else 1)
    if row.block == "basic":
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


def _block_class(st: StageInput) -> BlockClass:
    if st.row.block == "basic":
        return BlockClass(
            "basic",
            "BasicBlock",
            (("bias", st.spec.conv_bias),),
            "bn2",
            "Two 3x3 convolutions with a residual connection.",
        )
    stride_1x1 = st.row.stride_at == "1x1"
    options = (("bias", st.spec.conv_bias), ("stride_1x1", stride_1x1))
    where = "the first 1x1" if stride_1x1 else "the 3x3"
    return BlockClass(
        "bottleneck",
        "Bottleneck",
        options,
        "bn3",
        f"1x1 reduce, 3x3, 1x1 expand, with a residual connection; the stride is on {where}.",
    )


def _lower_block(
    st: StageInput, cls: BlockClass, scope: Scope, x: str, a: BlockArgs
) -> tuple[str, Call]:
    b = st.builder
    y = b.chain(_main_path(cls, a), x, scope)
    kwargs: list[tuple[str, object]] = [
        (key, value)
        for key, value, default in (
            ("stride", a.stride, 1),
            ("groups", a.groups, 1),
            ("dilation", a.dilation, 1),
        )
        if value != default and (cls.template == "bottleneck" or key != "groups")
    ]
    y, se_call = _attention(st, scope, y, a)
    identity, downsample = _shortcut(b, scope, x, a, st.row.downsample)
    kwargs += [
        (key, value)
        for key, value in (("downsample", downsample), ("se", se_call))
        if value is not None
    ]
    y = b.add(Add(), [y, identity], scope, "add", module=False)
    y = b.add(ReLU(), [y], scope, "relu")
    args = (
        (a.in_channels, a.width, a.out_channels)
        if cls.template == "bottleneck"
        else (a.in_channels, a.out_channels)
    )
    return y, Call(cls, args, tuple(kwargs))


def _attention(st: StageInput, scope: Scope, y: str, a: BlockArgs) -> tuple[str, Call | None]:
    attention = st.row.attention
    if attention is None:
        return y, None
    if attention.type != "se":
        raise LowerError(
            (*st.loc, "attention", "type"),
            f"{attention.type!r} attention is not available for {st.row.block} blocks",
            "use type: se, or block: bottleneck",
        )
    return squeeze_excite(st.builder, scope.child("se"), y, a.out_channels, attention)


def _main_path(cls: BlockClass, a: BlockArgs) -> list[tuple[str, Op]]:
    if cls.template == "basic":
        return [
            (
                "conv1",
                Conv2d(
                    a.in_channels, a.out_channels, 3, a.stride, a.dilation, a.dilation, bias=a.bias
                ),
            ),
            ("bn1", BatchNorm2d(a.out_channels)),
            ("relu", ReLU()),
            (
                "conv2",
                Conv2d(a.out_channels, a.out_channels, 3, 1, a.dilation, a.dilation, bias=a.bias),
            ),
            ("bn2", BatchNorm2d(a.out_channels)),
        ]
    s1, s3 = (a.stride, 1) if cls.option("stride_1x1") else (1, a.stride)
    return [
        ("conv1", Conv2d(a.in_channels, a.width, 1, s1, bias=a.bias)),
        ("bn1", BatchNorm2d(a.width)),
        ("relu", ReLU()),
        ("conv2", Conv2d(a.width, a.width, 3, s3, a.dilation, a.dilation, a.groups, a.bias)),
        ("bn2", BatchNorm2d(a.width)),
        ("relu", ReLU()),
        ("conv3", Conv2d(a.width, a.out_channels, 1, bias=a.bias)),
        ("bn3", BatchNorm2d(a.out_channels)),
    ]


def _shortcut(b: Builder, scope: Scope, x: str, a: BlockArgs, style: str) -> tuple[str, Seq | None]:
    if a.stride == 1 and a.in_channels == a.out_channels:
        return x, None
    ops = shortcut_ops(a.in_channels, a.out_channels, a.stride, style, a.bias)
    named = [(f"downsample.{i}", op) for i, op in enumerate(ops)]
    return b.chain(named, x, scope), Seq(tuple(ops))


def shortcut_ops(
    in_channels: int, out_channels: int, stride: int, style: str, bias: bool
) -> list[Op]:
    """The projection shortcut: [conv, bn] or, for ResNet-D, [pool | identity, conv, bn]."""
    if style == "conv":
        return [Conv2d(in_channels, out_channels, 1, stride, bias=bias), BatchNorm2d(out_channels)]
    pool: Op = (
        Identity() if stride == 1 else AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)
    )
    return [pool, Conv2d(in_channels, out_channels, 1, bias=bias), BatchNorm2d(out_channels)]
