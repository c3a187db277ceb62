"""Reading an nn.Module tree by structure: children by name, class names, conv geometry.

Everything here works on any module built on CPU or on the meta device; it reads attributes and
parameter shapes, never runs the model. torch objects are typed `Any` (torch is optional)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archspec.importer.errors import NotImportable

# timm's TensorFlow-"same" conv, the one whose padding archspec's conv2d_same reproduces.
SAME_CONV = "Conv2dSame"


def kind(module: Any) -> str:
    """The module's class name ('' for None)."""
    return "" if module is None else type(module).__name__


def children(module: Any) -> dict[str, Any]:
    return dict(module.named_children())


def listing(names: Any, most: int = 8) -> str:
    """Names for a message, the first `most` of them: a model may have thousands."""
    items = [str(name) for name in names]
    shown = ", ".join(items[:most])
    return f"{shown}, ... and {len(items) - most} more" if len(items) > most else shown


def child(module: Any, name: str) -> Any:
    """The child `name`, or None when absent, None or an nn.Identity."""
    value = getattr(module, name, None) if module is not None else None
    if value is None or kind(value) == "Identity":
        return None
    return value


def is_conv(module: Any) -> bool:
    return kind(module) == "Conv2d"


def is_norm(module: Any) -> bool:
    """A plain BatchNorm2d (timm's BatchNormAct2d is a BatchNorm2d plus an activation)."""
    return kind(module) in ("BatchNorm2d", "BatchNormAct2d")


@dataclass(frozen=True)
class Conv:
    """The geometry of one Conv2d."""

    path: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    dilation: int
    groups: int
    bias: bool


def conv(module: Any, path: str, *, same: bool = False) -> Conv:
    """The Conv2d at `path`, or the `conv` member of a conv-norm-act container there; with
    `same`, timm's Conv2dSame too (a Conv2d subclass whose padding the input sets)."""
    if module is not None and not is_conv(module) and is_conv(getattr(module, "conv", None)):
        module, path = module.conv, f"{path}.conv"
    if not (is_conv(module) or (same and kind(module) == SAME_CONV)):
        raise NotImportable(path, f"expected a Conv2d, found {kind(module) or 'nothing'}")
    return Conv(
        path,
        int(module.in_channels),
        int(module.out_channels),
        _square(module.kernel_size, path, "kernel"),
        _square(module.stride, path, "stride"),
        _square(module.dilation, path, "dilation"),
        int(module.groups),
        module.bias is not None,
    )


def _square(value: Any, path: str, what: str) -> int:
    pair = tuple(value) if isinstance(value, tuple | list) else (value, value)
    if pair[0] != pair[1]:
        raise NotImportable(path, f"Conv2d with a non-square {what} {pair} has no spec form")
    return int(pair[0])


def numbered(module: Any, prefix: str) -> list[tuple[str, Any]]:
    """Children named prefix1, prefix2, ... in order (layer1..layer4, denseblock1..)."""
    found = []
    index = 1
    while (value := getattr(module, f"{prefix}{index}", None)) is not None:
        found.append((f"{prefix}{index}", value))
        index += 1
    return found


def no_class(path: str, module: Any) -> NotImportable:
    return NotImportable(path, f"{kind(module)} has no spec form")
