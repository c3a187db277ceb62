"""YAML text -> plain data plus a table of where every key and value stands.

Built on PyYAML's composer so that nothing but plain YAML types can come out: tags that construct
Python objects are refused, duplicate keys are errors, and alias expansion is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archspec.errors import Issue, Loc, Position

# Nodes as composed and as expanded through aliases; the zoo's largest spec has about 60.
MAX_NODES = 10_000
MAX_DEPTH = 64
_DEEP_HINT = "a spec nests at most a few levels"
_BIG_HINT = "a spec holds a few hundred values: remove long lists or aliases that expand"

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass
class Source:
    """A loaded YAML document: its data and the position of every key and value."""

    file: str
    text: str
    data: Any = None
    values: dict[Loc, Position] = field(default_factory=dict)
    keys: dict[Loc, Position] = field(default_factory=dict)

    def position(self, loc: Loc, *, key: bool = False) -> Position | None:
        """Position of the value (or key) at loc, else of the nearest enclosing value."""
        table = self.keys if key else self.values
        if loc in table:
            return table[loc]
        for end in range(len(loc) - 1, -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return None

    def line(self, position: Position | None) -> str:
        if position is None:
            return ""
        lines = self.text.splitlines()
        return lines[position.line - 1] if 0 < position.line <= len(lines) else ""

    def issue(
        self, loc: Loc, field_name: str, message: str, hint: str = "", *, key: bool = False
    ) -> Issue:
        where = self.position(loc, key=key)
        return Issue(self.file, where, field_name, message, hint, self.line(where))


class YamlError(Exception):
    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.render())
        self.issue = issue


def _pos(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    def __init__(self, source: Source, loader: yaml.SafeLoader) -> None:
        self.source = source
        self.loader = loader
        self.count = 0

    def fail(self, node: Node, message: str, hint: str) -> YamlError:
        where = _pos(node)
        return YamlError(Issue(self.source.file, where, "", message, hint, self.source.line(where)))

    def walk(self, node: Node, loc: Loc) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                f"the document has more than {MAX_NODES:,} YAML nodes",
                _BIG_HINT,
            )
        if len(loc) > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels", _DEEP_HINT)
        self.source.values[loc] = _pos(node)
        if isinstance(node, MappingNode):
            return self.mapping(node, loc)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                raise self._tag_error(node)
            return [self.walk(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            raise self._tag_error(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                raise self.fail(
                    key_node,
                    "mapping keys must be plain names",
                    "write the key as a word, e.g. `depth:`",
                )
            if key in out:
                first = self.source.keys[(*loc, key)]
                raise self.fail(
                    key_node,
                    f"duplicate key {key!r} (first at line {first.line})",
                    "keep one of the two entries",
                )
            self.source.keys[(*loc, key)] = _pos(key_node)
            out[key] = self.walk(value_node, (*loc, key))
        return out

    def scalar(self, node: Node) -> Any:
        if node.tag not in _PLAIN_TAGS:
            raise self._tag_error(node)
        try:
            return self.loader.construct_object(node)
        except ValueError:  # e.g. an int of more digits than Python converts
            raise self.fail(
                node, "this number is too long to read", "write a number of a few digits"
            ) from None

    def _tag_error(self, node: Node) -> YamlError:
        return self.fail(
            node,
            f"YAML tag {node.tag!r} is not allowed",
            "specs hold plain YAML: mappings, lists, strings, numbers, booleans",
        )


class _Loader(yaml.SafeLoader):
    """SafeLoader whose (recursive) composer refuses to nest deeper than MAX_DEPTH.

    PyYAML composes nested collections recursively, so `[[[[...]]]]` a few thousand levels deep
    would exhaust Python's stack before the walker could count the levels.
    """

    def __init__(self, source: Source) -> None:
        super().__init__(source.text)
        self.source = source
        self.depth = 0
        self.count = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.depth += 1
        self.count += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", _DEEP_HINT)
            if self.count > MAX_NODES:
                raise self.fail(f"the document has more than {MAX_NODES:,} YAML nodes", _BIG_HINT)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def fail(self, message: str, hint: str) -> YamlError:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        where = Position(mark.line + 1, mark.column + 1)
        return YamlError(Issue(self.source.file, where, "", message, hint, self.source.line(where)))


def load_yaml(text: str, file: str) -> Source:
    """Parse YAML text into a Source; raise YamlError with a located Issue on failure."""
    source = Source(file, text)
    try:
        loader = _Loader(source)
    except yaml.reader.ReaderError as exc:
        raise YamlError(_reader_issue(source, exc)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlError(
                Issue(
                    file,
                    Position(1, 1),
                    "",
                    "the file is empty",
                    "start from a spec in specs/, e.g. specs/resnet50.yaml",
                )
            )
        source.data = _Walker(source, loader).walk(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(mark.line + 1, mark.column + 1) if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        if _is_tab_problem(problem, source.line(where)):
            raise YamlError(
                Issue(
                    file,
                    where,
                    "",
                    "YAML indentation must use spaces, not tabs",
                    "replace the tab characters at the start of this line with spaces",
                    source.line(where),
                )
            ) from None
        if exc.context and exc.context_mark and exc.problem:
            started = exc.context_mark
            problem += f" ({exc.context} started at {started.line + 1}:{started.column + 1})"
        raise YamlError(
            Issue(
                file,
                where,
                "",
                f"invalid YAML: {problem}",
                "check indentation, colons and brackets near this place",
                source.line(where),
            )
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError(
            Issue(file, None, "", f"invalid YAML: {exc}", "save the spec as plain UTF-8 YAML text")
        ) from None
    finally:
        loader.dispose()
    return source


def _is_tab_problem(problem: str, line: str) -> bool:
    """PyYAML reports a tab in indentation as a character that cannot start a token."""
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return "\t" in indent and ("'\\t'" in problem or "tab" in problem)


def _reader_issue(source: Source, exc: yaml.reader.ReaderError) -> Issue:
    """A character YAML does not allow (NUL, most control characters), located."""
    lines = source.text[: exc.position].splitlines(keepends=True) or [""]
    ends_line = lines[-1].splitlines() != [lines[-1]]
    line, col = (len(lines) + 1, 1) if ends_line else (len(lines), len(lines[-1]) + 1)
    where = Position(line, col)
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return Issue(
        source.file,
        where,
        "",
        f"invalid YAML: character U+{code:04X} is not allowed in YAML text",
        "remove it (control characters other than tab and newline cannot appear in a spec)",
        source.line(where),
    )
