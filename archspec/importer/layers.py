"""Reading the small conv-norm-activation units that MobileNet, EfficientNet and RegNet are
built from, in torchvision's form (a Sequential of Conv2d, BatchNorm2d and an activation) and
timm's (`conv` + `bn`, a BatchNormAct2d that holds its activation, or a Conv2d and a
BatchNormAct2d side by side), and grouping a flat run of blocks into stage rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archspec.importer.errors import NotImportable
from archspec.importer.tree import SAME_CONV, Conv, child, children, conv, kind

# Activations by class name; '' is none (Identity or absent).
ACTIVATIONS = {"ReLU", "ReLU6", "SiLU", "Swish", "Hardswish", "GELU", "Sigmoid", "Hardsigmoid"}
# TensorFlow-style 'same' padding (timm tf_* models): padding depends on the input size.
SAME_PADDING = ("Conv2dSame", "Conv2dSameExport", "PadSame")
BN_EPS, BN_MOMENTUM = 1e-5, 0.1


@dataclass(frozen=True)
class Unit:
    """A conv, its BatchNorm's eps and momentum, and the activation after it ('' for none)."""

    conv: Conv
    eps: float
    momentum: float
    act: str

    def norm_args(self, eps: float = BN_EPS, momentum: float = BN_MOMENTUM) -> dict[str, Any]:
        """eps and momentum where they differ from the kind's defaults."""
        out: dict[str, Any] = {}
        if not _close(self.eps, eps):
            out["eps"] = self.eps
        if not _close(self.momentum, momentum):
            out["momentum"] = self.momentum
        return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))


def check_padding(module: Any, path: str, *, same: bool = False) -> None:
    """Refuse 'same' padding and any padding other than the symmetric (k - 1) // 2 * d; with
    `same` (a TensorFlow port, read into conv2d_same kinds), accept timm's Conv2dSame, which
    pads by the input's size and holds no static padding."""
    if same and kind(module) == SAME_CONV and tuple(module.padding) == (0, 0):
        return
    if kind(module) in SAME_PADDING:
        raise NotImportable(
            path,
            f"{kind(module)} (TensorFlow 'same' padding, set by the input size) has no spec form",
        )
    pad: Any = getattr(module, "padding", None)
    kernel, dilation = module.kernel_size, module.dilation
    want = tuple((k - 1) // 2 * d for k, d in zip(kernel, dilation, strict=True))
    if isinstance(pad, str) or tuple(pad) != want or module.padding_mode != "zeros":
        raise NotImportable(path, f"Conv2d padding {pad} (not {want}) has no spec form")


def same_padding(model: Any) -> bool:
    """Whether the model is a TensorFlow port (timm's Conv2dSame somewhere, read into the
    conv2d_same kinds); the other 'same' forms (an export-friendly conv, a separate pad module)
    are refused."""
    found = False
    for path, module in model.named_modules():
        if kind(module) == SAME_CONV:
            found = True
        elif kind(module) in SAME_PADDING:
            raise NotImportable(
                path,
                f"{kind(module)} (TensorFlow 'same' padding, set by the input size) has no spec"
                " form",
            )
    return found


def activation(module: Any) -> str:
    """The activation's class name ('' for None or Identity); an unknown one is refused."""
    name = kind(module)
    if name in ("", "Identity"):
        return ""
    if name not in ACTIVATIONS:
        raise NotImportable("", f"{name} as an activation has no spec form")
    return "SiLU" if name == "Swish" else name


def pair(
    conv_module: Any, norm: Any, path: str, norm_path: str, act: Any = None, *, same: bool = False
) -> Unit:
    """A Conv2d and its BatchNorm2d / BatchNormAct2d (whose own `act` counts when `act` is
    None); with `same`, the conv may be timm's Conv2dSame."""
    found = conv(conv_module, path, same=same)
    check_padding(conv_module, path, same=same)
    if kind(norm) not in ("BatchNorm2d", "BatchNormAct2d"):
        raise NotImportable(norm_path, f"{kind(norm) or 'no norm'} where a BatchNorm2d sits")
    if kind(norm) == "BatchNormAct2d" and kind(child(norm, "drop")) not in ("", "Identity"):
        raise NotImportable(f"{norm_path}.drop", f"{kind(norm.drop)} has no spec form")
    own = getattr(norm, "act", None) if kind(norm) == "BatchNormAct2d" else None
    name = activation(act if act is not None else own)
    if act is not None and activation(own):
        raise NotImportable(norm_path, "two activations in a row have no spec form")
    return Unit(found, float(norm.eps), float(norm.momentum), name)


def unit(module: Any, path: str) -> Unit:
    """A torchvision Conv2dNormActivation (Sequential: conv, BN[, act]) or a timm ConvNormAct
    (`conv`, `bn`)."""
    kids = children(module)
    if "conv" in kids and "bn" in kids:
        extra = [n for n in kids if n not in ("conv", "bn", "drop_path")]
        extra += [n for n in ("aa", "drop_path") if child(module, n) is not None]
        if extra:
            raise NotImportable(f"{path}.{extra[0]}", f"{kind(kids[extra[0]])} has no spec form")
        return pair(module.conv, module.bn, f"{path}.conv", f"{path}.bn")
    items = list(module) if kind(module) != "Conv2d" and hasattr(module, "__iter__") else []
    if len(items) not in (2, 3):
        raise NotImportable(path, f"{kind(module)} is no conv-norm-activation unit")
    act = items[2] if len(items) == 3 else None
    if act is not None and kind(act) not in ACTIVATIONS:
        raise NotImportable(f"{path}.2", f"{kind(act)} as an activation has no spec form")
    return pair(items[0], items[1], f"{path}.0", f"{path}.1", act)


def stateless(module: Any) -> bool:
    return not any(True for _ in module.parameters()) and not any(True for _ in module.buffers())


def group_rows(reads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive block reads (block, width, stride, args) as stage rows: a block joins the
    previous row when it has stride 1 and the same kind, width and args."""
    rows: list[dict[str, Any]] = []
    for read in reads:
        last = rows[-1] if rows else None
        if (
            last is not None
            and read["stride"] == 1
            and all(read[k] == last[k] for k in ("block", "width", "args"))
        ):
            last["depth"] += 1
            continue
        rows.append({**read, "depth": 1})
    return rows


def table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Stage rows as a columnar table: `args` dicts per row (or one for all), strides kept."""
    order = ("block", "depth", "width", "stride", "args")
    out: dict[str, Any] = {}
    for key in order:
        values = [row.get(key, {}) if key == "args" else row[key] for row in rows]
        if key == "args" and not any(values):
            continue
        same = all(v == values[0] for v in values)
        out[key] = values[0] if same and key in ("block", "args", "stride") else values
    if out.get("stride") == [1 if i == 0 else 2 for i in range(len(rows))]:
        del out["stride"]
    return out
