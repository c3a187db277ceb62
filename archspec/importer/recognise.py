"""Which layout a model's module tree is in, and the recogniser that reads it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from archspec.importer import (
    convnext,
    densenet,
    efficientnet,
    mobilenet,
    regnet,
    resnet,
    resnetv2,
    vgg,
)
from archspec.importer.errors import NotImportable
from archspec.importer.tree import children, kind, listing

# (layout, test on the top-level module, recogniser yielding candidate spec bodies)
Recogniser = Callable[[Any], Iterator[dict[str, Any]]]
FAMILIES: tuple[tuple[str, Callable[[Any], bool], Recogniser], ...] = (
    # First: torchvision's ConvNeXt numbers everything in `features` as the flat layouts do,
    # and timm's has ResNetV2's `stem`, `stages`, `head` (its stages also hold `downsample`).
    ("torchvision_convnext", convnext.matches_torchvision, convnext.recognise_torchvision),
    ("timm_convnext", convnext.matches_timm, convnext.recognise_timm),
    ("torchvision_resnet", resnet.matches, resnet.recognise),
    ("timm_resnetv2", resnetv2.matches, resnetv2.recognise),
    ("torchvision_densenet", densenet.matches, densenet.recognise),
    ("torchvision_regnet", regnet.matches_torchvision, regnet.recognise_torchvision),
    ("timm_regnet", regnet.matches_timm, regnet.recognise_timm),
    ("torchvision_flat", mobilenet.matches_v2, mobilenet.recognise_v2),
    ("torchvision_mobilenet_v3", mobilenet.matches_v3, mobilenet.recognise_v3),
    (
        "torchvision_efficientnet",
        efficientnet.matches_torchvision,
        efficientnet.recognise_torchvision,
    ),
    # Before timm_efficientnet: the same conv_stem, bn1 and blocks, but a pooled conv_head.
    ("timm_mobilenet_v3", mobilenet.matches_timm_v3, mobilenet.recognise_timm_v3),
    ("timm_efficientnet", efficientnet.matches_timm, efficientnet.recognise_timm),
    ("torchvision_vgg", vgg.matches, vgg.recognise),
    ("timm_vgg", vgg.matches_timm, vgg.recognise_timm),
)


def recogniser(model: Any) -> tuple[str, Recogniser]:
    """The layout and recogniser for `model`; NotImportable naming its top-level children."""
    for layout, test, read in FAMILIES:
        if test(model):
            return layout, read
    names = listing(children(model)) or "none"
    raise NotImportable("", f"{kind(model)} (children: {names}) is in no layout archspec knows")
