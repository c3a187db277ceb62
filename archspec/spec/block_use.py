"""Checks of a spec's block kinds written as data: its own `blocks:` definitions hang together,
every use (stage `block`, stem `type`, `attention: {type: <kind>}`) names a known kind that
has the params its slot fills, with known `args`, and every definition is used (a field that
changes nothing is refused). Also reads the spec's `layout` file."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archspec.blocks.definition import BlockDef, did_you_mean, fits
from archspec.blocks.library import block_problem, builtin_blocks, find_block, load_block
from archspec.blocks.syntax import leaves
from archspec.errors import Issue, Loc, SpecError, format_loc
from archspec.spec.layout import Layout, builtin_names, load_layout
from archspec.spec.models import (
    BLOCK_TYPES,
    BUILTIN_ATTENTION,
    STEM_TYPES,
    BlockAttention,
    Spec,
)
from archspec.spec.yamlsource import Source

# The params each use fills; the rest come from `args` (or attention fields) or defaults.
STAGE_SLOT = ("in_channels", "out_channels", "stride")
STEM_SLOT = ("in_channels", "out_channels")
HEAD_SLOT = ("in_channels", "num_classes")
# Filled in as well where a stage kind declares them: the block's index in its stage, and the
# stage's depth (VGG's max-pool closes a stage).
STAGE_EXTRAS = ("index", "depth")
ATTENTION_SLOT = ("channels",)

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
    issues += _drop_path_issues(source, spec)
    for name in spec.blocks:
        if name in (*BLOCK_TYPES, *STEM_TYPES, *BUILTIN_ATTENTION):
            loc = ("blocks", name)
            message = f"{name!r} is the name of a built-in kind"
            hint = f"choose another name, e.g. my_{name}"
            issues.append(source.issue(loc, format_loc(loc), message, hint, key=True))
    used: set[str] = set()
    for index, row in enumerate(spec.stages):
        attention = row.attention
        if isinstance(attention, BlockAttention):
            used.add(attention.type)
            where = remap(("stages", index, "attention"))
            locs = ((*where, "type"), where)
            issues += _use_issues(source, locs, attention.type, attention.args(), spec)
        if row.block not in BLOCK_TYPES:
            used.add(row.block)
            uses = (remap(("stages", index, "block")), remap(("stages", index, "args")))
            issues += _use_issues(source, uses, row.block, row.args, spec, STAGE_SLOT)
            issues += _slot_issues(source, remap, index, row, spec)
        if row.entry is not None:
            used.add(row.entry)
            where = remap(("stages", index, "entry"))
            issues += _use_issues(source, (where, where), row.entry, {}, spec, STAGE_SLOT)
    if spec.head is not None and spec.head.type != "classifier":
        used.add(spec.head.type)
        head_locs: tuple[Loc, Loc] = (("head", "type"), ("head", "args"))
        issues += _use_issues(source, head_locs, spec.head.type, spec.head.args, spec, HEAD_SLOT)
    if spec.tail is not None:
        used.add(spec.tail.type)
        tail_locs: tuple[Loc, Loc] = (("tail", "type"), ("tail", "args"))
        issues += _use_issues(source, tail_locs, spec.tail.type, spec.tail.args, spec, STEM_SLOT)
    if spec.stem.type not in STEM_TYPES:
        used.add(spec.stem.type)
        stem_locs: tuple[Loc, Loc] = (("stem", "type"), ("stem", "args"))
        issues += _use_issues(source, stem_locs, spec.stem.type, spec.stem.args, spec, STEM_SLOT)
    used = _reachable(used, kinds)
    for name in spec.blocks:
        if name not in used:
            loc = ("blocks", name)
            hint = "use it (as a stage `block`, stem `type` or attention type) or remove it"
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
        todo += [c.target for m in kinds[kind].constructs().values() for c in leaves(m)]
    return seen


def unknown_kind_issues(source: Source, remap: Remap, data: Any) -> list[Issue]:
    """A stage `block`, stem `type` or `attention: {type: <word>}` naming no built-in kind and
    no block definition. Read from the raw rows, so it is reported even when other fields fail
    validation."""
    stages = data.get("stages") if isinstance(data, dict) else None
    blocks = data.get("blocks") if isinstance(data, dict) else None
    own = set(blocks) if isinstance(blocks, dict) else set()
    issues = []
    uses: list[tuple[Loc, Any, tuple[str, ...], str]] = []
    for index, row in enumerate(stages if isinstance(stages, list) else []):
        attention = row.get("attention") if isinstance(row, dict) else None
        kind = attention.get("type") if isinstance(attention, dict) else None
        uses.append((("stages", index, "attention", "type"), kind, BUILTIN_ATTENTION, "type"))
        block = row.get("block") if isinstance(row, dict) else None
        uses.append((("stages", index, "block"), block, BLOCK_TYPES, "block kind"))
        entry = row.get("entry") if isinstance(row, dict) else None
        uses.append((("stages", index, "entry"), entry, (), "block kind"))
    stem = data.get("stem") if isinstance(data, dict) else None
    if isinstance(stem, dict):
        uses.append((("stem", "type"), stem.get("type"), STEM_TYPES, "stem type"))
    tail = data.get("tail") if isinstance(data, dict) else None
    if isinstance(tail, dict):
        uses.append((("tail", "type"), tail.get("type"), (), "tail type"))
    head = data.get("head") if isinstance(data, dict) else None
    if isinstance(head, dict):
        uses.append((("head", "type"), head.get("type"), ("classifier",), "head type"))
    slots = {
        "type": ATTENTION_SLOT,
        "block kind": STAGE_SLOT,
        "stem type": STEM_SLOT,
        "tail type": STEM_SLOT,
        "head type": HEAD_SLOT,
    }
    for loc, kind, builtin, what in uses:
        if not isinstance(kind, str) or kind in builtin or kind in own:
            continue  # the common case reads no definition file
        if kind in builtin_blocks():
            continue  # shipped: whether it fits the role is block_use_issues' finding
        # Shipped kinds that fit the role as they are (built-in kinds are listed already).
        shipped = [
            name
            for name, block in sorted(builtin_blocks().items())
            if name not in own
            and name not in builtin
            and all(param in block.params for param in slots[what])
            and all(
                p.default is not None
                or n in slots[what]
                or (what == "block kind" and n in STAGE_EXTRAS)
                for n, p in block.params.items()
            )
        ]
        kinds = [*builtin, *sorted(own), *shipped]
        if kind not in kinds:
            where = remap(loc)
            close = difflib.get_close_matches(kind, kinds, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            # Few shipped kinds are listed; many are named by where they are.
            listed = kinds if len(shipped) <= 4 else [*builtin, *sorted(own)]
            hint += "use one of " + ", ".join(map(repr, listed))
            if len(kinds) > len(listed):
                hint += ", a kind from archspec/stdlib/blocks/"
            hint += ", or `none`" if what == "type" else ", or define it under `blocks:`"
            message = f"unknown {what} {kind!r}"
            if what == "type":
                message += f" ({type(kind).__name__})"
            issues.append(source.issue(where, format_loc(where), message, hint))
    # A columnar scalar is every stage's: report it once.
    return list(dict.fromkeys(issues))


def _use_issues(
    source: Source,
    locs: tuple[Loc, Loc],
    kind: str,
    given: dict[str, Any],
    spec: Spec,
    slot: tuple[str, ...] = ATTENTION_SLOT,
) -> list[Issue]:
    """One use of kind `kind`: it has the params `slot` fills, and `given` sets only its other
    params, with values of their type, and every one without a default. `locs`: the kind's
    field, and the mapping holding `given`."""
    block = find_block(kind, spec.blocks)
    if block is None:
        return []  # reported by unknown_kind_issues
    kind_loc, args_loc = locs
    missing = [name for name in slot if name not in block.params]
    if missing:
        roles = {STAGE_SLOT: "a stage block", STEM_SLOT: "a stem", HEAD_SLOT: "a head"}
        role = roles.get(slot, "an attention")
        message = (
            f"{kind!r} cannot be {role}: {role} kind has params {', '.join(slot)}, "
            f"and it lacks {', '.join(missing)}"
        )
        hint = f"add {', '.join(missing)} under the definition's params, or use another kind"
        return [source.issue(kind_loc, format_loc(kind_loc), message, hint)]
    filled = (*slot, *STAGE_EXTRAS) if slot == STAGE_SLOT else slot
    settable = [name for name in block.params if name not in filled]
    issues = [
        issue
        for key, value in given.items()
        if (issue := _arg_issue(source, (*args_loc, key), block, settable, value, filled))
    ]
    needed = [n for n in settable if block.params[n].default is None and n not in given]
    if needed:
        word = "args" if slot != ATTENTION_SLOT else "fields"
        message = f"{kind!r} needs {', '.join(needed)}"
        hint = f"give {needed[0]}: <value> in the {word}"
        issues.append(source.issue(args_loc, format_loc(args_loc), message, hint))
    return issues


def _drop_path_issues(source: Source, spec: Spec) -> list[Issue]:
    """`drop_path_rate` acts only through stage kinds with a `drop_prob` param."""
    if not spec.drop_path_rate:
        return []
    for row in spec.stages:
        block = find_block(row.block, spec.blocks) if row.block not in BLOCK_TYPES else None
        if block is not None and "drop_prob" in block.params:
            return []
    message = "no stage kind here has a `drop_prob` param for the rate to set"
    hint = "use a kind with stochastic depth (e.g. mbconv), or remove drop_path_rate"
    return [source.issue(("drop_path_rate",), "drop_path_rate", message, hint)]


def _slot_issues(source: Source, remap: Remap, index: int, row: Any, spec: Spec) -> list[Issue]:
    """`attention` and `downsample` fill a stage kind's slots: refused where it has none."""
    block = find_block(row.block, spec.blocks)
    if block is None:
        return []
    roles = set(block.slots().values())
    issues = []
    for field, given in (
        ("attention", row.attention is not None),
        ("downsample", "downsample" in row.model_fields_set and row.downsample != "conv"),
    ):
        if given and field not in roles:
            loc = remap(("stages", index, field))
            message = f"{row.block!r} has no {field} slot to put it in"
            hint = f"add a member `{{slot: {field}}}` to {row.block!r}, or remove `{field}`"
            issues.append(source.issue(loc, format_loc(loc), message, hint))
    return issues


