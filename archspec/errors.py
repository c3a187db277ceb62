"""User-facing errors as values: each issue knows where it is, what is wrong and how to fix it.

Errors are collected while loading and checking a spec and rendered once, by the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# A field path as it appears in the YAML document: ("stages", "width", 2).
Loc = tuple[str | int, ...]

MAX_LISTED = 10


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
        where = self.file
        if self.position is not None:
            where = f"{self.file}:{self.position.line}:{self.position.col}"
        head = (
            f"{where}: error: {self.field}: {self.message}"
            if self.field
            else (f"{where}: error: {self.message}")
        )
        lines = [head]
        if self.source_line and self.position is not None:
            lines.append(f"    {self.source_line}")
            lines.append("    " + " " * (self.position.col - 1) + "^")
        if self.hint:
            lines.append(f"  fix: {self.hint}")
        return "\n".join(lines)


class ArchspecError(Exception):
    """Base class of every error archspec raises on purpose."""


@dataclass
class SpecError(ArchspecError):
    """A spec could not be loaded: one or more located issues."""

    issues: Sequence[Issue] = field(default_factory=list)

    def __str__(self) -> str:
        return render_issues(self.issues)


class OutputError(ArchspecError):
    """An output file could not be written."""


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
