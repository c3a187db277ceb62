"""The words of the block language: member ops (constructors) and forward functions.

A member is written as a constructor call, `conv: conv2d(channels, reduced, 1, bias=true)`. Each
op word states its arguments in order (name, kind, default; no default = required), the torch
constructor the generated class calls, and the archspec op it builds. Everything else an op
knows (counting, memory, receptive field, diagram text) lives on the op class itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archspec.ir.code import Call, Name
from archspec.ir.ops import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm2d,
    ChannelConv1d,
    Conv2d,
    Dropout,
    Flatten,
    FrozenBatchNorm2d,
    GroupNorm,
    Hardsigmoid,
    Hardswish,
    Identity,
    LayerNorm,
    LayerNorm2d,
    LayerScale,
    LeakyReLU,
    Linear,
    MaxPool2d,
    Op,
    Permute,
    ReLU,
    ReLU6,
    SameConv2d,
    Sigmoid,
    SiLU,
    StochasticDepth,
)

# A param or let value; an `ints` param holds a tuple (given as a list).
Value = int | bool | float | tuple[int, ...] | list[int]


@dataclass(frozen=True)
class Arg:
    """One constructor argument: its name, `int`, `bool` or `float`, its default (None:
    required) and torch's default (left out of the emitted call when equal)."""

    name: str
    kind: type
    default: Value | None = None
    torch_default: Value | None = None


@dataclass(frozen=True)
class OpWord:
    """A member op of the language."""

    torch: str
    args: tuple[Arg, ...]
    build: Callable[..., Op]
    # Literal positional arguments the torch call starts with (nn.Conv1d(1, 1, ...)), and
    # ends its positional arguments with (StochasticDepth(p, "row")).
    fixed: tuple[Any, ...] = ()
    fixed_tail: tuple[Any, ...] = ()
    # How many leading args the emitted call passes by position.
    positional: int = 0
    # Keyword arguments the emitted call always passes (nn.ReLU(inplace=True)).
    always: tuple[tuple[str, Any], ...] = ()
    # It overwrites its input (checked by archspec.blocks.inplace).
    writes_input: bool = False
    # Characters its forward call adds beyond `self.name(arg)` (archspec.blocks.width).
    call_extra: int = 0
    # Whether the module holds parameters or buffers: such a member is called once (the IR
    # does not model weight sharing).
    stateful: bool = True
    doc: str = ""
    # The emitted constructor where it is no plain call of `torch` (layer scale's
    # nn.Parameter): from each argument's emitted value, a literal or a Name.
    render: Callable[[dict[str, Any]], Any] | None = None

    def required(self) -> list[str]:
        return [a.name for a in self.args if a.default is None]


def _int(name: str, default: int | None = None, torch_default: int | None = None) -> Arg:
    return Arg(name, int, default, torch_default if torch_default is not None else default)


def _bool(name: str, default: bool, torch_default: bool) -> Arg:
    return Arg(name, bool, default, torch_default)


def _float(name: str, default: float | None = None, torch_default: float | None = None) -> Arg:
    return Arg(name, float, default, torch_default if torch_default is not None else default)


def _source(value: Any) -> str:
    return value.text if isinstance(value, Name) else repr(value)


def _parameter(values: dict[str, Any]) -> Call:
    """`nn.Parameter(torch.ones(C, 1, 1) * init)`: layer scale as torchvision writes it."""
    shape = _source(values["channels"]) + (", 1, 1" if values["spatial"] is not False else "")
    return Call("nn.Parameter", (Name(f"torch.ones({shape}) * {_source(values['init'])}"),))


def _permute(values: dict[str, Any]) -> Call:
    """`Permute([0, 2, 3, 1])` (to channels last) or `Permute([0, 3, 1, 2])`, as torchvision."""
    return Call("Permute", (Name(str(Permute(values["channels_last"] is not False).dims)),))


def _same_conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    bias: bool = False,
) -> SameConv2d:
    """conv2d_same's arguments in its own order (it has no padding: the input sets it)."""
    return SameConv2d(in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias)


