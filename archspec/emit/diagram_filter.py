"""`--stages`: draw only some stages of a diagram.

`3..4`, `2` and `1,3` name stages by number, as the stats tables do (stage1 is the first stage
after the stem). What enters the kept stages from a dropped one comes from an ellipse named
after its source ("from stage2"), and what leaves goes to one named after its destination
("to head"), each edge with its tensor shape.
"""

from __future__ import annotations

import re
from dataclasses import replace

from archspec.emit.diagram_model import Diagram, Link, Unit, clusters_of
from archspec.errors import ArchspecError
from archspec.ir.graph import ArchGraph

_PART = re.compile(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?")


class StagesError(ArchspecError):
    """A --stages value that names no stage; the message says what is wrong and the fix."""


def stage_keys(arch: ArchGraph, text: str) -> frozenset[str]:
    """The stage keys ("stage3", ...) that `text` selects, or StagesError."""
    count = sum(info.key.startswith("stage") for info in arch.stages)
    chosen: set[int] = set()
    for part in text.split(","):
        match = _PART.fullmatch(part)
        if not match:
            raise _error(text, f"cannot read {part.strip()!r}", "write e.g. 3..4, 2 or 1,3")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first > last:
            raise _error(text, f"{first}..{last} is an empty range", f"write {last}..{first}")
        chosen.update(range(first, last + 1))
    outside = sorted(n for n in chosen if not 1 <= n <= count)
    if outside:
        raise _error(
            text,
            f"{arch.name} has no stage {outside[0]}",
            f"use stage numbers 1..{count}",
        )
    return frozenset(f"stage{n}" for n in chosen)


def _error(text: str, what: str, fix: str) -> StagesError:
    return StagesError(f"error: --stages {text}: {what}\n  fix: {fix}")


def keep_stages(diagram: Diagram, keys: frozenset[str]) -> Diagram:
    """The diagram with only the units of these stages, plus entry and exit ellipses."""
    kept = {key: unit for key, unit in diagram.units.items() if unit.stage in keys}
    ends: dict[str, str] = {}
    links: list[Link] = []
    for link in diagram.links:
        tail_in, head_in = link.tail in kept, link.head in kept
        if tail_in and (head_in or diagram.units[link.head].role == "output"):
            links.append(link)
            if not head_in:
                kept[link.head] = diagram.units[link.head]
        elif head_in:
            links.append(replace(link, tail=_end(diagram, ends, kept, link.tail, "from")))
        elif tail_in:
            links.append(replace(link, head=_end(diagram, ends, kept, link.head, "to")))
    same_rank = [row for row in diagram.same_rank if all(key in kept for key in row)]
    return replace(
        diagram,
        units=kept,
        links=_unique(links),
        clusters=clusters_of(kept),
        same_rank=same_rank,
    )


def _end(diagram: Diagram, ends: dict[str, str], kept: dict[str, Unit], unit: str, way: str) -> str:
    """The ellipse standing for a dropped unit: its stage's entry (the first one is "input",
    which the legend sits beside) or exit."""
    if diagram.units[unit].role == "input":
        kept[unit] = diagram.units[unit]
        return unit
    stage = diagram.units[unit].stage
    name = f"{way} {stage}"
    if name not in ends:
        key = "input" if way == "from" and "input" not in kept else f"{way}:{stage}"
        role = "input" if way == "from" else "output"
        kept[key] = Unit(key, role, list(diagram.units[unit].nodes[-1:]), name=name)
        ends[name] = key
    return ends[name]


def _unique(links: list[Link]) -> list[Link]:
    """One edge per (tail, head): two dropped units of a stage share their ellipse."""
    seen: dict[tuple[str, str], Link] = {}
    for link in links:
        known = seen.setdefault((link.tail, link.head), link)
        if known.skip and not link.skip:
            seen[(link.tail, link.head)] = link
    return list(seen.values())
