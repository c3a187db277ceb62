"""EfficientNet B0-B7 and V2 in torchvision's layout (`features.0` stem, `features.N` stages of
MBConv / FusedMBConv, the last conv as the tail, `avgpool`, `classifier`), and timm's
EfficientNet / MobileNetV2 layout (`conv_stem`, `bn1`, `blocks.i.j`, `conv_head`, `bn2`,
`classifier`): SiLU networks in `timm_efficientnet`, ReLU6 ones in `timm_mobilenet`.

Blocks are told apart by their members and conv geometry: a depthwise conv with SE (MBConv1),
a 1x1 expansion before it (MBConv), or a full 3x3 expansion conv (fused MBConv)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archspec.importer.errors import NotImportable
from archspec.importer.layers import Unit, pair, same_padding, stateless, unit
from archspec.importer.mobilenet import conv_kind, dropout_linear, placed
from archspec.importer.tree import child, children, kind

DEFAULT_RATIO = {"mbconv": 6, "fused_mbconv": 4, "inverted_residual": 6}
# timm's stem activation -> (the stem and tail kind, the layout whose block kinds fit).
TIMM_LAYOUTS = {
    "SiLU": ("conv_bn_silu", "timm_efficientnet"),
    "ReLU6": ("conv_bn_relu6", "timm_mobilenet"),
}
# The same for timm's TensorFlow ports (Conv2dSame): kinds whose spatial convs are conv2d_same.
TIMM_SAME_LAYOUTS = {"SiLU": ("conv_bn_silu", "timm_tf_efficientnet")}
TIMM_PASSIVE = {"Identity", "DropPath", "ReLU6", "SiLU", "ReLU"}
# Members of timm's DepthwiseSeparableConv, InvertedResidual, EdgeResidual and ConvBnAct.
TIMM_MEMBERS = {"conv_pw", "conv_dw", "conv_pwl", "conv_exp", "conv", "bn1", "bn2", "bn3", "se"}


def matches_torchvision(model: Any) -> bool:
    features = child(model, "features")
    items = list(features) if kind(features) == "Sequential" else []
    return (
        len(items) > 2
        and kind(items[1]) == "Sequential"
        and kind(child(next(iter(items[1]), None), "block")) == "Sequential"
    )


def matches_timm(model: Any) -> bool:
    kids = children(model)
    return all(k in kids for k in ("conv_stem", "bn1", "blocks"))


def recognise_torchvision(model: Any) -> Iterator[dict[str, Any]]:
    items = list(model.features)
    stem = _placed(unit(items[0], "features.0"), "features.0", "SiLU", "conv_bn_silu")
    stages, probs = [], []
    for n, stage in enumerate(items[1:-1], 1):
        reads = []
        for j, block in enumerate(stage):
            path = f"features.{n}.{j}"
            reads.append(_tv_block(block, path))
            probs.append(_prob(child(block, "stochastic_depth")))
        stages.append(_row(reads, f"features.{n}"))
    last = f"features.{len(items) - 1}"
    tail = _placed(unit(items[-1], last), last, "SiLU", "conv_bn_silu")
    pool = child(model, "avgpool")
    if kind(pool) != "AdaptiveAvgPool2d":
        raise NotImportable("avgpool", f"{kind(pool)} as the global pool has no spec form")
    yield _body(
        "torchvision_efficientnet",
        stem,
        stages,
        tail,
        dropout_linear(child(model, "classifier"), "classifier"),
        probs,
    )


def recognise_timm(model: Any) -> Iterator[dict[str, Any]]:
    same = same_padding(model)
    if child(model, "bn2") is None:
        raise NotImportable(
            "conv_head", "a conv head after the global pool (timm MobileNetV3) has no spec form"
        )
    stem_unit = pair(model.conv_stem, model.bn1, "conv_stem", "bn1", same=same)
    act = stem_unit.act
    layouts = TIMM_SAME_LAYOUTS if same else TIMM_LAYOUTS
    if act not in layouts:
        padding = " with TensorFlow 'same' padding (Conv2dSame)" if same else ""
        raise NotImportable(
            "bn1",
            f"{act or 'no'} activation{padding}: archspec's kinds for it use {', '.join(layouts)}",
        )
    conv_kind_name, layout = layouts[act]
    stem = _placed(stem_unit, "conv_stem", act, conv_kind_name)
    stages, probs = [], []
    for i, stage in enumerate(model.blocks):
        reads = []
        for j, block in enumerate(stage):
            reads.append(_timm_block(block, f"blocks.{i}.{j}", act, same))
            probs.append(_prob(child(block, "drop_path")))
        stages.append(_row(reads, f"blocks.{i}"))
    head_unit = pair(model.conv_head, model.bn2, "conv_head", "bn2", same=same)
    tail = _placed(head_unit, "conv_head", act, conv_kind_name)
    pool = child(model, "global_pool")
    if pool is not None and getattr(pool, "pool_type", "avg") != "avg":
        raise NotImportable("global_pool", f"{pool.pool_type} pooling has no spec form")
    fc = child(model, "classifier")
    if kind(fc) != "Linear":
        raise NotImportable("classifier", f"a {kind(fc) or 'missing'} classifier")
    head: dict[str, Any] = {"type": "dropout_linear", "num_classes": int(fc.out_features)}
    rate = float(getattr(model, "drop_rate", 0.2))
    if rate != 0.2:
        head["args"] = {"dropout": rate}
    yield _body(layout, stem, stages, tail, head, probs)


def _placed(found: Unit, path: str, act: str, name: str) -> dict[str, Any]:
    return placed(name, *conv_kind(found, path, act, name))


def _prob(module: Any) -> float:
    """A block's stochastic-depth probability (0 where it has none)."""
    return float(getattr(module, "p", getattr(module, "drop_prob", 0.0)) or 0.0)


