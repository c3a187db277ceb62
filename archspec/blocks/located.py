"""Errors found after lowering (a shape mismatch) located at the block definition's step that
made the op: in the spec for an inline definition, else in the definition's own file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from archspec.blocks.library import find_block, parse_block
from archspec.errors import Issue, SpecError, format_loc

if TYPE_CHECKING:
    from archspec.spec.load import LoadedSpec

HINT = (
    "check the channels and sizes this step combines (`+` and `*` need equal shapes, cat "
    "equal sizes)"
)


def step_issue(loaded: LoadedSpec, origin: tuple[str, int], message: str) -> Issue | None:
    """The issue at forward step (or sequence item) `index` of kind `kind`, or None where its
    text can't be found (a spec given as text that names a block file)."""
    kind, index = origin
    block = find_block(kind, loaded.spec.blocks)
    where = "sequence" if block is not None and block.sequence is not None else "forward"
    loc = (where, index) if index >= 0 else ()
    data = loaded.source.data
    entries = data.get("blocks") if isinstance(data, dict) else None
    entry = entries.get(kind) if isinstance(entries, dict) else None
    text = f"block {kind!r}: {message}"
    if isinstance(entry, dict):
        yaml_loc = ("blocks", kind, *loc)
        return loaded.source.issue(yaml_loc, format_loc(yaml_loc), text, HINT)
    if not isinstance(entry, str) or loaded.file.startswith("<"):
        # A standard-library kind fails on what the spec gives it (a small input): the spec's
        # own location says what to change.
        return None
    path = Path(loaded.file).resolve().parent / entry
    try:
        _, source = parse_block(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SpecError):
        return None
    return source.issue(loc, format_loc(loc) or "block", text, HINT)