def _arg_issue(
    source: Source,
    where: Loc,
    block: BlockDef,
    settable: list[str],
    value: Any,
    slot: tuple[str, ...],
) -> Issue | None:
    key = str(where[-1])
    if key not in settable:
        hint = did_you_mean(key, settable) if settable else "the kind takes no other params"
        if key in slot:
            hint = f"{key} is filled in by the {'stage' if 'stride' in slot else 'network'}"
        return source.issue(where, format_loc(where), f"unknown field {key!r}", hint, key=True)
    kind = block.params[key].type
    if not fits(kind, value):
        message = {"bool": "must be true or false", "int": "must be a whole number"}.get(
            kind, "must be a number"
        )
        return source.issue(where, format_loc(where), message, "")
    return None


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


def resolve_layout(source: Source, spec: Spec) -> tuple[Spec, list[Issue]]:
    """A `layout:` file read (relative to the spec, inside its tree), or a built-in name
    checked."""
    entry = spec.layout
    if not isinstance(entry, str):
        return spec, []
    loc = ("layout",)
    names = builtin_names()
    if not entry.endswith((".yaml", ".yml")):
        if entry in names:
            return spec, []
        hint = did_you_mean(entry, names) + " (or a .yaml layout file beside the spec)"
        return spec, [source.issue(loc, "layout", f"unknown layout {entry!r}", hint)]
    try:
        layout: Layout = load_layout(_inside(source.file, entry))
    except ValueError as exc:
        return spec, [source.issue(loc, "layout", str(exc), _PATH_HINT)]
    except SpecError as exc:
        return spec, list(exc.issues)
    return spec.model_copy(update={"layout": layout}), []


def _inside(spec_file: str, entry: str) -> Path:
    if spec_file.startswith("<"):
        raise ValueError("a spec given as text cannot read block files")
    root = Path(spec_file).resolve().parent
    target = (root / entry).resolve()
    if ".." in Path(entry).parts or not target.is_relative_to(root):
        raise ValueError(f"{entry!r} is outside the spec's directory tree")
    return target