def _tv_block(block: Any, path: str) -> dict[str, Any]:
    for name, module in children(block).items():
        if name not in ("block", "stochastic_depth"):
            raise NotImportable(f"{path}.{name}", f"{kind(module)} has no spec form")
    layers = list(child(block, "block") or [])
    se = [i for i, m in enumerate(layers) if kind(m) == "SqueezeExcitation"]
    units = [unit(m, f"{path}.block.{i}") for i, m in enumerate(layers) if i not in se]
    for i in se:
        _check_se(layers[i], f"{path}.block.{i}")
    return _classify(units, bool(se), path, "SiLU")


def _check_se(module: Any, path: str) -> None:
    if kind(child(module, "activation")) != "SiLU" or kind(module.scale_activation) != "Sigmoid":
        raise NotImportable(path, "an SE with other activations than SiLU and sigmoid")


def _timm_block(block: Any, path: str, act: str, same: bool) -> dict[str, Any]:
    kids = children(block)
    for name, module in kids.items():
        if name == "aa" and kind(module) != "Identity":
            raise NotImportable(f"{path}.aa", f"{kind(module)} (anti-aliasing) has no spec form")
        passive = stateless(module) and kind(module) in TIMM_PASSIVE
        if name not in TIMM_MEMBERS and not passive:
            raise NotImportable(f"{path}.{name}", f"{kind(module)} has no spec form")
    units = _timm_units(block, path, same)
    se = child(block, "se")
    if se is not None:
        _check_timm_se(se, f"{path}.se", act)
    return _classify(units, se is not None, path, act)


def _timm_units(block: Any, path: str, same: bool) -> list[Unit]:
    """The block's convs in forward order, each with its BatchNormAct2d (`same`: Conv2dSame
    accepted)."""
    kids = children(block)
    if "conv_exp" in kids:  # EdgeResidual
        pairs = [("conv_exp", "bn1"), ("conv_pwl", "bn2")]
    elif "conv_pwl" in kids:  # InvertedResidual
        pairs = [("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")]
    elif "conv_dw" in kids:  # DepthwiseSeparableConv
        pairs = [("conv_dw", "bn1"), ("conv_pw", "bn2")]
    elif "conv" in kids:  # ConvBnAct
        pairs = [("conv", "bn1")]
    else:
        raise NotImportable(path, f"{kind(block)} ({', '.join(kids)}) has no spec form")
    return [
        pair(getattr(block, c), getattr(block, n), f"{path}.{c}", f"{path}.{n}", same=same)
        for c, n in pairs
    ]


def _check_timm_se(se: Any, path: str, act: str) -> None:
    kids = children(se)
    if not {"conv_reduce", "conv_expand"} <= set(kids):
        raise NotImportable(path, f"{kind(se)} has no spec form")
    if kind(child(se, "act1")) != act or kind(child(se, "gate")) not in ("Sigmoid", ""):
        raise NotImportable(path, f"{kind(se)} with other activations has no spec form")


