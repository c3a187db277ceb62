"""MobileNetV2 and V3 in torchvision's flat layout: the stem, every block and the last conv
numbered in one `features` Sequential, then the classifier; and timm's MobileNetV3
(`conv_stem`, `blocks.i.j`, a pooled `conv_head`).

V2 (`torchvision_flat`): blocks hold a `conv` Sequential (the depthwise-separable first block,
then inverted residuals with ReLU6), the last conv is the tail, the head dropout + linear.
V3 (`torchvision_mobilenet_v3`): blocks hold a `block` Sequential ([expand,] depthwise, [SE,]
project, with ReLU or hard swish), the last conv is a stage of its own, the head
linear-hardswish-dropout-linear after an `avgpool` module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archspec.importer.errors import NotImportable
from archspec.importer.layers import Unit, group_rows, pair, same_padding, table, unit
from archspec.importer.tree import child, children, conv, kind

V3_EPS, V3_MOMENTUM = 1e-3, 0.01
# Kinds whose BatchNorm eps and momentum are fixed.
NO_NORM_ARGS = ("conv_bn_relu6",)


def _features(model: Any) -> list[Any]:
    features = child(model, "features")
    return list(features) if kind(features) == "Sequential" else []


def matches_v2(model: Any) -> bool:
    items = _features(model)
    return (
        len(items) > 2
        and child(model, "avgpool") is None
        and kind(child(items[1], "conv")) == "Sequential"
    )


def matches_v3(model: Any) -> bool:
    items = _features(model)
    return (
        len(items) > 2
        and child(model, "avgpool") is not None
        and kind(child(items[1], "block")) == "Sequential"
    )


def recognise_v2(model: Any) -> Iterator[dict[str, Any]]:
    items = _features(model)
    stem = _placed(items[0], "features.0", "ReLU6", "conv_bn_relu6")
    reads = [_v2_block(block, f"features.{i}") for i, block in enumerate(items[1:-1], 1)]
    tail = _placed(items[-1], f"features.{len(items) - 1}", "ReLU6", "conv_bn_relu6")
    yield {
        "layout": "torchvision_flat",
        "stem": stem,
        "stages": table(group_rows(reads)),
        "tail": tail,
        "head": dropout_linear(child(model, "classifier"), "classifier"),
    }


def recognise_v3(model: Any) -> Iterator[dict[str, Any]]:
    items = _features(model)
    stem = _placed(items[0], "features.0", "Hardswish", "conv_bn_hardswish")
    reads = [_v3_block(block, f"features.{i}") for i, block in enumerate(items[1:-1], 1)]
    path = f"features.{len(items) - 1}"
    width, stride, args = conv_kind(unit(items[-1], path), path, "Hardswish", "conv_bn_hardswish")
    reads.append({"block": "conv_bn_hardswish", "width": width, "stride": stride, "args": args})
    pool = child(model, "avgpool")
    if kind(pool) != "AdaptiveAvgPool2d" or pool.output_size not in (1, (1, 1)):
        raise NotImportable("avgpool", f"{kind(pool)} as the global pool has no spec form")
    yield {
        "layout": "torchvision_mobilenet_v3",
        "stem": stem,
        "stages": table(group_rows(reads)),
        "head": _v3_head(child(model, "classifier")),
    }


def conv_kind(found: Unit, path: str, act: str, name: str) -> tuple[int, int, dict[str, Any]]:
    """A stem, tail or last conv-BN-act of kind `name`: (width, stride, args other than
    stride)."""
    c = found.conv
    if found.act != act or c.groups != 1 or c.bias or c.dilation != 1:
        raise NotImportable(path, f"a conv-BN-{found.act or 'linear'} here has no spec form")
    args: dict[str, Any] = {"kernel_size": c.kernel} if c.kernel != 3 else {}
    norm = found.norm_args()
    if norm and name in NO_NORM_ARGS:
        raise NotImportable(path, f"a BatchNorm with eps {found.eps}, momentum {found.momentum}")
    return c.out_channels, c.stride, {**args, **norm}


def placed(name: str, width: int, stride: int, args: dict[str, Any]) -> dict[str, Any]:
    """A stem or tail entry: {type, width[, args]} with the stride among the args."""
    args = {"stride": stride, **args} if stride != 1 else args
    out: dict[str, Any] = {"type": name, "width": width}
    return {**out, "args": args} if args else out


def _placed(module: Any, path: str, act: str, name: str) -> dict[str, Any]:
    return placed(name, *conv_kind(unit(module, path), path, act, name))


def _v2_block(block: Any, path: str) -> dict[str, Any]:
    layers = list(child(block, "conv") or [])
    if len(layers) < 3 or kind(layers[-2]) != "Conv2d" or kind(layers[-1]) != "BatchNorm2d":
        raise NotImportable(f"{path}.conv", f"{kind(block)}: no 1x1 projection and BatchNorm")
    acts = [unit(m, f"{path}.conv.{i}") for i, m in enumerate(layers[:-2])]
    project = conv(layers[-2], f"{path}.conv.{len(layers) - 2}")
    if any(u.act != "ReLU6" or u.norm_args() for u in acts):
        raise NotImportable(path, "a MobileNetV2 block with other activations or norms")
    dw = acts[-1].conv
    if dw.kernel != 3 or dw.groups != dw.in_channels or dw.in_channels != dw.out_channels:
        raise NotImportable(dw.path, "a depthwise conv other than 3x3")
    first = acts[0].conv
    read: dict[str, Any] = {"width": project.out_channels, "stride": dw.stride, "args": {}}
    if len(acts) == 1:
        return {"block": "depthwise_separable", **read}
    if len(acts) != 2 or first.kernel != 1 or first.out_channels % first.in_channels:
        raise NotImportable(first.path, "an expansion that is not a whole multiple")
    ratio = first.out_channels // first.in_channels
    return {
        "block": "inverted_residual",
        **read,
        "args": {} if ratio == 6 else {"expand_ratio": ratio},
    }


def _v3_block(block: Any, path: str) -> dict[str, Any]:
    layers = list(child(block, "block") or [])
    se = [i for i, m in enumerate(layers) if kind(m) == "SqueezeExcitation"]
    units = [unit(m, f"{path}.block.{i}") for i, m in enumerate(layers) if i not in se]
    if len(units) not in (2, 3) or units[-1].act:
        raise NotImportable(f"{path}.block", f"{kind(block)} has no spec form")
    dw, project = units[-2].conv, units[-1].conv
    act = units[-2].act
    if act not in ("ReLU", "Hardswish") or any(u.act != act for u in units[:-1]):
        raise NotImportable(path, "a MobileNetV3 block with mixed activations")
    if dw.groups != dw.in_channels or dw.in_channels != dw.out_channels:
        raise NotImportable(dw.path, "no depthwise conv where MobileNetV3 has one")
    args: dict[str, Any] = {"expanded": dw.out_channels}
    if dw.kernel != 3:
        args["kernel_size"] = dw.kernel
    if se:
        args["use_se"] = True
    if act == "Hardswish":
        args["use_hs"] = True
    norms = {tuple(u.norm_args(V3_EPS, V3_MOMENTUM).items()) for u in units}
    if len(norms) != 1:
        raise NotImportable(path, "BatchNorms with different eps or momentum in one block")
    args.update(dict(norms.pop()))
    return {
        "block": "mobilenet_v3_block",
        "width": project.out_channels,
        "stride": dw.stride,
        "args": args,
    }


def dropout_linear(classifier: Any, path: str) -> dict[str, Any]:
    """A Sequential(Dropout, Linear) head as `dropout_linear`."""
    layers = list(classifier) if kind(classifier) == "Sequential" else []
    if [kind(m) for m in layers] != ["Dropout", "Linear"]:
        raise NotImportable(path, f"a {kind(classifier)} head other than dropout + linear")
    drop, fc = layers
    args: dict[str, Any] = {}
    if drop.p != 0.2:
        args["dropout"] = float(drop.p)
    if drop.inplace:
        args["inplace"] = True
    head: dict[str, Any] = {"type": "dropout_linear", "num_classes": int(fc.out_features)}
    return {**head, "args": args} if args else head


def _v3_head(classifier: Any) -> dict[str, Any]:
    layers = list(classifier) if kind(classifier) == "Sequential" else []
    if [kind(m) for m in layers] != ["Linear", "Hardswish", "Dropout", "Linear"]:
        raise NotImportable("classifier", f"a {kind(classifier)} head MobileNetV3's is not")
    hidden, drop, fc = layers[0], layers[2], layers[3]
    args: dict[str, Any] = {}
    if hidden.out_features != 1280:
        args["hidden"] = int(hidden.out_features)
    if drop.p != 0.2:
        args["dropout"] = float(drop.p)
    head: dict[str, Any] = {"type": "mobilenet_v3_classifier", "num_classes": int(fc.out_features)}
    return {**head, "args": args} if args else head


# timm MobileNetV3 (`timm_mobilenet_v3`): conv_stem, bn1 (hard swish), stages in `blocks.i`
# (DepthwiseSeparableConv, InvertedResidual, a last ConvBnAct), then the global pool *before*
# conv_head (1x1 with bias), act2 and the classifier.
V3_ACTS = {"ReLU": False, "Hardswish": True}


def matches_timm_v3(model: Any) -> bool:
    kids = children(model)
    return (
        all(k in kids for k in ("conv_stem", "bn1", "blocks", "conv_head", "global_pool"))
        and child(model, "bn2") is None
    )


def recognise_timm_v3(model: Any) -> Iterator[dict[str, Any]]:
    same = same_padding(model)  # a TensorFlow port: its layout's kinds pad as Conv2dSame
    for path, module in model.named_modules():
        if isinstance(getattr(module, "padding", None), str):
            raise NotImportable(path, f"{kind(module)} ('same' padding) has no spec form")
    stem = _placed_pair(model.conv_stem, model.bn1, "conv_stem", "bn1", same)
    rows = [_timm_v3_stage(stage, f"blocks.{i}", same) for i, stage in enumerate(model.blocks)]
    rate = float(getattr(model, "drop_rate", 0.0) or 0.0)
    if rate:
        raise NotImportable("classifier", f"dropout {rate} before the classifier has no spec form")
    if any(row.pop("drop") for row in rows):
        raise NotImportable("blocks", "stochastic depth in timm MobileNetV3 has no spec form")
    yield {
        "layout": "timm_tf_mobilenet_v3" if same else "timm_mobilenet_v3",
        "stem": stem,
        "stages": _v3_table(rows),
        "tail": _timm_v3_tail(model),
        "head": _timm_v3_head(model),
    }


def _placed_pair(
    conv_module: Any, norm: Any, path: str, norm_path: str, same: bool
) -> dict[str, Any]:
    found = pair(conv_module, norm, path, norm_path, same=same)
    return placed("conv_bn_hardswish", *conv_kind(found, path, "Hardswish", "conv_bn_hardswish"))


def _timm_v3_stage(stage: Any, path: str, same: bool) -> dict[str, Any]:
    """One stage row: its kind, depth, width, stride and args (`expanded` one per block)."""
    reads = [_timm_v3_block(block, f"{path}.{j}", same) for j, block in enumerate(stage)]
    if not reads:
        raise NotImportable(path, "an empty stage has no spec form")
    first = reads[0]
    for j, other in enumerate(reads[1:], 1):
        same = all(other[k] == first[k] for k in ("block", "width", "args"))
        if other["stride"] != 1 or not same:
            raise NotImportable(f"{path}.{j}", f"differs from {path}.0 in kind, width or args")
    args = dict(first["args"])
    if first["block"] == "timm_mobilenet_v3_block":
        args = {"expanded": [r["expanded"] for r in reads], **args}
    return {
        "block": first["block"],
        "depth": len(reads),
        "width": first["width"],
        "stride": first["stride"],
        "args": args,
        "drop": any(r["drop"] for r in reads),
    }


def _timm_v3_block(block: Any, path: str, same: bool) -> dict[str, Any]:
    kids = children(block)
    aa = child(block, "aa")
    if aa is not None:
        raise NotImportable(f"{path}.aa", f"{kind(aa)} (anti-aliasing) has no spec form")
    drop = child(block, "drop_path") is not None
    if "conv_pwl" in kids:  # InvertedResidual
        names = [("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")]
        block_kind = "timm_mobilenet_v3_block"
    elif "conv_dw" in kids:  # DepthwiseSeparableConv
        names = [("conv_dw", "bn1"), ("conv_pw", "bn2")]
        block_kind = "timm_mobilenet_v3_ds"
    elif "conv" in kids:  # ConvBnAct
        found = pair(block.conv, block.bn1, f"{path}.conv", f"{path}.bn1", same=same)
        width, stride, args = conv_kind(found, path, "Hardswish", "conv_bn_hardswish")
        return {"block": "conv_bn_hardswish", "width": width, "stride": stride, "args": args,
                "drop": drop}  # fmt: skip
    else:
        raise NotImportable(path, f"{kind(block)} ({', '.join(kids)}) has no spec form")
    allowed = {c for pair_ in names for c in pair_} | {"se", "aa", "drop_path"}
    extra = [n for n in kids if n not in allowed]
    if extra:
        raise NotImportable(f"{path}.{extra[0]}", f"{kind(kids[extra[0]])} has no spec form")
    units = [pair(getattr(block, c), getattr(block, n), f"{path}.{c}", f"{path}.{n}", same=same)
             for c, n in names]  # fmt: skip
    return _timm_v3_read(block, units, block_kind, path, drop)


def _timm_v3_read(
    block: Any, units: list[Unit], block_kind: str, path: str, drop: bool
) -> dict[str, Any]:
    act = units[0].act
    if act not in V3_ACTS or any(u.act != act for u in units[:-1]) or units[-1].act:
        raise NotImportable(path, "a MobileNetV3 block with mixed or other activations")
    dw = next((u.conv for u in units if u.conv.groups > 1), None)
    if dw is None or dw.groups != dw.in_channels or dw.out_channels != dw.in_channels:
        raise NotImportable(path, "no depthwise conv where MobileNetV3 has one")
    if any(u.conv.bias or u.conv.dilation != 1 for u in units):
        raise NotImportable(path, "a conv with bias or dilation in a MobileNetV3 block")
    norms = {tuple(u.norm_args().items()) for u in units}
    if len(norms) != 1:
        raise NotImportable(path, "BatchNorms with different eps or momentum in one block")
    args: dict[str, Any] = {"kernel_size": dw.kernel} if dw.kernel != 3 else {}
    se = child(block, "se")
    if se is not None:
        _check_timm_v3_se(se, f"{path}.se")
        args["use_se"] = True
    if V3_ACTS[act]:
        args["use_hs"] = True
    args.update(dict(norms.pop()))
    return {
        "block": block_kind,
        "width": units[-1].conv.out_channels,
        "stride": dw.stride,
        "expanded": dw.out_channels,
        "args": args,
        "drop": drop,
    }


def _check_timm_v3_se(se: Any, path: str) -> None:
    kids = children(se)
    if set(kids) != {"conv_reduce", "act1", "conv_expand", "gate"}:
        raise NotImportable(path, f"{kind(se)} ({', '.join(kids)}) has no spec form")
    if kind(se.act1) != "ReLU" or kind(se.gate) != "Hardsigmoid":
        raise NotImportable(path, f"{kind(se)} other than ReLU and a hard-sigmoid gate")


def _v3_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The stage rows as columns; the strides only where they are not 1, 2, 2, ..."""
    kinds = [r["block"] for r in rows]
    out: dict[str, Any] = {"block": kinds[0] if len(set(kinds)) == 1 else kinds}
    out.update(depth=[r["depth"] for r in rows], width=[r["width"] for r in rows])
    strides = [r["stride"] for r in rows]
    if strides != [1] + [2] * (len(rows) - 1):
        out["stride"] = strides
    args = [r["args"] for r in rows]
    if any(args):
        out["args"] = args[0] if all(a == args[0] for a in args) else args
    return out


def _timm_v3_tail(model: Any) -> dict[str, Any]:
    pool = child(model, "global_pool")
    if getattr(pool, "pool_type", "avg") != "avg" or child(pool, "flatten") is not None:
        raise NotImportable("global_pool", f"{kind(pool)} other than a global average")
    head = conv(model.conv_head, "conv_head")
    if (head.kernel, head.stride, head.groups, head.bias) != (1, 1, 1, True):
        raise NotImportable("conv_head", "a conv head other than 1x1 with bias")
    if child(model, "norm_head") is not None:
        raise NotImportable("norm_head", f"{kind(model.norm_head)} after conv_head")
    if kind(child(model, "act2")) != "Hardswish":
        raise NotImportable("act2", f"{kind(child(model, 'act2')) or 'no'} activation")
    return {"type": "timm_conv_head_pooled", "width": head.out_channels}


def _timm_v3_head(model: Any) -> dict[str, Any]:
    fc = child(model, "classifier")
    if kind(fc) != "Linear" or kind(child(model, "flatten")) != "Flatten":
        raise NotImportable("classifier", f"a {kind(fc) or 'missing'} classifier")
    return {"type": "classifier", "num_classes": int(fc.out_features)}