OPS: dict[str, OpWord] = {
    "conv2d": OpWord(
        "nn.Conv2d",
        (
            _int("in_channels"),
            _int("out_channels"),
            _int("kernel_size"),
            _int("stride", 1),
            _int("padding", 0),
            _int("dilation", 1),
            _int("groups", 1),
            _bool("bias", False, True),
        ),
        Conv2d,
        positional=2,
        doc="2-D convolution (bias off unless bias=true)",
    ),
    "conv2d_same": OpWord(
        "Conv2dSame",
        (
            _int("in_channels"),
            _int("out_channels"),
            _int("kernel_size"),
            _int("stride", 1),
            _int("dilation", 1),
            _int("groups", 1),
            _bool("bias", False, False),
        ),
        _same_conv,
        positional=2,
        doc="2-D convolution with TensorFlow's \"same\" padding (timm's Conv2dSame; tf_ ports)",
    ),
    "channel_conv": OpWord(
        "nn.Conv1d",
        (_int("kernel_size"), _int("padding", 0), _bool("bias", False, True)),
        ChannelConv1d,
        fixed=(1, 1),
        call_extra=len(".flatten(1).unsqueeze(1)).transpose(1, 2).unsqueeze(-1)"),
        doc="1-D convolution across the channels of a pooled map (ECA)",
    ),
    "batchnorm": OpWord(
        "nn.BatchNorm2d",
        (_int("num_features"), _float("eps", 1e-5), _float("momentum", 0.1)),
        BatchNorm2d,
        positional=1,
        doc="BatchNorm2d (eps=1e-5, momentum=0.1)",
    ),
    "groupnorm": OpWord(
        "nn.GroupNorm",
        (_int("num_groups"), _int("num_channels"), _float("eps", 1e-5)),
        GroupNorm,
        positional=2,
        doc="GroupNorm (num_groups, num_channels; eps=1e-5; affine)",
    ),
    "frozen_batchnorm": OpWord(
        "FrozenBatchNorm2d",
        (_int("num_features"), _float("eps", 1e-5)),
        FrozenBatchNorm2d,
        positional=1,
        doc="batch norm with fixed statistics and affine, all buffers (torchvision's "
        "FrozenBatchNorm2d; eps=1e-5)",
    ),
    "adaptive_avgpool": OpWord(
        "nn.AdaptiveAvgPool2d",
        (_int("size"),),
        AdaptiveAvgPool2d,
        # Other sizes are the head's (layout `head.pool_size`), written as a tuple.
        positional=1,
        stateful=False,
        doc="a global average module, nn.AdaptiveAvgPool2d(1) (size 1 only)",
    ),
    "linear": OpWord(
        "nn.Linear",
        (_int("in_features"), _int("out_features"), _bool("bias", True, True)),
        Linear,
        positional=2,
        doc="fully connected layer",
    ),
    "relu": OpWord(
        "nn.ReLU",
        (),
        ReLU,
        always=(("inplace", True),),
        writes_input=True,
        stateful=False,
        doc="ReLU (in place)",
    ),
    "sigmoid": OpWord("nn.Sigmoid", (), Sigmoid, stateful=False, doc="sigmoid"),
    "relu6": OpWord(
        "nn.ReLU6",
        (),
        ReLU6,
        always=(("inplace", True),),
        writes_input=True,
        stateful=False,
        doc="ReLU6 (in place; MobileNetV2)",
    ),
    "silu": OpWord(
        "nn.SiLU",
        (),
        SiLU,
        always=(("inplace", True),),
        writes_input=True,
        stateful=False,
        doc="SiLU / swish (in place; EfficientNet)",
    ),
    "hardswish": OpWord(
        "nn.Hardswish",
        (),
        Hardswish,
        always=(("inplace", True),),
        writes_input=True,
        stateful=False,
        doc="hard swish (in place; MobileNetV3)",
    ),
    "hardsigmoid": OpWord("nn.Hardsigmoid", (), Hardsigmoid, stateful=False, doc="hard sigmoid"),
    "gelu": OpWord("nn.GELU", (), GELU, stateful=False, doc="GELU (exact; ConvNeXt)"),
    "leaky_relu": OpWord(
        "nn.LeakyReLU",
        (_float("negative_slope", 0.01), _bool("inplace", False, False)),
        LeakyReLU,
        stateful=False,
        doc="leaky ReLU (negative_slope=0.01, inplace=false)",
    ),
    "stochastic_depth": OpWord(
        "StochasticDepth",
        (_float("p"),),
        StochasticDepth,
        positional=1,
        fixed_tail=("row",),
        stateful=False,
        doc="stochastic depth (torchvision, mode row): drops a residual branch per sample",
    ),
    "dropout": OpWord(
        "nn.Dropout",
        (_float("p", 0.5), _bool("inplace", False, False)),
        Dropout,
        stateful=False,
        doc="dropout (p=0.5; an identity in eval mode)",
    ),
    "maxpool2d": OpWord(
        "nn.MaxPool2d",
        (_int("kernel_size"), _int("stride"), _int("padding", 0)),
        MaxPool2d,
        stateful=False,
        doc="max pool (kernel, stride, padding)",
    ),
    "avgpool2d": OpWord(
        "nn.AvgPool2d",
        (
            _int("kernel_size"),
            _int("stride"),
            _int("padding", 0),
            _bool("ceil_mode", False, False),
            _bool("count_include_pad", True, True),
        ),
        AvgPool2d,
        stateful=False,
        doc="average pool (kernel, stride, padding, ceil_mode, count_include_pad)",
    ),
    "identity": OpWord("nn.Identity", (), Identity, stateful=False, doc="identity"),
    "flatten": OpWord(
        "nn.Flatten", (), Flatten, fixed=(1,), stateful=False, doc="nn.Flatten(1) as a module"
    ),
    "layernorm2d": OpWord(
        "LayerNorm2d",
        (_int("num_features"), _float("eps", 1e-6, 1e-5)),
        LayerNorm2d,
        positional=1,
        doc="LayerNorm over the channels of an NCHW map (eps=1e-6; ConvNeXt)",
    ),
    "layernorm": OpWord(
        "nn.LayerNorm",
        (_int("num_features"), _float("eps", 1e-6, 1e-5)),
        LayerNorm,
        positional=1,
        doc="nn.LayerNorm over the last dim of a channels-last map (eps=1e-6)",
    ),
    "permute": OpWord(
        "Permute",
        (_bool("channels_last", True, True),),
        Permute,
        stateful=False,
        render=_permute,
        doc="permute to channels last (NHWC), or with false back to NCHW",
    ),
    "layer_scale": OpWord(
        "nn.Parameter",
        (_int("channels"), _float("init", 1e-6), _bool("spatial", True, True)),
        LayerScale,
        call_extra=len(".reshape(-1, 1, 1)"),
        render=_parameter,
        doc="a learned per-channel factor, a bare nn.Parameter: (C, 1, 1), or (C,) with "
        "spatial=false (timm's gamma)",
    ),
}

