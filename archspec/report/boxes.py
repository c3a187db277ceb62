"""The boxes of the report's diagram: their text lines, their size, and the tooltip they carry.

The diagram is set in a monospace font, so a line's width is its length times the font's
advance (0.6 em in every common monospace face): boxes are sized here, exactly, without a
browser. Coordinates are relative to a box's top centre, the axis the diagram stacks along.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from archspec.emit.diagram_text import human, shape_text
from archspec.ir.ops import Shape

ADVANCE = 0.6  # em; the advance of DejaVu Sans Mono, Menlo, Consolas, SF Mono
PAD_X = 8.0
PAD_Y = 5.0
# Text classes: font size (px) and line height (px); the CSS sets the same sizes.
FONTS = {
    "title": (12.0, 16.0),
    "row": (11.0, 14.0),
    "kind": (11.0, 14.0),
    "branch": (11.0, 14.0),
    "foot": (10.0, 14.0),
}
MIN_WIDTH = 96.0
CIRCLE = 24.0
HINT_ROOM = 14.0


@dataclass(frozen=True)
class Facts:
    """What the tooltip of a box says about the ops it stands for."""

    name: str
    what: str
    shape_in: Shape | None
    shape_out: Shape
    params: int
    macs: int
    rf: int | None
    stride: int | None

    def tip(self) -> str:
        lines = [f"{self.name}: {self.what}" if self.what else self.name]
        shapes = f"out {shape_text(self.shape_out)}"
        if self.shape_in is not None:
            shapes = f"in {shape_text(self.shape_in)} -> {shapes}"
        lines.append(shapes)
        lines.append(f"params {self.params:,} | MACs {self.macs:,}")
        if self.rf is not None:
            lines.append(f"receptive field {self.rf} px, stride {self.stride}")
        else:
            lines.append("receptive field: global")
        return "\n".join(lines)

    def footer(self) -> str:
        """The box's last line: output shape and counts, short."""
        parts = [shape_text(self.shape_out)]
        if self.params:
            parts.append(f"{human(self.params)} params")
        if self.macs:
            parts.append(f"{human(self.macs)} MACs")
        return " | ".join(parts)


@dataclass(frozen=True)
class Line:
    x: float
    y: float  # baseline
    cls: str
    text: str


@dataclass(frozen=True)
class Box:
    """A drawn box: its extent around the top centre, its colour key, lines and tooltip."""

    width: float
    height: float
    colour: str
    lines: tuple[Line, ...]
    tip: str
    circle: bool = False
    dashed: bool = False
    branch: bool = False  # an attention branch's op (SE, SK, split): outlined in its colour

    @property
    def left(self) -> float:
        return -self.width / 2

    @property
    def right(self) -> float:
        return self.width / 2

    @property
    def radius(self) -> float:
        return self.width / 2

    @property
    def middle(self) -> float:
        return self.height / 2

    @property
    def hint_x(self) -> float:
        """Where the +/- sign of an expandable box sits: in its top right corner."""
        return self.width / 2 - 10


def text_width(text: str, cls: str) -> float:
    return len(text) * FONTS[cls][0] * ADVANCE


def box(
    texts: list[tuple[str, str]],
    colour: str,
    tip: str,
    *,
    dashed: bool = False,
    branch: bool = False,
    hint: bool = False,
) -> Box:
    """A box holding (class, text) lines, left-aligned, sized to the longest; with `hint`, its
    first line leaves room for the +/- sign in the corner."""
    widths = [text_width(text, cls) + 2 * PAD_X for cls, text in texts]
    if hint:
        widths[0] += HINT_ROOM
    width = max(MIN_WIDTH, *widths)
    lines, y = [], PAD_Y
    for cls, text in texts:
        size, height = FONTS[cls]
        # The baseline sits about a fifth of the line height above the line's bottom.
        lines.append(Line(-width / 2 + PAD_X, y + height - (height - size) / 2 - 2, cls, text))
        y += height
    return Box(width, y + PAD_Y, colour, tuple(lines), tip, dashed=dashed, branch=branch)


def widened(shown: Box, width: float) -> Box:
    """The same box at least `width` wide, its lines moved to stay at its left edge."""
    if shown.circle or width <= shown.width:
        return shown
    shift = (shown.width - width) / 2
    lines = tuple(replace(line, x=line.x + shift) for line in shown.lines)
    return replace(shown, width=width, lines=lines)


def circle(symbol: str, colour: str, tip: str) -> Box:
    """A merge (add, gate) drawn as a circle with its operator, as the Graphviz diagrams do."""
    line = Line(0.0, CIRCLE / 2 + 5, "symbol", symbol)
    return Box(CIRCLE, CIRCLE, colour, (line,), tip, circle=True)
