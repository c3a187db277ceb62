"""The spec language v1 as pydantic models: a mirror of the YAML, no graph or torch knowledge.

Stage tables arrive here already in row form (see `archspec.spec.load.normalize_stages`).
Field names are the public contract; see DESIGN.md "Spec language v1".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from archspec.blocks.definition import BlockDef
from archspec.spec.layout import Layout

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
ClassName = Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9_]*$", max_length=64)]
Text = Annotated[str, Field(max_length=500)]
# Generous but finite: beyond these, numbers stop meaning anything and torch can't allocate.
Count = Annotated[int, Field(ge=1, le=100_000)]
Channels = Annotated[int, Field(ge=1, le=1_000_000)]
Small = Annotated[int, Field(ge=1, le=64)]
# Blocks (dense layers) summed over all stages: keeps lowering, stats and the emitted file small
# enough to build in seconds (a 10,000-block ResNet is legal; 600,000 blocks would take minutes).
MAX_BLOCKS = 20_000
MAX_BRANCHES = 8

BlockType = Literal["basic", "bottleneck", "preact_basic", "preact_bottleneck", "dense"]
# Stage rows a spec may have: MobileNetV3-Large's table groups into 13 rows with its last conv.
MAX_STAGES = 16
TAP_NAMES = ("stem", *(f"stage{n}" for n in range(1, MAX_STAGES + 1)))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# Values of a block kind's own params (a kind written as data), by param name.
# A list of whole numbers is an `ints` param's value (one per item of an `each` member).
IntList = Annotated[list[int], Field(min_length=1, max_length=256)]
BlockArgs = Annotated[dict[Name, int | bool | float | IntList], Field(max_length=32)]
StemType = Literal["conv7x7", "conv3x3", "deep", "none"]
STEM_TYPES = ("conv7x7", "conv3x3", "deep", "none")
BLOCK_TYPES = ("basic", "bottleneck", "preact_basic", "preact_bottleneck", "dense")


class Stem(Strict):
    """The network's entry: conv7x7 (+maxpool), conv3x3 (CIFAR), deep (three 3x3 convs), none
    (VGG: the first stage reads the input), or a block kind written as data (built with
    in_channels = the input's, out_channels = width and `args`)."""

    type: StemType | Name = "conv7x7"
    width: Channels = 64
    args: BlockArgs = {}
    # Output channels of the deep stem's first two convs; default width / 2 (timm stem_width).
    # Two numbers give each its own: the tiered stem of timm's ResNet-T, [24, 32].
    mid_width: Channels | Annotated[list[Channels], Field(min_length=2, max_length=2)] | None = None
    # Max-pool after the stem; default: yes for conv7x7 and deep, no for conv3x3. `conv`: a
    # strided 3x3 conv + BN + ReLU in its place (timm `replace_stem_pool`, ResNet-RS).
    pool: bool | Literal["conv"] | None = None
    # Norm + ReLU after the stem conv; `false` for DenseNet-BC's CIFAR stem.
    norm: bool = True


class SqueezeExcite(Strict):
    """Squeeze-and-excitation after the block's last norm (timm `SEModule`)."""

    type: Literal["se"]
    reduction: Small = 16
    divisor: Small = 8


class SelectiveKernel(Strict):
    """SKNet's selective kernel conv replacing the 3x3 (timm `SelectiveKernel`)."""

    type: Literal["sk"]
    # Without `kernels`: `branches` 3x3 paths with dilation 1, 2, ... (timm keep_3x3).
    branches: Annotated[int, Field(ge=2, le=MAX_BRANCHES)] = 2
    # Real kernel sizes per branch, e.g. [3, 5] (odd sizes); overrides `branches`.
    kernels: (
        Annotated[list[Annotated[int, Field(ge=1, le=15)]], Field(max_length=MAX_BRANCHES)] | None
    ) = None
    reduction: Small = 16
    divisor: Small = 8
    # Smallest attention width; default: the divisor.
    min_channels: Channels | None = None
    # Each branch reads its own slice of the input channels; default: yes for basic blocks.
    split_input: bool | None = None


class SplitAttention(Strict):
    """ResNeSt split-attention conv replacing the 3x3 (timm `SplitAttn`)."""

    type: Literal["split"]
    radix: Annotated[int, Field(ge=1, le=8)] = 2
    reduction: Small = 4
    divisor: Small = 8
    min_channels: Channels = 32
    avd: bool = True
    avd_first: bool = False


class BlockAttention(BaseModel):
    """An attention kind written as data (archspec/stdlib/blocks/ or the spec's `blocks:`),
    placed where SE sits and built with `channels` = the block's output channels; other
    fields are the definition's params."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    type: Name

    def args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


BUILTIN_ATTENTION = ("se", "sk", "split")
# A block definition file, relative to the spec, inside the spec's directory tree.
BlockPath = Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+\.ya?ml$", max_length=200)]
BlockEntry = Annotated[
    Annotated[BlockDef, Tag("inline")] | Annotated[BlockPath, Tag("file")],
    Discriminator(lambda value: "file" if isinstance(value, str) else "inline"),
]


LayoutPath = Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$", max_length=200)]
LayoutEntry = Annotated[
    Annotated[Layout, Tag("inline")] | Annotated[LayoutPath, Tag("ref")],
    Discriminator(lambda value: "ref" if isinstance(value, str) else "inline"),
]


def _attention_kind(value: Any) -> str | None:
    if not isinstance(value, dict | BaseModel):
        return "block"  # any model refuses it: "expected a mapping of fields"
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if not isinstance(kind, str):
        return None
    return kind if kind in BUILTIN_ATTENTION else "block"


Attention = Annotated[
    Annotated[SqueezeExcite, Tag("se")]
    | Annotated[SelectiveKernel, Tag("sk")]
    | Annotated[SplitAttention, Tag("split")]
    | Annotated[BlockAttention, Tag("block")],
    Discriminator(_attention_kind),
]


# The network's activation (timm `act_layer`): what the blocks' act() words build.
Activation = Literal["relu", "relu6", "silu", "gelu", "hardswish", "hardsigmoid", "leaky_relu"]
NormType = Literal["batch", "frozen_batch", "group", "layer"]


class NormChoice(Strict):
    """The network's norm (timm `norm_layer`): batch, frozen_batch (torchvision's
    FrozenBatchNorm2d), group (nn.GroupNorm with `groups` groups) or layer (LayerNorm over
    the channels)."""

    type: NormType
    groups: Annotated[int, Field(ge=1, le=1024)] | None = None

    @model_validator(mode="after")
    def _groups_for_group(self) -> NormChoice:
        if self.groups is not None and self.type != "group":
            raise ValueError("`groups` applies to type: group only; remove it")
        return self


Norm = Annotated[
    Annotated[NormType, Tag("name")] | Annotated[NormChoice, Tag("choice")],
    Discriminator(lambda value: "name" if isinstance(value, str) else "choice"),
]


class StageRow(Strict):
    """One stage of the table (one row as a paper prints it). `block` is a built-in kind or
    one written as data (built with in_channels, out_channels = width, stride and `args`)."""

    block: BlockType | Name
    depth: Count
    width: Channels | None = None
    stride: Small | None = None
    groups: Channels = 1
    base_width: Channels = 64
    expansion: Small | None = None
    dilation: Small = 1
    downsample: Literal["conv", "avg", "pad"] = "conv"
    stride_at: Literal["3x3", "1x1"] = "3x3"
    attention: Attention | None = None
    growth_rate: Channels | None = None
    bn_size: Small | None = None
    # false: the original DenseNet's layers, BN-ReLU-3x3 conv, without the 1x1 bottleneck
    # (true is the default, DenseNet-B/BC, so only false is a choice).
    bottleneck: Literal[False] | None = None
    compression: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    args: BlockArgs = {}
    # This stage's activation and norm, over the spec's (see Spec.act / Spec.norm).
    act: Activation | None = None
    norm: Norm | None = None
    # A kind that opens the stage where it strides or changes width, before its blocks, and
    # takes both (ConvNeXt's downsampling layers): the blocks then keep stride and width.
    entry: Name | None = None


class RegNetDesign(Strict):
    """RegNet's design space (Radosavovic et al. 2020) in place of a stage table: w0, wa, wm and
    depth give per-block widths, quantised into stages (archspec.spec.regnet); every stage
    strides 2 and is built of `regnet_block`s. `rounding` is where pycls (the paper's code)
    and torchvision differ: the bottleneck width rounded to a multiple of the group width."""

    depth: Annotated[int, Field(ge=1, le=1000)]
    w0: Annotated[int, Field(ge=8, le=1_000_000, multiple_of=8)]
    wa: Annotated[int | float, Field(ge=0, le=1_000_000)]
    wm: Annotated[int | float, Field(gt=1, le=64)]
    group_width: Annotated[int, Field(ge=1, le=1_000_000)]
    bottleneck_ratio: Annotated[int | float, Field(gt=0, le=64)] = 1.0
    se_ratio: Annotated[int | float, Field(ge=0, le=1)] = 0.0
    rounding: Literal["pycls", "torchvision"] = "pycls"


class Tail(Strict):
    """A block kind written as data after the last stage (EfficientNet's 1x1 conv to 1280),
    built with in_channels = the last stage's output, out_channels = width and `args`; where
    it goes is the layout's `tail.block`. Compound scaling widens it as it does the stages."""

    type: Name
    width: Channels
    args: BlockArgs = {}


class Head(Strict):
    """The classifier: global pool, flatten, fc; or a head kind written as data (params
    `in_channels`, `num_classes`), after the layout's pool and flatten."""

    type: Literal["classifier"] | Name = "classifier"
    num_classes: Channels = 1000
    args: BlockArgs = {}


class Spec(Strict):
    """A whole architecture."""

    archspec: Literal[1]
    name: Name
    class_name: ClassName | None = None
    title: Text = ""
    reference: Text = ""
    input: Annotated[
        list[Annotated[int, Field(ge=1, le=16_384)]], Field(min_length=3, max_length=3)
    ]
    stem: Stem = Stem()
    stages: Annotated[list[StageRow], Field(min_length=1, max_length=MAX_STAGES)]
    head: Head | None = Head()
    outputs: list[Literal[TAP_NAMES]] | None = None  # type: ignore[valid-type]
    # The network's final stride: the last strides become dilations (timm `output_stride`,
    # torchvision `replace_stride_with_dilation`). Default: no dilation.
    output_stride: Literal[8, 16, 32] | None = None
    # Pre-activation networks: the final norm + ReLU after the last stage (timm ResNetV2 `norm`);
    # default yes. `false` gives the layout of pytorch-cifar's PreActResNet / SENet.
    final_norm: bool | None = None
    conv_bias: bool = False
    zero_init_residual: bool = False
    # Block kinds written as data, by name; used as stage `block`, stem `type` or attention.
    blocks: Annotated[dict[Name, BlockEntry], Field(max_length=32)] = {}
    # RegNet's design space: the stage table is generated from it (`archspec expand` prints it).
    regnet: RegNetDesign | None = None
    tail: Tail | None = None
    # Compound scaling (Tan & Le 2019): widths x width_mult rounded to a multiple of 8 (never
    # 10% down), depths x depth_mult rounded up, as torchvision and timm scale EfficientNet.
    width_mult: Annotated[int | float, Field(gt=0, le=16)] | None = None
    depth_mult: Annotated[int | float, Field(gt=0, le=16)] | None = None
    # Stochastic depth: the rate of the network's last block, growing linearly from 0 over the
    # blocks of kinds with a `drop_prob` param (torchvision's rule: rate x index / count).
    drop_path_rate: Annotated[float, Field(ge=0, lt=1)] | None = None
    # How modules are named (state_dict keys): a built-in layout's name, a layout file relative
    # to the spec, or a layout written inline. Default: the blocks' family's.
    layout: LayoutEntry | None = None
    # The network's activation and norm (timm's act_layer / norm_layer): what the blocks' act()
    # and norm() build, and the stem's and projections' norm and activation. Default: ReLU and
    # BatchNorm. A stage row may choose its own.
    act: Activation | None = None
    norm: Norm | None = None


def default_class_name(name: str) -> str:
    """resnet50_c5_backbone -> Resnet50C5Backbone; an `_` stays before a digit (Resnext50_32x4d)."""
    text = ""
    for part in name.split("_"):
        if part:
            text += ("_" if part[0].isdigit() and text else "") + part[0].upper() + part[1:]
    return text
