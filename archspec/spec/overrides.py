"""`--set key=value` overrides, applied to a spec's YAML data before it is validated.

A key is a dotted path into the spec as written: `input`, `head.num_classes`, `stem.width`.
A number selects a list entry, so a columnar table takes `stages.depth.2` and a table of rows
`stages.2.depth`. The value is YAML (`[3,320,320]`, `{type: se}`, `none`), read by the same
loader as spec files, so the same limits apply. Later overrides win.

Any error in an overridden value is reported at the `--set` argument, not in the spec file:
the returned source maps issues under an overridden path to that argument.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from archspec.errors import Issue, Loc, SpecError, format_loc
from archspec.spec.yamlsource import Source, YamlError, load_yaml

MAX_OVERRIDE_CHARS = 1000
MAX_SHOWN = 80
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|0|[1-9][0-9]{0,5}")
_EXAMPLE = "write KEY=VALUE, e.g. --set head.num_classes=10 or --set 'input=[3,320,320]'"


@dataclass(frozen=True)
class Override:
    """One `--set` argument: where it points and the value it puts there."""

    text: str
    path: Loc
    value: Any

    @property
    def where(self) -> str:
        return argument(self.text)

    def issue(self, field_name: str, message: str, hint: str = "") -> Issue:
        return Issue(self.where, None, field_name, message, hint)


@dataclass
class OverriddenSource(Source):
    """A spec's source with overrides applied; issues under an overridden path name the `--set`."""

    overrides: tuple[Override, ...] = ()

    def issue(
        self, loc: Loc, field_name: str, message: str, hint: str = "", *, key: bool = False
    ) -> Issue:
        override = self.covering(loc)
        if override is None:
            return super().issue(loc, field_name, message, hint, key=key)
        return override.issue(field_name, message, hint)

    def covering(self, loc: Loc) -> Override | None:
        """The last override whose path is `loc` or encloses it, or else that created `loc`
        (`--set foo.bar=1` makes a mapping `foo` that the spec did not have)."""
        for override in reversed(self.overrides):
            if loc[: len(override.path)] == override.path:
                return override
        for override in reversed(self.overrides):
            if override.path[: len(loc)] == loc and loc not in self.values:
                return override
        return None


def parse_overrides(texts: Sequence[str]) -> tuple[list[Override], list[Issue]]:
    """Parse every `--set` argument: the good ones, and an issue for each bad one."""
    parsed: list[Override] = []
    issues: list[Issue] = []
    for text in texts:
        try:
            parsed.append(parse_override(text))
        except SpecError as exc:
            issues += exc.issues
    return parsed, issues


def argument(text: str) -> str:
    """How errors name a `--set` argument: as given, cut short if it is long."""
    shown = text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
    return f"--set {shown}"


def parse_override(text: str) -> Override:
    where = argument(text)
    if len(text) > MAX_OVERRIDE_CHARS:
        raise _error(where, f"is {len(text):,} characters long", "put long values in the spec")
    key, equals, value_text = text.partition("=")
    if not equals:
        raise _error(where, "expected KEY=VALUE", _EXAMPLE)
    path = _path(key.strip(), where)
    if not value_text.strip():
        raise _error(where, f"no value after `{key}=`", _EXAMPLE)
    try:
        value = load_yaml(value_text, where).data
    except YamlError as exc:
        raise _error(where, f"the value is not YAML: {exc.issue.message}", _EXAMPLE) from None
    return Override(text, path, value)


def _path(key: str, where: str) -> Loc:
    parts = key.split(".")
    if not key or not all(_KEY.fullmatch(part) for part in parts):
        raise _error(
            where,
            f"{key!r} is not a field path",
            "use field names and list indices joined by dots, e.g. head.num_classes "
            "or stages.depth.2",
        )
    return tuple(int(part) if part.isdigit() else part for part in parts)


def _error(where: str, message: str, hint: str) -> SpecError:
    return SpecError([Issue(where, None, "", message, hint)])


def apply_overrides(source: Source, texts: Sequence[str]) -> Source:
    """A copy of `source` with every override applied to its data (the spec file is untouched)."""
    if not texts:
        return source
    parsed, issues = parse_overrides(texts)
    overrides = tuple(parsed)
    data = copy.deepcopy(source.data)
    for override in overrides:
        problem = _set(data, override)
        if problem is not None:
            issues.append(problem)
    if issues:
        raise SpecError(issues)
    return OverriddenSource(
        source.file, source.text, data, source.values, source.keys, overrides=overrides
    )


def _set(data: Any, override: Override) -> Issue | None:
    """Put the value at the override's path; an Issue if the path does not lead anywhere."""
    node, path = data, override.path
    for depth, part in enumerate(path):
        here = format_loc(path[: depth + 1])
        last = depth == len(path) - 1
        if isinstance(part, int):
            problem = _index_problem(node, part, path[:depth], here)
            if problem is not None:
                return override.issue(here, *problem)
            if last:
                node[part] = override.value
            node = node[part]
            continue
        if not isinstance(node, dict):
            return override.issue(here, *_not_a_mapping(node, path[:depth]))
        if last:
            node[part] = override.value
        else:
            node = node.setdefault(part, {})
    return None


def _index_problem(node: Any, index: int, parent: Loc, here: str) -> tuple[str, str] | None:
    if isinstance(node, list):
        if index < len(node):
            return None
        return (
            f"index {index} is out of range: the list has {len(node)} entries",
            f"use an index from 0 to {len(node) - 1}" if node else "set the whole list",
        )
    if isinstance(node, dict) and parent == ("stages",):
        return (
            "the stage table is columnar (one list per field)",
            f"put the field first: stages.FIELD.{index}, e.g. stages.depth.{index}=8",
        )
    return f"{format_loc(parent) or 'the spec'} is not a list", "use a field name here"


def _not_a_mapping(node: Any, parent: Loc) -> tuple[str, str]:
    shown = format_loc(parent)
    if isinstance(node, list) and parent == ("stages",):
        return (
            "the stage table is a list of rows",
            "put the row index first: stages.INDEX.FIELD, e.g. stages.2.depth=8",
        )
    if isinstance(node, list):
        return f"{shown} is a list", f"select an entry by its index, e.g. {shown}.0"
    return (
        f"{shown} is {node!r} in the spec, not a mapping of fields",
        f"set {shown} as a whole, e.g. --set '{shown}={{...}}'",
    )
