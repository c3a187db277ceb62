"""The ResNet lineage in torchvision's layout (`conv1 bn1 maxpool layer1..N fc`), as torchvision
and timm build it: basic and bottleneck blocks with groups and base width, deep and tiered stems,
avg-down shortcuts, dilation, and SE, ECA, selective-kernel or split attention; the network's
norm (BatchNorm, FrozenBatchNorm2d, GroupNorm, LayerNorm2d) and activation as `norm:` / `act:`.

Each block is recognised by its children's names, classes and conv geometry, not by its class
name, so a user's own block class with the same members imports too."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from archspec.importer import attention, synthesis
from archspec.importer.errors import NotImportable
from archspec.importer.tree import Conv, child, children, conv, is_conv, kind, listing, numbered
from archspec.importer.writer import columnar

# The network's activations and norms (timm act_layer / norm_layer) -> the spec's `act:` / `norm:`.
ACTS = {
    "ReLU": "relu", "ReLU6": "relu6", "SiLU": "silu", "Swish": "silu", "GELU": "gelu",
    "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid", "LeakyReLU": "leaky_relu",
}  # fmt: skip
NORMS = {
    "BatchNorm2d": "batch", "FrozenBatchNorm2d": "frozen_batch", "GroupNorm": "group",
    "LayerNorm2d": "layer",
}  # fmt: skip
DEFAULT_GROUPS, NORM_EPS = 32, 1e-5
# Other norms by class name (RmsNorm2d, GroupNormAct, EvoNorm2dB0, ...); not ConvNormAct.
OTHER_NORM = re.compile(r"^(?!Conv)\w*(Norm(\d*d)?|NormAct\d*d?)$|^EvoNorm")
# Children a block may have that hold no state and change nothing in eval mode.
PASSIVE = {"Identity", "DropPath", "DropBlock2d", "Dropout", *ACTS}
BLOCK_MEMBERS = {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "se", "downsample"}
AVD = ("avd_first", "avd_last")
ROW_DEFAULTS: dict[str, Any] = {
    "groups": 1,
    "base_width": 64,
    "dilation": 1,
    "downsample": "conv",
    "stride_at": "3x3",
}


def matches(model: Any) -> bool:
    kids = children(model)
    return is_conv_or_seq(kids.get("conv1")) and "layer1" in kids and "bn1" in kids


def is_conv_or_seq(module: Any) -> bool:
    return is_conv(module) or kind(module) == "Sequential"


@dataclass
class Row:
    """One stage as read from its blocks; `pairs` feed the attention fit."""

    fields: dict[str, Any]
    attention: str | None = None
    base: dict[str, Any] = field(default_factory=dict)
    pairs: list[tuple[int, int]] = field(default_factory=list)


def recognise(model: Any) -> Iterator[dict[str, Any]]:
    """Candidate spec bodies (stem, stages, head), the likeliest first."""
    stem = _stem(model)
    try:
        rows = [
            _stage(layer, name, index)
            for index, (name, layer) in enumerate(numbered(model, "layer"))
        ]
    except NotImportable:
        # Blocks of the user's own: definitions synthesised from their fx graphs.
        yield synthesis.body(model, numbered(model, "layer"), stem, _head(model))
        return
    head = _head(model)
    kinds = {row.attention for row in rows}
    if len(kinds) > 1:
        raise NotImportable("layer1", "attention in some stages only: import writes one kind")
    choice = {**_norm_choice(model), **_act_choice(model)}
    for att in _attention_options(rows):
        table = [dict(row.fields, **({"attention": att} if att else {})) for row in rows]
        yield {**choice, "stem": stem, "stages": columnar(table, _row_default), "head": head}


def _norm_choice(model: Any) -> dict[str, Any]:
    """`norm:` from every norm in the network (all of them are the network's: the ResNet
    kinds, stems and projections write norm(), attention modules hold none); {} for BatchNorm."""
    found: dict[tuple[str, int], str] = {}
    for path, module in model.named_modules():
        name = kind(module)
        if name in NORMS:
            if abs(float(getattr(module, "eps", NORM_EPS)) - NORM_EPS) > 1e-12:
                raise NotImportable(path, f"{name} with eps {module.eps} has no spec form")
            found.setdefault((NORMS[name], int(getattr(module, "num_groups", 0))), path)
        elif OTHER_NORM.search(name) and name != "BatchNormAct2d":
            raise NotImportable(path, f"{name} as the network's norm has no spec form")
    if len(found) > 1:
        first, second = list(found.values())[:2]
        raise NotImportable(second, f"a norm other than {first}'s: import writes one norm")
    (norm, groups), *_ = found or {("batch", 0): ""}
    if norm == "group":
        return (
            {"norm": "group"}
            if groups == DEFAULT_GROUPS
            else {"norm": {"type": "group", "groups": groups}}
        )
    return {} if norm == "batch" else {"norm": norm}


def _act_choice(model: Any) -> dict[str, Any]:
    """`act:` from the network's activations: all but those inside an attention module (SE
    keeps its own ReLU and gate, as in timm); {} for ReLU."""
    found: dict[str, str] = {}
    skip: tuple[str, ...] = ()
    for path, module in model.named_modules():
        if path.endswith(".se") or path == "se":
            skip = (*skip, f"{path}.")
        if path.startswith(skip) or kind(module) not in ACTS:
            continue
        if kind(module) == "LeakyReLU" and float(module.negative_slope) != 0.01:
            raise NotImportable(path, f"LeakyReLU slope {module.negative_slope} has no spec form")
        if kind(module) == "GELU" and module.approximate != "none":
            raise NotImportable(path, "GELU with the tanh approximation has no spec form")
        found.setdefault(ACTS[kind(module)], path)
    if len(found) > 1:
        first, second = list(found.values())[:2]
        raise NotImportable(second, f"an activation other than {first}'s: import writes one")
    act = next(iter(found), "relu")
    return {} if act == "relu" else {"act": act}


def _attention_options(rows: list[Row]) -> Iterator[dict[str, Any] | None]:
    kind_ = rows[0].attention
    pairs = [p for row in rows for p in row.pairs]
    base: dict[str, Any] = {}
    for row in rows:
        base.update(row.base)
    if kind_ == "split":
        base.setdefault("avd", False)
    if kind_ is None:
        yield None
    elif kind_ == "eca":
        yield {"type": "eca"}
    elif kind_ == "se":
        yield from itertools.islice(attention.se_attention(pairs), 8)
    elif kind_ == "sk":
        yield from itertools.islice(attention.sk_fits(base, pairs), 8)
    elif kind_ == "split":
        yield from itertools.islice(attention.split_fits(base, pairs), 8)


def _row_default(key: str, index: int) -> Any:
    if key == "stride":
        return 1 if index == 0 else 2
    if key == "attention":
        return "none"
    return ROW_DEFAULTS.get(key)


def _stem(model: Any) -> dict[str, Any]:
    first = model.conv1
    if kind(first) == "Sequential":
        stem = _deep_stem(first)
    else:
        c = conv(first, "conv1")
        if c.kernel == 7 and c.stride == 2:
            stem = {"type": "conv7x7", "width": c.out_channels}
        elif c.kernel == 3 and c.stride == 1:
            stem = {"type": "conv3x3", "width": c.out_channels}
        else:
            raise NotImportable("conv1", f"a {c.kernel}x{c.kernel} stride-{c.stride} stem conv")
    norm = child(model, "bn1")
    if norm is None:
        stem["norm"] = False
    elif kind(norm) not in NORMS:
        raise NotImportable("bn1", f"{kind(norm)} has no spec form")
    stem.update(_stem_pool(model, stem["type"]))
    return stem


def _deep_stem(seq: Any) -> dict[str, Any]:
    layers = list(seq)
    kinds = [kind(m) for m in layers]
    shape = ["Conv2d", "norm", "act"] * 2 + ["Conv2d"]
    general = [k if k == "Conv2d" else "norm" if k in NORMS else "act" if k in ACTS else k
               for k in kinds]  # fmt: skip
    if general != shape:
        raise NotImportable("conv1", f"a stem of {', '.join(kinds)} has no spec form")
    a, b, c = (conv(layers[i], f"conv1.{i}") for i in (0, 3, 6))
    mid: int | list[int] = (
        a.out_channels
        if a.out_channels == b.out_channels
        else [
            a.out_channels,
            b.out_channels,
        ]
    )
    return {"type": "deep", "width": c.out_channels, "mid_width": mid}


def _stem_pool(model: Any, stem_type: str) -> dict[str, Any]:
    pool = child(model, "maxpool")
    pooled_by_default = stem_type != "conv3x3"
    if pool is None:
        return {} if not pooled_by_default else {"pool": False}
    if kind(pool) == "Sequential" and is_conv(next(iter(pool), None)):
        return {"pool": "conv"}
    if kind(pool) != "MaxPool2d" or (pool.kernel_size, pool.stride, pool.padding) != (3, 2, 1):
        raise NotImportable("maxpool", f"{kind(pool)} as the stem pool has no spec form")
    return {} if pooled_by_default else {"pool": True}


def _head(model: Any) -> dict[str, Any]:
    fc = child(model, "fc")
    if kind(fc) != "Linear":
        raise NotImportable("fc", f"a {kind(fc) or 'missing'} classifier has no spec form")
    pool = child(model, "global_pool")
    if pool is not None and getattr(pool, "pool_type", "avg") != "avg":
        raise NotImportable("global_pool", f"{pool.pool_type} pooling has no spec form")
    return {"type": "classifier", "num_classes": int(fc.out_features)}


def _stage(layer: Any, name: str, index: int) -> Row:
    blocks = list(layer)
    if kind(layer) != "Sequential" or not blocks:
        raise NotImportable(name, f"a stage must be a Sequential of blocks, found {kind(layer)}")
    reads = [_block(block, f"{name}.{j}") for j, block in enumerate(blocks)]
    first = reads[0]
    fields = {k: v for k, v in first.fields.items() if k not in ("dilation",)}
    dilation = reads[-1].fields["dilation"]
    if dilation != 1:
        fields["dilation"] = dilation
    for key in ("block", "width", "groups", "base_width", "stride_at"):
        for j, other in enumerate(reads[1:], 1):
            if other.fields.get(key) != first.fields.get(key):
                raise NotImportable(f"{name}.{j}", f"{key} differs from {name}.0's in one stage")
    fields = {"block": fields.pop("block"), "depth": len(blocks), **fields}
    pairs = [p for r in reads for p in r.pairs]
    base: dict[str, Any] = {}
    for read in reads:
        base.update(read.base)
    return Row(fields, first.attention, base, pairs)


def _block(block: Any, path: str) -> Row:
    kids = children(block)
    _check_members(block, kids, path)
    return _bottleneck(block, path) if "conv3" in kids else _basic(block, path)


def _check_members(block: Any, kids: dict[str, Any], path: str) -> None:
    if "conv1" not in kids or "conv2" not in kids:
        names = listing(kids)
        raise NotImportable(path, f"{kind(block)} ({names}) has no spec form")
    for name, module in kids.items():
        if name.startswith("bn") and kind(module) not in (*NORMS, "Identity", ""):
            raise NotImportable(f"{path}.{name}", f"{kind(module)} has no spec form")
        if name in BLOCK_MEMBERS or name in AVD or module is None:
            continue
        stateful = any(True for _ in module.parameters()) or any(True for _ in module.buffers())
        if stateful or kind(module) not in PASSIVE:
            raise NotImportable(f"{path}.{name}", f"{kind(module)} has no spec form")


def _bottleneck(block: Any, path: str) -> Row:
    c1 = conv(block.conv1, f"{path}.conv1")
    c3 = conv(block.conv3, f"{path}.conv3")
    mid, att, base, pairs = _three_by_three(block.conv2, f"{path}.conv2", c1.in_channels, False)
    fields: dict[str, Any] = {"block": "bottleneck"}
    inner = c1.out_channels
    width, base_width = _planes(c3.out_channels, inner, mid.groups, path)
    fields.update(width=width, groups=mid.groups, base_width=base_width)
    stride = mid.stride
    if c1.stride > 1:
        fields["stride_at"], stride = "1x1", c1.stride
    for avd in AVD:
        pool = child(block, avd)
        if pool is not None:
            stride = int(pool.stride)
            base = {**base, "avd": True, **({"avd_first": True} if avd == "avd_first" else {})}
    fields.update(stride=stride, dilation=mid.dilation, **_downsample(block, path))
    se = _se(block, path, c3.out_channels, pairs)
    return Row(fields, se or att, base, pairs)


def _basic(block: Any, path: str) -> Row:
    first, att, base, pairs = _three_by_three(block.conv1, f"{path}.conv1", 0, True)
    c2 = conv(block.conv2, f"{path}.conv2")
    if first.out_channels != c2.out_channels or first.groups != 1:
        raise NotImportable(path, f"{kind(block)}: a basic block with a grouped or narrowed conv1")
    fields: dict[str, Any] = {"block": "basic", "width": c2.out_channels}
    fields.update(stride=first.stride, dilation=first.dilation, **_downsample(block, path))
    se = _se(block, path, c2.out_channels, pairs)
    return Row(fields, se or att, base, pairs)


def _three_by_three(
    module: Any, path: str, in_channels: int, basic: bool
) -> tuple[Conv, str | None, dict[str, Any], list[tuple[int, int]]]:
    """The block's spatial conv: a Conv2d, or SK / split attention in its place."""
    if attention.is_sk(module):
        first = conv(module.paths[0], f"{path}.paths.0")
        base = attention.sk_attention(module, path, first.dilation, basic)
        reduced = conv(module.attn.fc_reduce, f"{path}.attn.fc_reduce").out_channels
        return first, "sk", base, [(first.out_channels, reduced)]
    if attention.is_split(module):
        inner = conv(module.conv, f"{path}.conv")
        radix = int(module.radix)
        width = inner.out_channels // radix
        geometry = Conv(
            path,
            inner.in_channels,
            width,
            3,
            inner.stride,
            inner.dilation,
            inner.groups // radix,
            False,
        )
        reduced = conv(module.fc1, f"{path}.fc1").out_channels
        base = {"type": "split", "radix": radix}
        return geometry, "split", base, [(width, reduced)]
    c = conv(module, path)
    if c.kernel != 3:
        raise NotImportable(path, f"a {c.kernel}x{c.kernel} conv where the 3x3 sits")
    return c, None, {}, []


