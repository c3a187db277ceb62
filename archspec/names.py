"""Identifiers the generated module itself binds or reads: no spec-derived name may take them."""

from __future__ import annotations

import builtins
import keyword

# Top-level names of every generated file (imports, helpers; FUSIBLE was its fuse table).
GENERATED_GLOBALS = (
    "torch",
    "nn",
    "Tensor",
    "FUSIBLE",
    "fuse_conv_bn",
    "replace_submodule",
    "named_sequential",
)
RESERVED_NAMES = frozenset({*keyword.kwlist, *dir(builtins), *GENERATED_GLOBALS})