def _classify(units: list[Unit], se: bool, path: str, act: str) -> dict[str, Any]:
    """(block kind, width, stride, args) from the block's convs in order."""
    wanted = [act] * (len(units) - 1) + ["" if len(units) > 1 else act]
    if [u.act for u in units] != wanted:
        raise NotImportable(path, "activations other than the network's between the convs")
    norms = {tuple(u.norm_args().items()) for u in units}
    if len(norms) != 1:
        raise NotImportable(path, "BatchNorms with different eps or momentum in one block")
    norm = dict(norms.pop())
    first, last = units[0].conv, units[-1].conv
    depthwise = [u.conv for u in units if u.conv.groups > 1]
    read: dict[str, Any] = {"width": last.out_channels}
    if depthwise:
        dw = depthwise[0]
        if dw.groups != dw.in_channels or dw.out_channels != dw.in_channels:
            raise NotImportable(dw.path, "a grouped conv that is not depthwise")
        read["stride"] = dw.stride
        args: dict[str, Any] = {"kernel_size": dw.kernel} if dw.kernel != 3 else {}
        if len(units) == 2:
            block = "mbconv_dw" if act == "SiLU" else "depthwise_separable"
        else:
            block = "mbconv" if act == "SiLU" else "inverted_residual"
            args = {**_ratio(first.in_channels, first.out_channels, path, block), **args}
    else:
        read["stride"] = first.stride
        block = "fused_mbconv"
        args = {"kernel_size": first.kernel} if first.kernel != 3 else {}
        expanded = first.out_channels if len(units) == 2 else first.in_channels
        if len(units) == 2 and expanded == first.in_channels:
            raise NotImportable(path, "a fused MBConv with a 1x1 projection but no expansion")
        args = {**_ratio(first.in_channels, expanded, path, block), **args}
    _check_se_use(block, se, path)
    if act == "ReLU6" and (args.get("kernel_size") or norm):
        raise NotImportable(path, "a ReLU6 block with a non-3x3 kernel or non-default norms")
    return {"block": block, **read, "args": {**args, **norm}}


def _ratio(in_channels: int, expanded: int, path: str, block: str) -> dict[str, Any]:
    if expanded % in_channels:
        raise NotImportable(path, f"an expansion {in_channels} -> {expanded} is no whole ratio")
    ratio = expanded // in_channels
    return {} if ratio == DEFAULT_RATIO[block] else {"expand_ratio": ratio}


def _check_se_use(block: str, se: bool, path: str) -> None:
    wants = block in ("mbconv", "mbconv_dw")
    if se != wants:
        where = "with" if se else "without"
        raise NotImportable(path, f"a {block} block {where} squeeze-excitation has no spec form")


def _row(reads: list[dict[str, Any]], path: str) -> dict[str, Any]:
    if not reads:
        raise NotImportable(path, "an empty stage has no spec form")
    first = reads[0]
    for j, other in enumerate(reads[1:], 1):
        if other["stride"] != 1 or any(other[k] != first[k] for k in ("block", "width", "args")):
            raise NotImportable(f"{path}.{j}", f"differs from {path}.0 in kind, width or args")
    return {**first, "depth": len(reads)}


def _drop_path_rate(probs: list[float]) -> float:
    """The rate r with block k of n at r * k / n (torchvision's and timm's rule)."""
    n = len(probs)
    if n < 2 or not any(probs):
        return 0.0
    rate = round(probs[-1] * n / (n - 1), 9)
    if any(abs(p - rate * k / n) > 1e-6 for k, p in enumerate(probs)):
        raise NotImportable("", "stochastic depth that does not grow as rate x k / n")
    return rate


def _body(
    layout: str,
    stem: dict[str, Any],
    rows: list[dict[str, Any]],
    tail: dict[str, Any],
    head: dict[str, Any],
    probs: list[float],
) -> dict[str, Any]:
    stages: dict[str, Any] = {"block": [r["block"] for r in rows]}
    if len(set(stages["block"])) == 1:
        stages["block"] = rows[0]["block"]
    stages.update(depth=[r["depth"] for r in rows], width=[r["width"] for r in rows])
    strides = [r["stride"] for r in rows]
    if strides != [1] + [2] * (len(rows) - 1):
        stages["stride"] = strides
    args = [r["args"] for r in rows]
    if any(args):
        stages["args"] = args[0] if all(a == args[0] for a in args) else args
    body: dict[str, Any] = {"layout": layout}
    rate = _drop_path_rate(probs)
    if rate:
        body["drop_path_rate"] = rate
    return {**body, "stem": stem, "stages": stages, "tail": tail, "head": head}
