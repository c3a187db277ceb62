"""`archspec diff` between every ordered pair of the report's models, as compact JSON.

The page lets a reader pick any two models, so every pair is computed here with
`archspec.diff.diff` (a few ms each) and the page only looks results up. Tensor names are
stored once per model; a pair lists indexes into them as runs (start, length), which keeps a
whole zoo's pairs small: two unrelated models share no tensor, and their lists are one run each.
"""

from __future__ import annotations

from typing import Any

from archspec.diff import ArchDiff, diff
from archspec.emit.diagram_text import shape_text
from archspec.ir.graph import ArchGraph


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else shape_text(shape) or "scalar"


def _pair(d: ArchDiff, keys_a: dict[str, int], keys_b: dict[str, int]) -> dict[str, Any]:
    return {
        "stages": [
            [s.stage, _shape(s.shape_a), _shape(s.shape_b), s.params, s.macs] for s in d.stages
        ],
        "unchanged": len(d.unchanged),
        "reshaped": runs([keys_b[key] for key, _, _ in d.reshaped]),
        "added": runs([keys_b[key] for key in d.added]),
        "removed": runs([keys_a[key] for key in d.removed]),
    }


def runs(indexes: list[int]) -> list[int]:
    """[3, 4, 5, 9] -> [3, 3, 9, 1]: each run of consecutive indexes as its start and length."""
    out: list[int] = []
    for index in indexes:
        if out and out[-2] + out[-1] == index:
            out[-1] += 1
        else:
            out += [index, 1]
    return out


def pairs(archs: list[ArchGraph]) -> dict[str, Any]:
    """{"models": [{name, tensors: [[key, shape], ...]}], "pairs": {"i j": {...}}}."""
    tensors = [arch.state_dict() for arch in archs]
    index = [{key: i for i, key in enumerate(t)} for t in tensors]
    models = [
        {"name": arch.name, "tensors": [[key, _shape(info.shape)] for key, info in t.items()]}
        for arch, t in zip(archs, tensors, strict=True)
    ]
    found = {
        f"{i} {j}": _pair(diff(a, b), index[i], index[j])
        for i, a in enumerate(archs)
        for j, b in enumerate(archs)
        if i != j
    }
    return {"models": models, "pairs": found}
