"""Pre-activation residual networks (He et al. 2016, "Identity Mappings"), timm ResNetV2 names.

Layout (archspec/stdlib/layouts/timm_resnetv2.yaml): `stem` (conv [+ norm, act] [+ pool]),
`stages.N.blocks.M`, a final `norm` + ReLU, and a `head` whose classifier is a 1x1 conv
(`head.fc`), as timm's resnetv2. Blocks normalise and activate their input first (`norm1`); a
projection shortcut (`downsample.conv`, a bare 1x1 conv) reads that pre-activated tensor; nothing
follows the residual add.
"""

from __future__ import annotations

from archspec.blocks.library import builtin_blocks
from archspec.ir.graph import Scope, Seq
from archspec.ir.ops import AvgPool2d, Conv2d, Identity, Op, ZeroPadShortcut
from archspec.lower.blocks import lower_block
from archspec.lower.choice import choice_of
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.residual import BlockArgs, block_args, definition_args, same_avg_pool
from archspec.lower.slots import attention_fill, projection_fill


def lower_preact_stage(st: StageInput) -> tuple[StageOutput, list[tuple[str, object]]]:
    """The standard library's preact_basic / preact_bottleneck definitions, the stage filling
    their `se` and `downsample` slots."""
    kind = st.row.block
    block = builtin_blocks()[kind]
    choice = choice_of(st.spec, st.row)
    x, calls = st.x, []
    for i, a in enumerate(block_args(st)):
        path = st.block_path(i)
        fills = {}
        se = attention_fill(st, a.out_channels, choice)
        if se is not None:
            fills["se"] = se
        # timm ResNetV2 also projects where the block changes dilation (PreActBasic).
        if a.stride != 1 or a.in_channels != a.out_channels or a.first_dilation != a.dilation:
            fills["downsample"] = projection_fill(Seq.named(*_projection(st, a)))
        x, call = lower_block(
            st.builder,
            Scope(path, st.key, path),
            x,
            kind,
            block,
            definition_args(a, kind == "preact_basic"),
            st.loc,
            lambda name: builtin_blocks().get(name),
            0,
            fills,
            tagged=False,
            choice=choice,
        )
        calls.append(call)
    return StageOutput(x, a.out_channels), st.children(calls)


def _projection(st: StageInput, a: BlockArgs) -> list[tuple[str, Op | Seq]]:
    """timm DownsampleConv (a strided 1x1 conv) or, with `downsample: avg`, DownsampleAvg
    (a 2x2 average pool, nn.Identity when the stride is 1, then a 1x1 conv)."""
    if st.row.downsample == "conv":
        return [("conv", Conv2d(a.in_channels, a.out_channels, 1, a.stride, bias=a.bias))]
    if st.row.downsample == "pad":
        return [("pad", ZeroPadShortcut(a.in_channels, a.out_channels, a.stride))]
    pool: Op | Seq = (
        same_avg_pool()
        if a.dilation != 1 and a.stride == 1
        else Identity()
        if a.stride == 1
        else AvgPool2d(2, a.stride, ceil_mode=True, count_include_pad=False)
    )
    return [("pool", pool), ("conv", Conv2d(a.in_channels, a.out_channels, 1, bias=a.bias))]
