"""Which layout a model's module tree is in, and the recogniser that reads it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from archspec.importer import densenet, resnet, resnetv2
from archspec.importer.errors import NotImportable
from archspec.importer.tree import children, kind

# (layout, test on the top-level module, recogniser yielding candidate spec bodies)
Recogniser = Callable[[Any], Iterator[dict[str, Any]]]
FAMILIES: tuple[tuple[str, Callable[[Any], bool], Recogniser], ...] = (
    ("torchvision_resnet", resnet.matches, resnet.recognise),
    ("timm_resnetv2", resnetv2.matches, resnetv2.recognise),
    ("torchvision_densenet", densenet.matches, densenet.recognise),
)


def recogniser(model: Any) -> tuple[str, Recogniser]:
    """The layout and recogniser for `model`; NotImportable naming its top-level children."""
    for layout, test, read in FAMILIES:
        if test(model):
            return layout, read
    names = ", ".join(children(model)) or "none"
    raise NotImportable("", f"{kind(model)} (children: {names}) is in no layout archspec knows")
