"""VGG in torchvision's layout: every 3x3 conv, [BatchNorm,] ReLU and 2x2 max-pool numbered in one
`features` Sequential (a max-pool closes each stage), a 7x7 adaptive `avgpool`, and the
linear-ReLU-dropout classifier."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archspec.importer.errors import NotImportable
from archspec.importer.layers import check_padding
from archspec.importer.tree import child, conv, kind

POOL_SIZE = 7
HEAD = ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]


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
