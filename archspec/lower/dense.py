"""DenseNet (Huang et al. 2017). torchvision's names (archspec/stdlib/layouts/
torchvision_densenet.yaml): everything before the head lives in `features` (conv0, norm0, relu0,
pool0, denseblockN.denselayerM, transitionN, norm5), then ReLU, global average pool, `classifier`.

Dense layer j of a block with input C reads C + j * growth_rate channels (the concatenation of
the block input and every earlier layer's output, in that order): BN-ReLU-1x1 conv to
bn_size * growth_rate, BN-ReLU-3x3 conv to growth_rate. A transition after every block but the
last: BN-ReLU-1x1 conv to floor(C * compression), 2x2 average pool. Without bottlenecks
(`bottleneck: false`, the paper's plain DenseNet) a layer is BN-ReLU-3x3 conv.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from archspec.blocks.definition import DenseForm
from archspec.blocks.library import builtin_blocks
from archspec.ir.graph import Scope
from archspec.lower.blocks import lower_block
from archspec.lower.choice import choice_of, norm_op
from archspec.lower.context import StageInput, StageOutput
from archspec.lower.errors import LowerError


def lower_dense_stage(st: StageInput) -> tuple[StageOutput, list[tuple[str, object]]]:
    """The stage's dense block (archspec/stdlib/blocks/dense_block.yaml, or the plain one
    without bottlenecks), then a transition (dense_transition.yaml) or, after the last
    stage, the final norm."""
    row = st.row
    growth = row.growth_rate or 32
    names = _dense_names(st)
    module = st.path(names.path)
    plain = row.bottleneck is False
    kind = "dense_block_plain" if plain else "dense_block"
    block = builtin_blocks()[kind]
    # The layout names the layers (torchvision: denselayer{m}): the definition takes its name.
    pattern = names.layer.replace("{m}", "{n}")
    assert block.dense is not None
    if block.dense.name != pattern:
        dense = DenseForm(each=block.dense.each, name=pattern)
        block = block.model_copy(update={"dense": dense})
    args: dict[str, Any] = {
        "in_channels": st.channels,
        "num_layers": row.depth,
        "growth_rate": growth,
    }
    if not plain:
        args["bottleneck_channels"] = (row.bn_size or 4) * growth
    scope = Scope(module, st.key)
    choice = choice_of(st.spec, row)
    x, call = lower_block(
        st.builder, scope, st.x, kind, block, args, st.loc, _builtin, tagged=False, choice=choice
    )
    channels = st.channels + row.depth * growth
    children: list[tuple[str, object]] = [(module, call)]
    if not st.last:
        path = st.path(names.transition)
        x, channels, transition = _transition(st, x, channels, path)
        children.append((path, transition))
    else:
        norm = norm_op(choice, channels)
        path = names.final_norm
        x = st.builder.add(norm, [x], Scope("", st.key), path)
        children.append((path, norm))
    return StageOutput(x, channels), children


def _builtin(kind: str) -> Any:
    return builtin_blocks().get(kind)


@dataclass(frozen=True)
class _DenseNames:
    path: str
    layer: str
    transition: str
    final_norm: str


def _dense_names(st: StageInput) -> _DenseNames:
    names = st.layout.stages
    if names.layer is None or names.transition is None or names.final_norm is None:
        raise LowerError(
            (*st.loc, "block"),
            f"layout {st.layout.name!r} does not name dense layers, transitions and final norm",
            "use a layout with stages.layer, stages.transition and stages.final_norm, "
            "e.g. torchvision_densenet",
        )
    return _DenseNames(names.path, names.layer, names.transition, names.final_norm)


def _transition(st: StageInput, x: str, channels: int, path: str) -> tuple[str, int, Any]:
    """dense_transition.yaml to floor(channels x compression)."""
    compression = st.row.compression if st.row.compression is not None else 0.5
    out = math.floor(channels * compression)
    if out < 1:
        raise LowerError(
            (*st.loc, "compression"),
            f"compresses {channels} channels to 0",
            "raise compression (0 < compression <= 1)",
        )
    block = builtin_blocks()["dense_transition"]
    scope = Scope(path, st.key, path)
    args = {"in_channels": channels, "out_channels": out}
    choice = choice_of(st.spec, st.row)
    y, call = lower_block(
        st.builder,
        scope,
        x,
        "dense_transition",
        block,
        args,
        st.loc,
        _builtin,
        tagged=False,
        choice=choice,
    )
    return y, out, call
