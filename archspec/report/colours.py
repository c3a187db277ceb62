"""The report's box colours: the Graphviz diagrams' palette, and a dark variant of each.

Dark-scheme fills are the light fill mixed into the dark page background, so each op kind
keeps its hue and the text on it stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.emit.diagram_text import PALETTE

DARK_BACKGROUND = "#1c2128"
DARK_SHARE = 0.3  # how much of the light fill shows in the dark variant
IO_LIGHT, IO_DARK = "#ffffff", "#2d333b"


@dataclass(frozen=True)
class Swatch:
    key: str
    light: str
    dark: str
    legend: str


def _mix(colour: str, background: str, share: float) -> str:
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(background[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(
        f"{round(x * share + y * (1 - share)):02x}" for x, y in zip(a, b, strict=True)
    )


def swatches() -> list[Swatch]:
    out = [
        Swatch(key, fill, _mix(fill, DARK_BACKGROUND, DARK_SHARE), legend)
        for key, (fill, legend) in PALETTE.items()
    ]
    return [*out, Swatch("io", IO_LIGHT, IO_DARK, "input / output")]
