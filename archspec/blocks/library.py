"""Block definitions from files: the standard library (archspec/stdlib/blocks/*.yaml) and a
spec's own `blocks:`. Errors are located in the file they come from."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pydantic
import yaml

from archspec.blocks.definition import (
    BlockDef,
    BlockProblem,
    block_cycle,
    check_block,
    did_you_mean,
)
from archspec.errors import Issue, Loc, SpecError, format_loc
from archspec.spec.yamlsource import Source, YamlError, load_yaml

# A definition is a screen of YAML; anything much bigger is not one.
MAX_BLOCK_BYTES = 20_000


def stdlib_dir() -> Path:
    # Package data beside the modules, in a checkout and in the wheel alike.
    return Path(__file__).resolve().parent.parent / "stdlib" / "blocks"


class _Stdlib(Mapping[str, BlockDef]):
    """The shipped definitions by kind name (the file's stem), each read and checked the first
    time it is asked for: a network loads only the kinds it uses (start-up time)."""

    def __init__(self) -> None:
        self._paths = {path.stem: path for path in sorted(stdlib_dir().glob("*.yaml"))}
        self._loaded: dict[str, BlockDef] = {}

    def __getitem__(self, name: str) -> BlockDef:
        block = self._loaded.get(name)
        if block is None:
            block = _read_shipped(self._paths[name])
            # Set before checking: the kinds it builds are loaded (and checked) through this
            # mapping, and a cycle back to it is then found, not followed.
            self._loaded[name] = block
            try:
                check_block(block, self)
                problem = block_cycle(name, self) is not None
            except BlockProblem:
                problem = True
            if problem:  # a broken shipped file: the located error, from the slow path
                del self._loaded[name]
                located, source = _read_block(self._paths[name])
                issue = block_problem(source, (), located, {**self._loaded, name: located}, name)
                raise SpecError([issue] if issue else [])
        return block

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, name: object) -> bool:
        return name in self._paths


@functools.cache
def builtin_blocks() -> Mapping[str, BlockDef]:
    """The standard library (archspec/stdlib/blocks/*.yaml), loaded kind by kind on use."""
    return _Stdlib()


def find_block(name: str, own: Mapping[str, BlockDef | str]) -> BlockDef | None:
    """A spec's own definition of `name` (file references are resolved on load), else the
    shipped one."""
    block = own.get(name)
    return block if isinstance(block, BlockDef) else builtin_blocks().get(name)


def unknown_block_hint(name: str, own: Mapping[str, BlockDef | str]) -> str:
    kinds = sorted({*own, *builtin_blocks(), "se", "sk", "split"})
    return did_you_mean(name, kinds) + " (or define it under `blocks:`)"


def load_block(path: str | Path, library: Mapping[str, BlockDef], name: str) -> BlockDef:
    """Read and validate one definition file of kind `name`, whose members may build the
    blocks in `library`; raise SpecError with located issues."""
    block, source = _read_block(path)
    problem = block_problem(source, (), block, {**library, name: block}, name)
    if problem is not None:
        raise SpecError([problem])
    return block


def _read_shipped(path: Path) -> BlockDef:
    """A shipped definition, parsed by libyaml without positions (start-up time); a file that
    does not validate is read again with positions, for a located error."""
    try:
        return BlockDef.model_validate(yaml.load(path.read_bytes(), Loader=_FAST_LOADER))
    except (yaml.YAMLError, pydantic.ValidationError):
        return _read_block(path)[0]


_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_block(path: str | Path) -> tuple[BlockDef, Source]:
    file = str(path)
    try:
        if not Path(path).is_file():
            message = "is not a regular file"
            raise SpecError([Issue(file, None, "", message, "name a .yaml block definition")])
        raw = Path(path).read_bytes()[: MAX_BLOCK_BYTES + 1]
    except OSError as exc:
        issue = Issue(file, None, "", f"cannot read: {exc.strerror}", "check the path")
        raise SpecError([issue]) from None
    if len(raw) > MAX_BLOCK_BYTES:
        message = f"is over {MAX_BLOCK_BYTES} bytes"
        raise SpecError([Issue(file, None, "", message, "a block definition is one screen")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError([Issue(file, None, "", "is not UTF-8", "save it as UTF-8")]) from None
    return parse_block(text, file)


def parse_block(text: str, file: str = "<string>") -> tuple[BlockDef, Source]:
    """A definition that validates field by field (check it with block_problem)."""
    try:
        source = load_yaml(text, file)
    except YamlError as exc:
        raise SpecError([exc.issue]) from None
    try:
        return BlockDef.model_validate(source.data), source
    except pydantic.ValidationError as exc:
        raise SpecError([block_issue(source, (), err) for err in exc.errors()]) from None


def block_problem(
    source: Source, prefix: Loc, block: BlockDef, library: Mapping[str, BlockDef], name: str
) -> Issue | None:
    """The first way definition `name` does not hang together with `library` (the kinds it
    may build; it is one of them), located in `source`."""
    hint = "see archspec/stdlib/blocks/ and the README section 'Writing your own block'"
    try:
        check_block(block, library)
    except BlockProblem as exc:
        loc = (*prefix, *exc.loc)
        return source.issue(loc, format_loc(loc), exc.message, hint)
    cycle = block_cycle(name, library)
    if cycle is not None:
        kind, member = cycle
        where = f"through member {member!r} of {kind!r}" if kind != name else "directly"
        loc = (*prefix, "members", member) if kind == name else (*prefix,)
        message = f"builds itself {where}: blocks may not be recursive"
        return source.issue(loc, format_loc(loc) or "block", message, hint)
    return None


def block_issue(source: Source, prefix: Loc, err: Any) -> Issue:
    """One pydantic error of a definition at `prefix` (() for a file, ("blocks", name) inline)."""
    loc: Loc = _untagged((*prefix, *err["loc"]))
    if err["type"] == "extra_forbidden":
        allowed = list(BlockDef.model_fields) if len(err["loc"]) == 1 else []
        hint = did_you_mean(str(loc[-1]), allowed) if allowed else "remove it"
        return source.issue(loc, format_loc(loc), f"unknown field {loc[-1]!r}", hint, key=True)
    if err["type"] == "missing":
        return source.issue(loc, format_loc(loc), "missing required field", f"add `{loc[-1]}:`")
    message = str(err["msg"]).removeprefix("Value error, ")
    hint = "see archspec/stdlib/blocks/ and the README section 'Writing your own block'"
    return source.issue(loc, format_loc(loc) or "block", message, hint)


def _untagged(loc: Loc) -> Loc:
    """Without the union tags pydantic puts after a member's name ('body', 'optional',
    'slot')."""
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (i >= 2 and loc[i - 2] == "members" and part in ("body", "optional", "slot"))
    )
