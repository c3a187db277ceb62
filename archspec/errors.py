"""User-facing errors as values: each issue knows where it is, what is wrong and how to fix it.

Errors are collected while loading and checking a spec and rendered once, by the CLI.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

# A field path as it appears in the YAML document: ("stages", "width", 2).
Loc = tuple[str | int, ...]

MAX_LISTED = 10
# A quoted source line longer than this is cut to a window of EXCERPT characters around the caret.
MAX_LINE = 120
EXCERPT = 100


@dataclass(frozen=True)
class Position:
    """1-based line and column in a source file."""

    line: int
    col: int


@dataclass(frozen=True)
class Issue:
    """One problem in the user's input."""

    file: str
    position: Position | None
    field: str
    message: str
    hint: str = ""
    source_line: str = ""

    def render(self) -> str:
        where = printable(self.file)
        if self.position is not None:
            where = f"{where}:{self.position.line}:{self.position.col}"
        head = (
            f"{where}: error: {self.field}: {self.message}"
            if self.field
            else (f"{where}: error: {self.message}")
        )
        lines = [head]
        if self.source_line and self.position is not None:
            shown, caret = excerpt(printable(self.source_line), self.position.col - 1)
            lines.append(f"    {shown}")
            lines.append("    " + " " * caret + "^")
        if self.hint:
            lines.append(f"  fix: {self.hint}")
        return "\n".join(lines)


def printable(text: str) -> str:
    """Text safe to echo to a terminal: each control, format or separator character (escape
    sequences, bidi overrides, line separators) becomes one `?`, so columns still line up."""
    return "".join(
        " " if ch == "\t" else "?" if unicodedata.category(ch) in _UNPRINTABLE else ch
        for ch in text
    )


_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def excerpt(line: str, offset: int) -> tuple[str, int]:
    """A long source line cut to a window around `offset`; returns it and the caret's offset."""
    if len(line) <= MAX_LINE:
        return line, offset
    start = max(0, min(offset - EXCERPT // 2, len(line) - EXCERPT))
    shown = line[start : start + EXCERPT]
    caret = offset - start
    if start > 0:
        shown, caret = "..." + shown, caret + 3
    if start + EXCERPT < len(line):
        shown += "..."
    return shown, caret


class ArchspecError(Exception):
    """Base class of every error archspec raises on purpose."""


@dataclass
class SpecError(ArchspecError):
    """A spec could not be loaded: one or more located issues."""

    issues: Sequence[Issue] = field(default_factory=list)

    def __str__(self) -> str:
        return render_issues(self.issues)


class OutputError(ArchspecError):
    """An output file could not be written: `PATH: error: what happened` and how to fix it."""

    def __init__(self, path: str, message: str, hint: str = "") -> None:
        super().__init__(path, message, hint)
        self.issue = Issue(path, None, "", message, hint)

    def __str__(self) -> str:
        return self.issue.render()


def render_issues(issues: Sequence[Issue]) -> str:
    shown = [issue.render() for issue in issues[:MAX_LISTED]]
    if len(issues) > MAX_LISTED:
        shown.append(f"... and {len(issues) - MAX_LISTED} more")
    return "\n".join(shown)


def format_loc(loc: Loc) -> str:
    """("stages", "width", 2) -> "stages.width[2]"."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
