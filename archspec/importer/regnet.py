"""RegNet X and Y in torchvision's layout (`stem`, `trunk_output.blockN` of `blockN-M`
(proj, f.a/b/se/c), `avgpool`, `fc`) and timm's (`stem`, `sN.bM` (conv1, conv2, se, conv3,
downsample), `head.fc`).

The spec is the quantised stage table (depth, width, group width, bottleneck multiplier and SE
ratio per stage): the design's five numbers (w0, wa, wm) are not recoverable from rounded widths,
so no `regnet:` block is written."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from archspec.importer.errors import NotImportable
from archspec.importer.layers import Unit, stateless, unit
from archspec.importer.tree import child, children, kind

TV_BLOCK = {"proj", "f", "activation"}
TV_TRANSFORM = ("a", "b", "se", "c")
TIMM_BLOCK = {"conv1", "conv2", "se", "conv3", "act3", "downsample", "drop_path"}
# SE ratios RegNet uses, tried before the ratio a stage's first block implies.
SE_RATIOS = (Fraction(1, 4),)


def matches_torchvision(model: Any) -> bool:
    kids = children(model)
    return "trunk_output" in kids and "stem" in kids and "fc" in kids


def matches_timm(model: Any) -> bool:
    kids = children(model)
    return "stem" in kids and "s1" in kids and "head" in kids


def recognise_torchvision(model: Any) -> Iterator[dict[str, Any]]:
    stem = _stem(unit(model.stem, "stem"), "stem")
    stages = [
        (f"trunk_output.{name}", list(children(stage).items()))
        for name, stage in children(model.trunk_output).items()
    ]
    reads = [
        [_tv_block(block, f"{path}.{name}") for name, block in blocks] for path, blocks in stages
    ]
    fc = child(model, "fc")
    yield _body("torchvision_regnet", stem, reads, _classes(fc, "fc"))


def recognise_timm(model: Any) -> Iterator[dict[str, Any]]:
    stem = _stem(unit(model.stem, "stem"), "stem")
    final = child(model, "final_conv")
    if final is not None:
        raise NotImportable("final_conv", f"{kind(final)} after the last stage has no spec form")
    stages = []
    index = 1
    while (stage := child(model, f"s{index}")) is not None:
        stages.append([_timm_block(b, f"s{index}.{n}") for n, b in children(stage).items()])
        index += 1
    head = model.head
    pool = child(head, "global_pool")
    if pool is not None and getattr(pool, "pool_type", "avg") != "avg":
        raise NotImportable("head.global_pool", f"{pool.pool_type} pooling has no spec form")
    yield _body("timm_regnet", stem, stages, _classes(child(head, "fc"), "head.fc"))


def _classes(fc: Any, path: str) -> int:
    if kind(fc) != "Linear":
        raise NotImportable(path, f"a {kind(fc) or 'missing'} classifier has no spec form")
    return int(fc.out_features)


def _stem(found: Unit, path: str) -> dict[str, Any]:
    c = found.conv
    if found.act != "ReLU" or c.groups != 1 or c.bias or c.dilation != 1:
        raise NotImportable(path, "a stem other than conv-BN-ReLU has no spec form")
    args: dict[str, Any] = {"stride": c.stride} if c.stride != 1 else {}
    if c.kernel != 3:
        args["kernel_size"] = c.kernel
    args.update(found.norm_args())
    stem: dict[str, Any] = {"type": "conv_bn_relu", "width": c.out_channels}
    return {**stem, "args": args} if args else stem


def _tv_block(block: Any, path: str) -> dict[str, Any]:
    _members(block, path, TV_BLOCK)
    f = block.f
    _members(f, f"{path}.f", set(TV_TRANSFORM))
    a, b, c = (unit(getattr(f, n), f"{path}.f.{n}") for n in ("a", "b", "c"))
    proj = child(block, "proj")
    shortcut = unit(proj, f"{path}.proj") if proj is not None else None
    return _read(a, b, c, shortcut, child(f, "se"), f"{path}.f.se", block.activation)


def _timm_block(block: Any, path: str) -> dict[str, Any]:
    _members(block, path, TIMM_BLOCK)
    a, b, c = (unit(getattr(block, n), f"{path}.{n}") for n in ("conv1", "conv2", "conv3"))
    down = child(block, "downsample")
    shortcut = unit(down, f"{path}.downsample") if down is not None else None
    return _read(a, b, c, shortcut, child(block, "se"), f"{path}.se", block.act3)


def _members(module: Any, path: str, allowed: set[str]) -> None:
    for name, found in children(module).items():
        if name not in allowed and not (stateless(found) and kind(found) in ("Identity",)):
            raise NotImportable(f"{path}.{name}", f"{kind(found)} has no spec form")


def _read(
    a: Unit, b: Unit, c: Unit, shortcut: Unit | None, se: Any, se_path: str, act: Any
) -> dict[str, Any]:
    """One block: in/out channels, stride, group width, bottleneck ratio and SE squeeze."""
    if (a.act, b.act, c.act) != ("ReLU", "ReLU", "") or kind(act) != "ReLU":
        raise NotImportable(se_path.rsplit(".", 1)[0], "activations other than ReLU")
    if (a.conv.kernel, b.conv.kernel, c.conv.kernel) != (1, 3, 1) or b.conv.dilation != 1:
        raise NotImportable(b.conv.path, "a RegNet block other than 1x1, 3x3, 1x1")
    for found in (a, b, c, shortcut):
        if found is not None and (found.norm_args() or found.conv.bias):
            raise NotImportable(found.conv.path, "a conv bias or a non-default BatchNorm")
    width = b.conv.out_channels
    project = a.conv.in_channels != c.conv.out_channels or b.conv.stride != 1
    if (shortcut is not None) != project:
        raise NotImportable(se_path.rsplit(".", 2)[0], "a shortcut projection where none fits")
    return {
        "in": a.conv.in_channels,
        "out": c.conv.out_channels,
        "stride": b.conv.stride,
        "group_width": width // b.conv.groups,
        "multiplier": Fraction(width, c.conv.out_channels),
        "squeeze": _squeeze(se, se_path, width),
    }


def _squeeze(se: Any, path: str, width: int) -> int:
    if se is None:
        return 0
    kids = children(se)
    fc1: Any = kids.get("fc1", kids.get("conv_reduce"))
    extra = {n for n, m in kids.items() if not stateless(m) and n not in ("fc1", "fc2")}
    if kind(fc1) != "Conv2d" or extra or int(fc1.in_channels) != width:
        raise NotImportable(path, f"{kind(se)} has no spec form")
    return int(fc1.out_channels)


def _body(
    layout: str, stem: dict[str, Any], stages: list[list[dict[str, Any]]], classes: int
) -> dict[str, Any]:
    rows = [_row(reads, i) for i, reads in enumerate(stages)]
    columns: dict[str, Any] = {
        "block": "regnet_block",
        "depth": [r["depth"] for r in rows],
        "width": [r["width"] for r in rows],
    }
    strides = [r["stride"] for r in rows]
    if strides != [1] + [2] * (len(rows) - 1):
        columns["stride"] = strides[0] if len(set(strides)) == 1 else strides
    args = [r["args"] for r in rows]
    columns["args"] = args[0] if all(a == args[0] for a in args) else args
    return {
        "layout": layout,
        "stem": stem,
        "stages": columns,
        "head": {"type": "classifier", "num_classes": classes},
    }


def _row(reads: list[dict[str, Any]], index: int) -> dict[str, Any]:
    if not reads:
        raise NotImportable(f"stage {index + 1}", "an empty stage has no spec form")
    first = reads[0]
    for j, other in enumerate(reads[1:], 1):
        if other["stride"] != 1 or other["in"] != other["out"] or other["out"] != first["out"]:
            raise NotImportable(f"stage {index + 1} block {j + 1}", "strides or widens mid-stage")
        for key in ("group_width", "multiplier"):
            if other[key] != first[key]:
                raise NotImportable(f"stage {index + 1} block {j + 1}", f"{key} varies in a stage")
    args: dict[str, Any] = {"group_width": first["group_width"]}
    multiplier = first["multiplier"]
    if multiplier != 1:
        args["bottleneck_multiplier"] = float(multiplier)
    ratio = _se_ratio(reads, index)
    if ratio:
        args["se_ratio"] = ratio
    return {"depth": len(reads), "width": first["out"], "stride": first["stride"], "args": args}


def _se_ratio(reads: list[dict[str, Any]], index: int) -> float:
    """The SE ratio r with int(round(r * in_channels)) = squeeze for every block, or 0."""
    if not any(r["squeeze"] for r in reads):
        return 0.0
    first = reads[0]
    for ratio in (*SE_RATIOS, Fraction(first["squeeze"], first["in"])):
        if all(round(float(ratio) * r["in"]) == r["squeeze"] for r in reads):
            return float(ratio)
    raise NotImportable(f"stage {index + 1}", "SE widths that no one ratio gives")
