"""Pre-activation ResNet in timm's ResNetV2 layout: `stem.conv/norm/pool`, `stages.N.blocks.M`
(norm1 conv1 norm2 conv2 [norm3 conv3], downsample.conv), a final `norm`, and `head.fc`, a 1x1
conv."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archspec.importer.errors import NotImportable
from archspec.importer.tree import child, children, conv, is_norm, kind
from archspec.importer.writer import columnar

MEMBERS = {"norm1", "conv1", "norm2", "conv2", "norm3", "conv3", "downsample"}
PASSIVE = {"Identity", "DropPath"}


def matches(model: Any) -> bool:
    kids = children(model)
    return all(k in kids for k in ("stem", "stages", "head")) and kind(kids["stem"]) == "Sequential"


def recognise(model: Any) -> Iterator[dict[str, Any]]:
    stem = _stem(model.stem)
    rows = [_stage(stage, f"stages.{i}", i) for i, stage in enumerate(model.stages)]
    top: dict[str, Any] = {"stem": stem, "stages": columnar(rows, _default), "head": _head(model)}
    if not is_norm(child(model, "norm")):
        top["final_norm"] = False
    yield top


def _default(key: str, index: int) -> Any:
    return (1 if index == 0 else 2) if key == "stride" else {"dilation": 1}.get(key)


def _stem(stem: Any) -> dict[str, Any]:
    c = conv(child(stem, "conv"), "stem.conv")
    if (c.kernel, c.stride) == (7, 2):
        out: dict[str, Any] = {"type": "conv7x7", "width": c.out_channels}
    elif (c.kernel, c.stride) == (3, 1):
        out = {"type": "conv3x3", "width": c.out_channels}
    else:
        raise NotImportable("stem.conv", f"a {c.kernel}x{c.kernel} stride-{c.stride} stem")
    if not is_norm(child(stem, "norm")):
        out["norm"] = False
    pool = child(stem, "pool")
    if pool is not None and kind(pool) != "MaxPool2d":
        raise NotImportable("stem.pool", f"{kind(pool)} as the stem pool has no spec form")
    if (pool is not None) != (out["type"] == "conv7x7"):
        out["pool"] = pool is not None
    return out


def _stage(stage: Any, path: str, index: int) -> dict[str, Any]:
    blocks = list(child(stage, "blocks") or [])
    if not blocks:
        raise NotImportable(path, f"{kind(stage)} without blocks has no spec form")
    rows = [_block(b, f"{path}.blocks.{j}") for j, b in enumerate(blocks)]
    row = dict(rows[0])
    row["dilation"] = rows[-1]["dilation"]
    return {"block": row.pop("block"), "depth": len(blocks), **row}


def _block(block: Any, path: str) -> dict[str, Any]:
    for name, module in children(block).items():
        if name not in MEMBERS and kind(module) not in PASSIVE:
            raise NotImportable(f"{path}.{name}", f"{kind(module)} has no spec form")
    bottleneck = child(block, "conv3") is not None
    spatial = conv(block.conv2 if bottleneck else block.conv1, f"{path}.conv2")
    last = conv(block.conv3 if bottleneck else block.conv2, f"{path}.conv3")
    width = last.out_channels // 4 if bottleneck else last.out_channels
    if spatial.groups != 1 or (bottleneck and spatial.out_channels != width):
        raise NotImportable(path, f"{kind(block)}: grouped or widened pre-activation blocks")
    return {
        "block": "preact_bottleneck" if bottleneck else "preact_basic",
        "width": width,
        "stride": spatial.stride,
        "dilation": spatial.dilation,
    }


def _head(model: Any) -> dict[str, Any]:
    fc = child(model.head, "fc")
    if kind(fc) != "Conv2d":
        raise NotImportable("head.fc", f"a {kind(fc) or 'missing'} classifier has no spec form")
    return {"type": "classifier", "num_classes": int(fc.out_channels)}