# Words for the network's own activation and norm (archspec.lower.choice rewrites them into
# the spec's `act:` / `norm:` choice, ReLU and BatchNorm by default): name -> (argument names,
# required ones). `act` works in place where the chosen activation does.
CHOICE_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "act": ((), ()),
    "norm": (("num_features", "eps"), ("num_features",)),
}

# Functions a forward step may call besides members: name -> (min args, max args).
# - mean(v): global average over H and W, keeping them (N, C, 1, 1);
# - flatten(v): (N, C, 1, 1) -> (N, C), for a linear member;
# - cat(a, b, ...): channel concatenation;
# - softmax(a, b, ...): softmax across the given (N, C) vectors (SKNet's branch attention),
#   one value holding K weights per channel;
# - mix(w, b0, b1, ...): sum_i w_i * b_i for weights w from softmax and K feature maps;
# - sigmoid(v): the logistic function, as a function (timm's radix-1 split attention);
# - amax(v): the maximum over H and W, keeping them (CBAM's max-pooled channel descriptor);
# - each(list, v): every item of a list member applied to v, concatenated over channels (K
#   paths of C channels give K x C: a map of K channel groups);
# - each_split(list, v): item i applied to the i-th of K equal channel chunks of v, concatenated;
# - group_sum(v, k): the sum of v's k channel groups (k x C -> C);
# - group_softmax(v, k[, g]): softmax across v's k channel groups, per channel; with g, v's
#   channels are g groups of k (ResNeSt's radix softmax per cardinal group), the result k of g;
# - group_mix(v, w, k): sum over k channel groups of v * w (w: weights from group_softmax);
# - chunk(v, k, i): the i-th (from 0) of v's k equal channel chunks (Res2Net's scales).
# (each's list is a member name; the counts k and g are whole numbers or int params/let values.)
FUNCTIONS: dict[str, tuple[int, int]] = {
    "mean": (1, 1),
    "flatten": (1, 1),
    "cat": (2, 16),
    "softmax": (2, 8),
    "mix": (3, 9),
    "sigmoid": (1, 1),
    "amax": (1, 1),
    "each": (1, 1),
    "each_split": (1, 1),
    "group_sum": (1, 1),
    "group_softmax": (1, 1),
    "group_mix": (2, 2),
    "chunk": (1, 1),
}
# Each function's emitted form, less its arguments, its list member's name (and each's loop
# name) and its counts (archspec.blocks.width); group_softmax per cardinal group adds
# CARDINAL_EXTRA.
CARDINAL_EXTRA = len(", .softmax(2).movedim(2, 1).flatten(1, 3)") - len(".softmax(1).flatten(1, 2)")
FUNCTION_EXTRA = {
    "mean": len(".mean((2, 3), keepdim=True)"),
    "flatten": len(".flatten(1)"),
    "cat": len("torch.cat([], 1)"),
    "softmax": len("torch.stack([], 1).softmax(1)"),
    "mix": len("(torch.stack([], 1) * [..., None, None]).sum(1)"),
    "sigmoid": len(".sigmoid()"),
    "amax": len(".amax((2, 3), keepdim=True)"),
    "each": len("torch.cat([() for  in self.], 1)"),
    "each_split": len("apply_to_chunks(self., )"),
    "group_sum": len(".unflatten(1, (, -1)).sum(1)"),
    "group_softmax": len(".unflatten(1, (, -1)).softmax(1).flatten(1, 2)"),
    "group_mix": len("( * ).unflatten(1, (, -1)).sum(1)"),
    "chunk": len(".chunk(, 1)[]"),
}
