"""ConvNeXt (Liu et al. 2022) in torchvision's layout (`features.0` stem, `features.1/3/5/7` stages
of CNBlock, `features.2/4/6` downsampling layers, `avgpool`, `classifier`) and timm's (`stem`,
`stages.i.downsample`, `stages.i.blocks`, `head.norm/fc`).

A block is the plain ConvNeXt block: a depthwise conv, a channels-last LayerNorm, a Linear-GELU-
Linear MLP and a layer scale. timm's other block forms have no spec form and are named: the MLP
as 1x1 convs on channels-first maps (`conv_mlp`: LayerNorm2d and Conv2d), GlobalResponseNorm
(ConvNeXt-V2), RMS norms, overlapping stems (`_ols`), a pre-logits MLP in the head and a norm
before the pool (`head_norm_first`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archspec.importer.errors import NotImportable
from archspec.importer.layers import check_padding
from archspec.importer.tree import child, children, conv, kind, listing

EPS = 1e-6
PATCH = 4
KERNEL, MLP_RATIO = 7, 4
# Children of timm's ConvNeXtBlock / Mlp that hold no state and do nothing in eval mode at p=0.
TIMM_BLOCK = {"conv_dw", "norm", "mlp", "shortcut", "drop_path"}
TIMM_MLP = {"fc1", "act", "drop1", "norm", "fc2", "drop2"}


def matches_torchvision(model: Any) -> bool:
    features = child(model, "features")
    items = list(features) if kind(features) == "Sequential" else []
    return len(items) > 1 and "LayerNorm2d" in [kind(m) for m in _items(items[0])]


def matches_timm(model: Any) -> bool:
    kids = children(model)
    stages: Any = kids.get("stages")
    first = next(iter(stages), None) if kind(stages) == "Sequential" else None
    if first is None or "stem" not in kids or "head" not in kids:
        return False
    return {"downsample", "blocks"} <= set(children(first))


def _items(module: Any) -> list[Any]:
    return list(module) if kind(module) in ("Sequential", "Conv2dNormActivation") else []


def recognise_torchvision(model: Any) -> Iterator[dict[str, Any]]:
    items = list(model.features)
    stem = _stem(items[0], "features.0")
    depths: list[int] = []
    widths: list[int] = []
    probs: list[float] = []
    for n, module in enumerate(items[1:], 1):
        path = f"features.{n}"
        if n % 2 == 0:  # a downsampling layer opens the next stage
            _downsample(module, path, widths[-1])
            continue
        blocks = list(module) if kind(module) == "Sequential" else []
        if not blocks:
            raise NotImportable(path, f"a {kind(module)} where a stage of CNBlocks sits")
        for j, block in enumerate(blocks):
            width, prob = _tv_block(block, f"{path}.{j}")
            probs.append(prob)
        depths.append(len(blocks))
        widths.append(width)
    pool = child(model, "avgpool")
    if kind(pool) != "AdaptiveAvgPool2d" or pool.output_size not in (1, (1, 1)):
        raise NotImportable("avgpool", f"{kind(pool)} as the global pool has no spec form")
    yield _body("torchvision_convnext", stem, depths, widths, probs, _tv_head(model.classifier))


def recognise_timm(model: Any) -> Iterator[dict[str, Any]]:
    if child(model, "norm_pre") is not None:
        raise NotImportable("norm_pre", "a norm before the pool (head_norm_first) has no spec form")
    stem = _stem(model.stem, "stem")
    depths: list[int] = []
    widths: list[int] = []
    probs: list[float] = []
    for i, stage in enumerate(model.stages):
        path = f"stages.{i}"
        extra = [n for n in children(stage) if n not in ("downsample", "blocks")]
        if extra:
            raise NotImportable(f"{path}.{extra[0]}", f"{kind(stage)} member has no spec form")
        ds = child(stage, "downsample")
        if (ds is None) != (i == 0):
            raise NotImportable(f"{path}.downsample", "a downsampling layer off its place")
        if ds is not None:
            _downsample(ds, f"{path}.downsample", widths[-1])
        blocks = list(stage.blocks)
        for j, block in enumerate(blocks):
            width, prob = _timm_block(block, f"{path}.blocks.{j}")
            probs.append(prob)
        depths.append(len(blocks))
        widths.append(width)
    yield _body("timm_convnext", stem, depths, widths, probs, _timm_head(model.head))


def _stem(module: Any, path: str) -> dict[str, Any]:
    items = _items(module)
    names = [kind(m) for m in items]
    if names != ["Conv2d", "LayerNorm2d"]:
        raise NotImportable(path, f"a stem of {listing(names) or kind(module)} has no spec form")
    c = conv(items[0], f"{path}.0")
    if (c.kernel, c.groups, c.dilation, c.bias) != (c.stride, 1, 1, True):
        raise NotImportable(f"{path}.0", "a stem conv other than a patchify (kernel = stride)")
    _layer_norm(items[1], f"{path}.1", c.out_channels)
    stem: dict[str, Any] = {"type": "convnext_stem", "width": c.out_channels}
    return {**stem, "args": {"patch_size": c.kernel}} if c.kernel != PATCH else stem


def _downsample(module: Any, path: str, width: int) -> None:
    """LayerNorm2d, then a 2x2 stride-2 conv with bias (convnext_downsample)."""
    items = _items(module)
    if [kind(m) for m in items] != ["LayerNorm2d", "Conv2d"]:
        raise NotImportable(path, f"a downsampling {kind(module)} ConvNeXt's is not")
    _layer_norm(items[0], f"{path}.0", width)
    c = conv(items[1], f"{path}.1")
    if (c.kernel, c.stride, c.groups, c.bias) != (2, 2, 1, True):
        raise NotImportable(f"{path}.1", "a downsampling conv other than 2x2 at stride 2")


def _layer_norm(module: Any, path: str, channels: int) -> None:
    shape = tuple(getattr(module, "normalized_shape", ()))
    if shape != (channels,) or not module.elementwise_affine or module.bias is None:
        raise NotImportable(path, f"{kind(module)} {shape} over other than the {channels} channels")
    if abs(float(module.eps) - EPS) > 1e-12:
        raise NotImportable(path, f"a LayerNorm eps {module.eps} (archspec's ConvNeXt has 1e-6)")


def _depthwise(module: Any, path: str) -> int:
    c = conv(module, path)
    check_padding(module, path)
    if c.groups != c.in_channels or c.out_channels != c.in_channels or not c.bias:
        raise NotImportable(path, "no depthwise conv with bias where ConvNeXt has one")
    if (c.kernel, c.stride, c.dilation) != (KERNEL, 1, 1):
        raise NotImportable(path, f"a {c.kernel}x{c.kernel} depthwise conv (ConvNeXt's is 7x7)")
    return c.in_channels


def _mlp(fc1: Any, act: Any, fc2: Any, path: str, width: int) -> None:
    """Linear width -> 4 width, exact GELU, Linear back (the MLP as 1x1 convs is refused)."""
    if kind(fc1) != "Linear" or kind(fc2) != "Linear":
        raise NotImportable(
            path, f"an MLP of {kind(fc1)} on channels-first maps (conv_mlp) has no spec form"
        )
    if kind(act) != "GELU" or getattr(act, "approximate", "none") != "none":
        raise NotImportable(path, f"{kind(act)} in the MLP (ConvNeXt's is exact GELU)")
    shapes = (fc1.in_features, fc1.out_features, fc2.in_features, fc2.out_features)
    if shapes != (width, width * MLP_RATIO, width * MLP_RATIO, width):
        raise NotImportable(path, f"an MLP {shapes} other than {width} -> 4x -> {width}")
    if fc1.bias is None or fc2.bias is None:
        raise NotImportable(path, "an MLP without biases")


def _layer_scale(value: Any, path: str, width: int, shape: tuple[int, ...]) -> None:
    if value is None:
        raise NotImportable(path, "a ConvNeXt block without layer scale has no spec form")
    if tuple(value.shape) != shape:
        raise NotImportable(path, f"a layer scale of shape {tuple(value.shape)} ({width} wide)")


def _tv_block(block: Any, path: str) -> tuple[int, float]:
    """(width, stochastic-depth probability) of a torchvision CNBlock."""
    extra = [n for n in children(block) if n not in ("block", "stochastic_depth")]
    if extra:
        raise NotImportable(f"{path}.{extra[0]}", f"{kind(block)} member has no spec form")
    layers = list(child(block, "block") or [])
    names = [kind(m) for m in layers]
    if names != ["Conv2d", "Permute", "LayerNorm", "Linear", "GELU", "Linear", "Permute"]:
        raise NotImportable(f"{path}.block", f"a block of {listing(names)} is not CNBlock's")
    width = _depthwise(layers[0], f"{path}.block.0")
    _layer_norm(layers[2], f"{path}.block.2", width)
    _mlp(layers[3], layers[4], layers[5], f"{path}.block", width)
    _layer_scale(getattr(block, "layer_scale", None), f"{path}.layer_scale", width, (width, 1, 1))
    depth = child(block, "stochastic_depth")
    if depth is not None and getattr(depth, "mode", "row") != "row":
        raise NotImportable(f"{path}.stochastic_depth", "stochastic depth other than per row")
    return width, float(getattr(depth, "p", 0.0) or 0.0)


def _timm_block(block: Any, path: str) -> tuple[int, float]:
    """(width, drop-path probability) of a timm ConvNeXtBlock."""
    kids = children(block)
    extra = [n for n in kids if n not in TIMM_BLOCK]
    if extra:
        raise NotImportable(f"{path}.{extra[0]}", f"{kind(kids[extra[0]])} has no spec form")
    if child(block, "shortcut") is not None:
        raise NotImportable(f"{path}.shortcut", "a projection shortcut in a block")
    width = _depthwise(block.conv_dw, f"{path}.conv_dw")
    mlp = block.mlp
    parts = children(mlp)
    if "grn" in parts:
        raise NotImportable(f"{path}.mlp.grn", "GlobalResponseNorm (ConvNeXt-V2) has no spec form")
    norm = child(block, "norm")
    if kind(norm) == "LayerNorm2d":
        raise NotImportable(
            f"{path}.norm",
            "the MLP as 1x1 convs on channels-first maps (conv_mlp) has no spec form",
        )
    if kind(norm) != "LayerNorm":
        raise NotImportable(f"{path}.norm", f"{kind(norm) or 'no norm'} where a LayerNorm sits")
    _layer_norm(norm, f"{path}.norm", width)
    for name, module in parts.items():
        idle = kind(module) == "Identity" or (kind(module) == "Dropout" and module.p == 0)
        if name not in TIMM_MLP or (name in ("drop1", "drop2", "norm") and not idle):
            raise NotImportable(f"{path}.mlp.{name}", f"{kind(module)} in the MLP")
    _mlp(child(mlp, "fc1"), child(mlp, "act"), child(mlp, "fc2"), f"{path}.mlp", width)
    _layer_scale(getattr(block, "gamma", None), f"{path}.gamma", width, (width,))
    drop = child(block, "drop_path")
    return width, float(getattr(drop, "drop_prob", 0.0) or 0.0)


def _tv_head(classifier: Any) -> dict[str, Any]:
    layers = list(classifier) if kind(classifier) == "Sequential" else []
    if [kind(m) for m in layers] != ["LayerNorm2d", "Flatten", "Linear"]:
        raise NotImportable("classifier", f"a {kind(classifier)} head ConvNeXt's is not")
    _layer_norm(layers[0], "classifier.0", int(layers[2].in_features))
    return {"type": "convnext_classifier", "num_classes": int(layers[2].out_features)}


def _timm_head(head: Any) -> dict[str, Any]:
    parts = children(head)
    pool = child(head, "global_pool")
    if pool is None or getattr(pool, "pool_type", "avg") != "avg":
        raise NotImportable("head.global_pool", "pooling other than the global average")
    if child(head, "pre_logits") is not None:
        raise NotImportable(
            "head.pre_logits", "a pre-logits MLP (head_hidden_size) has no spec form"
        )
    drop = child(head, "drop")
    if drop is not None and float(drop.p) != 0.0:
        raise NotImportable("head.drop", f"head dropout {drop.p} (timm_convnext_head has none)")
    fc, norm = child(head, "fc"), child(head, "norm")
    if kind(fc) != "Linear" or kind(norm) != "LayerNorm2d" or "flatten" not in parts:
        raise NotImportable("head", f"a {kind(head)} other than norm, flatten and fc")
    _layer_norm(norm, "head.norm", int(fc.in_features))
    return {"type": "convnext_classifier", "num_classes": int(fc.out_features)}


def _drop_path_rate(probs: list[float]) -> float:
    """The rate r with block k of n at r * k / (n - 1), torch.linspace(0, r, n) as both
    libraries build it."""
    n = len(probs)
    if n < 2 or not any(probs):
        return 0.0
    rate = round(probs[-1], 9)
    if any(abs(p - rate * k / (n - 1)) > 1e-6 for k, p in enumerate(probs)):
        raise NotImportable("", "stochastic depth that does not grow as linspace(0, rate, n)")
    return rate


def _body(
    layout: str,
    stem: dict[str, Any],
    depths: list[int],
    widths: list[int],
    probs: list[float],
    head: dict[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"layout": layout}
    rate = _drop_path_rate(probs)
    if rate:
        body["drop_path_rate"] = rate
    stages = {
        "block": "convnext_block",
        "depth": depths,
        "width": widths,
        "entry": "convnext_downsample",
    }
    return {**body, "stem": stem, "stages": stages, "head": head}
