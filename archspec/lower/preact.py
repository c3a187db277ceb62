"""Pre-activation residual networks (He et al. 2016, "Identity Mappings"), timm ResNetV2 names.

Layout (archspec/stdlib/layouts/timm_resnetv2.yaml): `stem` (conv [+ norm, act] [+ pool]),
`stages.N.blocks.M`, a final `norm` + ReLU, and a `head` whose classifier is a 1x1 conv
(`head.fc`), as timm's resnetv2. Blocks normalise and activate their input first (`norm1`); a
projection shortcut (`downsample.conv`, a bare 1x1 conv) reads that pre-activated tensor; nothing
follows the residual add.
"""

from __future__ import annotations

from archspec.ir.graph import BlockClass, Call, Scope, Seq
from archspec.ir.ops import Add, AvgPool2d, BatchNorm2d, Conv2d, Identity, Op, ReLU
from archspec.lower.attention import data_attention, squeeze_excite
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.residual import BlockArgs, block_args, flat_names, same_avg_pool
from archspec.spec.models import BlockAttention, SqueezeExcite


def lower_preact_stage(st: StageInput) -> tuple[StageOutput, list[tuple[str, object]]]:
    bottleneck = st.row.block == "preact_bottleneck"
    cls = _block_class(bottleneck, st.spec.conv_bias)
    module = st.path(st.layout.stages.path)
    x, calls = st.x, []
    for i, args in enumerate(block_args(st)):
        path = f"{module}.{i}"
        x, call = _lower_block(st, cls, Scope(path, st.key, path), x, args)
        calls.append(call)
    return StageOutput(x, args.out_channels), [(module, Seq(tuple(calls)))]


def _block_class(bottleneck: bool, bias: bool) -> BlockClass:
    if bottleneck:
        return BlockClass(
            "preact_bottleneck",
            "PreActBottleneck",
            (("bias", bias),),
            "conv3",
            "Pre-activation bottleneck: (BN, ReLU, conv) x 3 (1x1, 3x3, 1x1).",
        )
    return BlockClass(
        "preact_basic",
        "PreActBasic",
        (("bias", bias),),
        "conv2",
        "Pre-activation basic block: (BN, ReLU, 3x3 conv) x 2.",
    )


def _lower_block(
    st: StageInput, cls: BlockClass, scope: Scope, x: str, a: BlockArgs
) -> tuple[str, Call]:
    b = st.builder
    pre = b.chain([("norm1", BatchNorm2d(a.in_channels)), ("act1", ReLU())], x, scope)
    y = b.chain(_main_ops(cls, a), pre, scope)
    kwargs = _block_kwargs(cls, a)
    attention = st.row.attention
    if isinstance(attention, BlockAttention):
        loc = (*st.loc, "attention")
        y, se = data_attention(b, scope.child("se"), y, a.out_channels, attention, st.spec, loc)
        kwargs.append(("se", se))
    elif attention is not None:
        assert isinstance(attention, SqueezeExcite)  # archspec.spec.checks refuses sk, split
        y, se = squeeze_excite(b, scope.child("se"), y, a.out_channels, attention)
        kwargs.append(("se", se))
    shortcut = x
    # timm ResNetV2 also projects where the block changes dilation (PreActBasic).
    if a.stride != 1 or a.in_channels != a.out_channels or a.first_dilation != a.dilation:
        downsample = Seq.named(*_projection(st, a))
        shortcut = b.chain(flat_names("downsample", downsample), pre, scope)
        kwargs.append(("downsample", downsample))
    y = b.add(Add(), [y, shortcut], scope, "add", module=False)
    args = (
        (a.in_channels, a.width, a.out_channels)
        if cls.template == "preact_bottleneck"
        else (a.in_channels, a.out_channels)
    )
    return y, Call(cls, args, tuple(kwargs))


def _block_kwargs(cls: BlockClass, a: BlockArgs) -> list[tuple[str, object]]:
    """Constructor keywords that differ from their defaults. The bottleneck's only dilated conv
    reads the block input (timm `first_dilation`); the basic block's second conv uses `dilation`."""
    if cls.template == "preact_bottleneck":
        items = [
            ("stride", a.stride, 1),
            ("groups", a.groups, 1),
            ("dilation", a.first_dilation, 1),
        ]
    else:
        items = [
            ("stride", a.stride, 1),
            ("dilation", a.dilation, 1),
            ("first_dilation", a.first_dilation, a.dilation),
        ]
    return [(key, value) for key, value, default in items if value != default]


def _projection(st: StageInput, a: BlockArgs) -> list[tuple[str, Op | Seq]]:
    """timm DownsampleConv (a strided 1x1 conv) or, with `downsample: avg`, DownsampleAvg
    (a 2x2 average pool, nn.Identity when the stride is 1, then a 1x1 conv)."""
    if st.row.downsample == "conv":
        return [("conv", Conv2d(a.in_channels, a.out_channels, 1, a.stride, bias=a.bias))]
    pool: Op | Seq = (
        same_avg_pool()
        if a.dilation != 1 and a.stride == 1
        else Identity()
        if a.stride == 1
        else AvgPool2d(2, a.stride, ceil_mode=True, count_include_pad=False)
    )
    return [("pool", pool), ("conv", Conv2d(a.in_channels, a.out_channels, 1, bias=a.bias))]


def _main_ops(cls: BlockClass, a: BlockArgs) -> list[tuple[str, Op]]:
    d, first = a.dilation, a.first_dilation
    if cls.template == "preact_basic":
        return [
            (
                "conv1",
                Conv2d(a.in_channels, a.out_channels, 3, a.stride, first, first, bias=a.bias),
            ),
            ("norm2", BatchNorm2d(a.out_channels)),
            ("act2", ReLU()),
            ("conv2", Conv2d(a.out_channels, a.out_channels, 3, 1, d, d, bias=a.bias)),
        ]
    return [
        ("conv1", Conv2d(a.in_channels, a.width, 1, bias=a.bias)),
        ("norm2", BatchNorm2d(a.width)),
        ("act2", ReLU()),
        ("conv2", Conv2d(a.width, a.width, 3, a.stride, first, first, a.groups, a.bias)),
        ("norm3", BatchNorm2d(a.width)),
        ("act3", ReLU()),
        ("conv3", Conv2d(a.width, a.out_channels, 1, bias=a.bias)),
    ]
