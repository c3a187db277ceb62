"""Each stage's stride and dilations: the one place `stride`, `dilation` and `output_stride` meet.

Rules (torchvision `_make_layer(dilate=...)`, timm `make_blocks(output_stride=...)`):
- a stage's nominal stride is its `stride`, else 1 for the first stage and 2 for the others;
- with `output_stride`, once the network's stride has reached it, each later stage keeps stride 1
  and multiplies the running dilation by the stride it gave up;
- the first block of a stage reads its input at the *previous* stage's dilation
  (torchvision `previous_dilation`, timm `first_dilation`); the other blocks use the stage's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.lower.errors import LowerError
from archspec.spec.models import Spec


@dataclass(frozen=True)
class StageGeometry:
    stride: int
    dilation: int
    first_dilation: int


def has_pool(spec: Spec) -> bool:
    """The stem's max-pool: by default after conv7x7 and deep stems, not after conv3x3 (CIFAR)."""
    pool = spec.stem.pool
    return bool(pool) if pool is not None else spec.stem.type != "conv3x3"


def stem_stride(spec: Spec) -> int:
    """The stem's total stride: a strided first conv and an optional 2x max-pool."""
    if spec.stem.type == "none":
        return 1
    conv = 1 if spec.stem.type == "conv3x3" else 2
    return conv * (2 if has_pool(spec) else 1)


def nominal_stride(spec: Spec, index: int) -> int:
    row = spec.stages[index]
    if row.block == "dense":
        return 1 if index == 0 else 2  # the previous transition's pool
    return row.stride or (1 if index == 0 else 2)


def stage_geometry(spec: Spec) -> list[StageGeometry]:
    """(stride, dilation, first-block dilation) of every stage."""
    if spec.output_stride is None:
        dilations = [row.dilation for row in spec.stages]
        strides = [nominal_stride(spec, i) for i in range(len(spec.stages))]
    else:
        strides, dilations = _dilate_to(spec, spec.output_stride)
    previous = [1, *dilations[:-1]]
    return [StageGeometry(s, d, p) for s, d, p in zip(strides, dilations, previous, strict=True)]


def natural_stride(spec: Spec) -> int:
    total = stem_stride(spec)
    for index in range(len(spec.stages)):
        total *= nominal_stride(spec, index)
    return total


def _dilate_to(spec: Spec, output_stride: int) -> tuple[list[int], list[int]]:
    _check_output_stride(spec, output_stride)
    net, dilation = stem_stride(spec), 1
    strides, dilations = [], []
    for index in range(len(spec.stages)):
        stride = nominal_stride(spec, index)
        if net >= output_stride:
            dilation, stride = dilation * stride, 1
        else:
            net *= stride
        strides.append(stride)
        dilations.append(dilation)
    return strides, dilations


def _check_output_stride(spec: Spec, output_stride: int) -> None:
    for index, row in enumerate(spec.stages):
        if row.dilation != 1:
            raise LowerError(
                ("stages", index, "dilation"),
                "`dilation` and `output_stride` both set the stages' dilation",
                "remove `dilation` (output_stride derives it), or remove `output_stride`",
            )
        if row.block == "dense":
            raise LowerError(
                ("output_stride",),
                "dense stages downsample in their transitions and have no dilated form",
                "remove `output_stride`",
            )
    natural = natural_stride(spec)
    if output_stride >= natural:
        raise LowerError(
            ("output_stride",),
            f"this network's stride is {natural} without dilation; output_stride "
            f"{output_stride} would change nothing",
            f"remove `output_stride`, or use a value below {natural}",
        )
    if stem_stride(spec) > output_stride:
        raise LowerError(
            ("output_stride",),
            f"the stem alone has stride {stem_stride(spec)}",
            f"use output_stride >= {stem_stride(spec)}",
        )
