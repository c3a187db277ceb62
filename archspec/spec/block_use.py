"""Checks of a spec's block kinds written as data: its own `blocks:` definitions hang together,
every `attention: {type: <kind>}` names a known kind with known params, and every definition
is used (a field that changes nothing is refused)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archspec.blocks.definition import BlockDef, did_you_mean
from archspec.blocks.library import block_problem, builtin_blocks, find_block, load_block
from archspec.errors import Issue, Loc, SpecError, format_loc
from archspec.spec.models import BUILTIN_ATTENTION, BlockAttention, Spec
from archspec.spec.yamlsource import Source

Remap = Callable[[Loc], Loc]


def library(spec: Spec) -> dict[str, BlockDef]:
    """The kinds a spec can build: the shipped ones and its own (which take precedence)."""
    own = {name: block for name, block in spec.blocks.items() if isinstance(block, BlockDef)}
    return {**builtin_blocks(), **own}


def block_use_issues(source: Source, remap: Remap, spec: Spec) -> list[Issue]:
    kinds = library(spec) if spec.blocks else {}
    issues = [
        issue
        for name, block in spec.blocks.items()
        if isinstance(block, BlockDef)
        and (issue := block_problem(source, ("blocks", name), block, kinds, name)) is not None
    ]
    used: set[str] = set()
    for index, row in enumerate(spec.stages):
        attention = row.attention
        if isinstance(attention, BlockAttention):
            used.add(attention.type)
            loc = remap(("stages", index, "attention"))
            issues += _use_issues(source, loc, attention, spec)
    used = _reachable(used, kinds)
    for name in spec.blocks:
        if name not in used:
            loc = ("blocks", name)
            hint = f"use it (attention: {{type: {name}}}) or remove it"
            issues.append(source.issue(loc, format_loc(loc), "is never used", hint, key=True))
    # A columnar `attention:` applies to every stage: report each problem once.
    return list(dict.fromkeys(issues))


def _reachable(used: set[str], kinds: dict[str, BlockDef]) -> set[str]:
    """The kinds used, and every kind their members build, transitively."""
    seen, todo = set(), list(used)
    while todo:
        kind = todo.pop()
        if kind in seen or kind not in kinds:
            seen.add(kind)
            continue
        seen.add(kind)
        todo += [construct.target for construct in kinds[kind].constructs().values()]
    return seen


def unknown_kind_issues(source: Source, remap: Remap, data: Any) -> list[Issue]:
    """`attention: {type: <word>}` naming no built-in kind and no block definition. Read from the
    raw rows, so it is reported even when other fields fail validation."""
    stages = data.get("stages") if isinstance(data, dict) else None
    blocks = data.get("blocks") if isinstance(data, dict) else None
    own = set(blocks) if isinstance(blocks, dict) else set()
    issues = []
    for index, row in enumerate(stages if isinstance(stages, list) else []):
        attention = row.get("attention") if isinstance(row, dict) else None
        kind = attention.get("type") if isinstance(attention, dict) else None
        if not isinstance(kind, str) or kind in BUILTIN_ATTENTION or kind in own:
            continue  # the common case reads no definition file
        kinds = [*BUILTIN_ATTENTION, *sorted(own | set(builtin_blocks()) - set(BUILTIN_ATTENTION))]
        if kind not in kinds:
            loc = remap(("stages", index, "attention", "type"))
            close = difflib.get_close_matches(kind, kinds, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            hint += "use one of " + ", ".join(map(repr, kinds)) + ", or `none`"
            message = f"unknown type {kind!r} ({type(kind).__name__})"
            issues.append(source.issue(loc, format_loc(loc), message, hint))
    return issues


def _use_issues(source: Source, loc: Loc, attention: BlockAttention, spec: Spec) -> list[Issue]:
    block = find_block(attention.type, spec.blocks)
    if block is None:
        return []  # reported by unknown_kind_issues
    issues = []
    settable = [name for name in block.params if name != "channels"]
    for key, value in attention.args().items():
        where = (*loc, key)
        if key not in settable:
            hint = did_you_mean(key, settable) if settable else f"{attention.type} takes no fields"
            issues.append(
                source.issue(where, format_loc(where), f"unknown field {key!r}", hint, key=True)
            )
        elif type(value) not in (int, bool):
            issues.append(
                source.issue(where, format_loc(where), "must be a whole number or true/false", "")
            )
    return issues


def resolve_block_files(source: Source, spec: Spec) -> tuple[Spec, list[Issue]]:
    """Replace each `blocks: {name: path.yaml}` entry by the definition read from that file,
    relative to the spec and never outside the spec's directory tree."""
    files = {name: entry for name, entry in spec.blocks.items() if isinstance(entry, str)}
    if not files:
        return spec, []
    resolved: dict[str, BlockDef | str] = dict(spec.blocks)
    kinds = library(spec)
    issues: list[Issue] = []
    for name, entry in files.items():
        loc = ("blocks", name)
        try:
            resolved[name] = load_block(_inside(source.file, entry), kinds, name)
        except ValueError as exc:
            issues.append(source.issue(loc, format_loc(loc), str(exc), _PATH_HINT))
        except SpecError as exc:
            issues += exc.issues
    return spec.model_copy(update={"blocks": resolved}), issues


_PATH_HINT = "write a path relative to the spec, inside its folder, e.g. blocks/eca.yaml"


def _inside(spec_file: str, entry: str) -> Path:
    if spec_file.startswith("<"):
        raise ValueError("a spec given as text cannot read block files")
    root = Path(spec_file).resolve().parent
    target = (root / entry).resolve()
    if ".." in Path(entry).parts or not target.is_relative_to(root):
        raise ValueError(f"{entry!r} is outside the spec's directory tree")
    return target