def _planes(out: int, inner: int, groups: int, path: str) -> tuple[int, int]:
    """(width, base_width) with torchvision's rule inner = int(width * base_width / 64) * groups,
    expansion 4."""
    if out % 4 == 0:
        width = out // 4
        if (inner * 64) % (width * groups) == 0:
            base_width = inner * 64 // (width * groups)
            if int(width * base_width / 64) * groups == inner:
                return width, base_width
    raise NotImportable(path, f"a bottleneck {inner} wide inside, {out} out, has no spec form")


def _downsample(block: Any, path: str) -> dict[str, Any]:
    ds = child(block, "downsample")
    if ds is None:
        return {}
    kinds = [kind(m) for m in ds] if kind(ds) == "Sequential" else [kind(ds)]
    if len(kinds) == 2 and kinds[0] == "Conv2d" and kinds[1] in NORMS:
        return {}
    if (
        len(kinds) == 3
        and kinds[0] in ("AvgPool2d", "AvgPool2dSame", "Identity")
        and kinds[1] == "Conv2d"
        and kinds[2] in NORMS
    ):
        return {"downsample": "avg"}
    raise NotImportable(f"{path}.downsample", f"a shortcut of {', '.join(kinds)} has no spec form")


def _se(block: Any, path: str, channels: int, pairs: list[tuple[int, int]]) -> str | None:
    module = child(block, "se")
    if module is None:
        return None
    found = attention.attention_kind(module, f"{path}.se")
    if found == "se":
        pairs.append(attention.se_pair(module, f"{path}.se"))
    else:
        attention.check_eca(module, f"{path}.se")
    return found
