"""DenseNet in torchvision's layout: `features.conv0/norm0/pool0`, `features.denseblockN` of
`denselayerM` (norm1 conv1 norm2 conv2), `features.transitionN`, `features.norm5`, classifier."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from archspec.importer.errors import NotImportable
from archspec.importer.tree import child, children, conv, is_norm, kind, numbered

LAYER_MEMBERS = ("norm1", "conv1", "norm2", "conv2")


def matches(model: Any) -> bool:
    features = child(model, "features")
    return (
        features is not None
        and "conv0" in children(features)
        and "denseblock1" in children(features)
    )


def recognise(model: Any) -> Iterator[dict[str, Any]]:
    features = model.features
    stem = _stem(features)
    blocks = numbered(features, "denseblock")
    depths, growth, bn_size = [], set(), set()
    for name, block in blocks:
        layers = list(children(block).items())
        for layer_name, layer in layers:
            path = f"features.{name}.{layer_name}"
            _check_layer(layer, path)
            c1, c2 = conv(layer.conv1, f"{path}.conv1"), conv(layer.conv2, f"{path}.conv2")
            growth.add(c2.out_channels)
            bn_size.add(Fraction(c1.out_channels, c2.out_channels))
        depths.append(len(layers))
    compression = {_compression(features, n) for n in range(1, len(blocks))}
    if len(growth) != 1 or len(bn_size) != 1 or len(compression) > 1:
        raise NotImportable("features", "growth rate, bottleneck size or compression vary")
    (k,), (size,) = growth, bn_size
    if size.denominator != 1:
        raise NotImportable("features.denseblock1", f"a bottleneck of {size} x growth")
    stages: dict[str, Any] = {"block": "dense", "depth": depths, "growth_rate": k}
    stages["bn_size"] = int(size)
    stages["compression"] = float(compression.pop()) if compression else 0.5
    yield {"stem": stem, "stages": stages, "head": _head(model)}


def _stem(features: Any) -> dict[str, Any]:
    c = conv(features.conv0, "features.conv0")
    if (c.kernel, c.stride) == (7, 2):
        stem: dict[str, Any] = {"type": "conv7x7", "width": c.out_channels}
    elif (c.kernel, c.stride) == (3, 1):
        stem = {"type": "conv3x3", "width": c.out_channels}
    else:
        raise NotImportable("features.conv0", f"a {c.kernel}x{c.kernel} stride-{c.stride} stem")
    if not is_norm(child(features, "norm0")):
        stem["norm"] = False
    pooled = child(features, "pool0") is not None
    if pooled != (stem["type"] == "conv7x7"):
        stem["pool"] = pooled
    return stem


def _check_layer(layer: Any, path: str) -> None:
    for name, module in children(layer).items():
        stateful = any(True for _ in module.parameters())
        if stateful and name not in LAYER_MEMBERS:
            raise NotImportable(f"{path}.{name}", f"{kind(module)} has no spec form")


def _compression(features: Any, n: int) -> Fraction:
    transition = child(features, f"transition{n}")
    if transition is None:
        raise NotImportable(f"features.transition{n}", "a dense stage without a transition")
    c = conv(transition.conv, f"features.transition{n}.conv")
    return Fraction(c.out_channels, c.in_channels)


def _head(model: Any) -> dict[str, Any]:
    fc = child(model, "classifier")
    if kind(fc) != "Linear":
        raise NotImportable("classifier", f"a {kind(fc) or 'missing'} classifier has no spec form")
    return {"type": "classifier", "num_classes": int(fc.out_features)}
