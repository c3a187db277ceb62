"""VGG in torchvision's layout: every 3x3 conv, [BatchNorm,] ReLU and 2x2 max-pool numbered in one
`features` Sequential (a max-pool closes each stage), a 7x7 adaptive `avgpool`, and the
linear-ReLU-dropout classifier; and timm's (`timm_vgg`), the same `features` with the first two
linears as convs (`pre_logits`, ConvMlp) and a `head`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archspec.importer.errors import NotImportable
from archspec.importer.layers import check_padding
from archspec.importer.tree import child, children, conv, is_conv, kind

POOL_SIZE = 7
HEAD = ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
CONV_MLP = ("fc1", "act1", "drop", "fc2", "act2")


def matches(model: Any) -> bool:
    features = child(model, "features")
    if kind(features) != "Sequential":
        return False
    numbered = all(name.isdigit() for name, _ in features.named_children())
    first = next(iter(features), None)
    return numbered and kind(first) == "Conv2d" and child(model, "classifier") is not None


def recognise(model: Any) -> Iterator[dict[str, Any]]:
    depths, widths, norms = _stages(list(model.features))
    pool = child(model, "avgpool")
    size = getattr(pool, "output_size", None)
    if kind(pool) != "AdaptiveAvgPool2d" or size not in (POOL_SIZE, (POOL_SIZE, POOL_SIZE)):
        raise NotImportable("avgpool", f"{kind(pool)} {size} where VGG pools to 7x7")
    stages: dict[str, Any] = {
        "block": "vgg_layer",
        "depth": depths,
        "width": widths,
        "stride": 1,
    }
    if norms:
        stages["args"] = {"norm": True}
    yield {
        "layout": "torchvision_vgg",
        "stem": {"type": "none"},
        "stages": stages,
        "head": _head(child(model, "classifier")),
    }


def _stages(items: list[Any]) -> tuple[list[int], list[int], bool]:
    """Depths and widths of the conv runs between max-pools; whether every conv has a BN."""
    depths: list[int] = []
    widths: list[int] = []
    norms: set[bool] = set()
    depth, i = 0, 0
    while i < len(items):
        path = f"features.{i}"
        if kind(items[i]) == "MaxPool2d":
            _check_pool(items[i], path)
            if not depth:
                raise NotImportable(path, "a max-pool with no conv before it")
            depths.append(depth)
            depth, i = 0, i + 1
            continue
        c = conv(items[i], path)
        check_padding(items[i], path)
        if (c.kernel, c.stride, c.groups, c.dilation, c.bias) != (3, 1, 1, 1, True):
            raise NotImportable(path, "a conv other than VGG's 3x3 with bias")
        if depth and widths[-1] != c.out_channels:
            raise NotImportable(path, "widths that change within a stage")
        if not depth:
            widths.append(c.out_channels)
        norm = kind(items[i + 1]) if i + 1 < len(items) else ""
        norms.add(norm == "BatchNorm2d")
        step = 2 if norm == "BatchNorm2d" else 1
        act = items[i + step] if i + step < len(items) else None
        if kind(act) != "ReLU":
            raise NotImportable(f"features.{i + step}", f"{kind(act) or 'nothing'} after a conv")
        depth, i = depth + 1, i + step + 1
    if depth:
        raise NotImportable("features", "a last stage that no max-pool closes")
    if len(norms) > 1:
        raise NotImportable("features", "BatchNorm after some convs only")
    return depths, widths, norms == {True}


def _check_pool(pool: Any, path: str) -> None:
    geometry = (pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode)
    if geometry != (2, 2, 0, 1, False):
        raise NotImportable(path, f"a max-pool {geometry} where VGG's is 2x2 stride 2")


def _head(classifier: Any) -> dict[str, Any]:
    layers = list(classifier) if kind(classifier) == "Sequential" else []
    if [kind(m) for m in layers] != HEAD:
        raise NotImportable("classifier", f"a {kind(classifier)} head that VGG's is not")
    hidden, drop, fc = layers[0].out_features, layers[2].p, layers[6]
    if layers[3].out_features != hidden or layers[5].p != drop:
        raise NotImportable("classifier", "hidden layers of different widths or dropouts")
    args: dict[str, Any] = {}
    if hidden != 4096:
        args["hidden"] = int(hidden)
    if drop != 0.5:
        args["dropout"] = float(drop)
    head: dict[str, Any] = {"type": "vgg_classifier", "num_classes": int(fc.out_features)}
    return {**head, "args": args} if args else head


def matches_timm(model: Any) -> bool:
    """timm's VGG: torchvision's `features`, then `pre_logits` (ConvMlp) and a `head`."""
    features = child(model, "features")
    if kind(features) != "Sequential" or kind(next(iter(features), None)) != "Conv2d":
        return False
    pre = child(model, "pre_logits")
    return is_conv(child(pre, "fc1")) and child(model, "head") is not None


def recognise_timm(model: Any) -> Iterator[dict[str, Any]]:
    depths, widths, norms = _stages(list(model.features))
    stages: dict[str, Any] = {"block": "vgg_layer", "depth": depths, "width": widths, "stride": 1}
    if norms:
        stages["args"] = {"norm": True}
    yield {
        "layout": "timm_vgg",
        "stem": {"type": "none"},
        "stages": stages,
        "tail": _conv_mlp(model.pre_logits, widths[-1]),
        "head": _timm_head(model.head),
    }


def _conv_mlp(pre: Any, width: int) -> dict[str, Any]:
    """ConvMlp: fc1 (7x7 conv), act1, drop, fc2 (1x1 conv), act2, as timm_conv_mlp."""
    kids = children(pre)
    if [kind(kids.get(n)) for n in CONV_MLP] != ["Conv2d", "ReLU", "Dropout", "Conv2d", "ReLU"]:
        raise NotImportable("pre_logits", f"a {kind(pre)} other than VGG's ConvMlp")
    fc1, fc2 = conv(pre.fc1, "pre_logits.fc1"), conv(pre.fc2, "pre_logits.fc2")
    hidden = fc1.out_channels
    if (fc1.in_channels, fc1.kernel, fc1.stride, fc1.dilation, fc1.groups) != (
        width,
        POOL_SIZE,
        1,
        1,
        1,
    ) or (fc2.in_channels, fc2.out_channels, fc2.kernel, fc2.groups) != (hidden, hidden, 1, 1):
        raise NotImportable("pre_logits", "convs other than a 7x7 fc1 and a 1x1 fc2")
    if not fc1.bias or not fc2.bias or tuple(pre.fc1.padding) != (0, 0):
        raise NotImportable("pre_logits.fc1", "ConvMlp convs without bias or with padding")
    tail: dict[str, Any] = {"type": "timm_conv_mlp", "width": hidden}
    drop = float(pre.drop.p)
    return {**tail, "args": {"dropout": drop}} if drop else tail


def _timm_head(head: Any) -> dict[str, Any]:
    pool = child(head, "global_pool")
    if pool is None or getattr(pool, "pool_type", "avg") != "avg":
        raise NotImportable("head.global_pool", "pooling other than the global average")
    drop = child(head, "drop")
    if drop is not None and float(drop.p) != 0.0:
        raise NotImportable("head.drop", f"head dropout {drop.p} (the classifier has none)")
    fc = child(head, "fc")
    if kind(fc) != "Linear":
        raise NotImportable("head.fc", f"a {kind(fc) or 'missing'} classifier")
    return {"type": "classifier", "num_classes": int(fc.out_features)}
