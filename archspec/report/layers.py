"""Lay out a handful of ops (one block, or the stem) as a small layered drawing.

Each op gets a rank (longest path from the group's input) and a lane: it stays in its first
input's lane when that lane is free at its rank, else takes the next lane to the right. Lane 0
is centred on the diagram's axis, so the main path of the whole network runs down one line
and projection shortcuts or attention paths sit beside it. Edges between neighbouring ranks
are straight; longer ones run down their source's lane when it is empty, else down a gutter
on the right, and enter their target from the side, the way papers draw residual shortcuts.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.report.boxes import Box, widened

RANK_GAP = 18.0
LANE_GAP = 16.0
GUTTER_GAP = 10.0
GUTTER_STEP = 7.0
TOP = 10.0  # room above the first rank for edges from the group's input


@dataclass(frozen=True)
class Placed:
    key: str
    box: Box
    x: float  # centre
    y: float  # top

    @property
    def bottom(self) -> float:
        return self.y + self.box.height

    @property
    def middle(self) -> float:
        return self.y + self.box.height / 2


@dataclass(frozen=True)
class Edge:
    path: str  # SVG path data
    skip: bool


@dataclass(frozen=True)
class Layout:
    boxes: tuple[Placed, ...]
    edges: tuple[Edge, ...]
    left: float
    right: float
    height: float


@dataclass(frozen=True)
class Item:
    """An op to place: its key, its box, the ops it reads, and which of those edges are
    shortcuts (drawn dashed)."""

    key: str
    box: Box
    inputs: tuple[str, ...]
    skips: tuple[bool, ...]


def _grid(items: list[Item]) -> tuple[dict[str, int], dict[str, int]]:
    """Rank and lane of every item."""
    rank: dict[str, int] = {}
    lane: dict[str, int] = {}
    taken: dict[int, set[int]] = {}
    for item in items:
        inside = [key for key in item.inputs if key in rank]
        rank[item.key] = max((rank[key] + 1 for key in inside), default=0)
        wanted = lane[inside[0]] if inside else 0
        used = taken.setdefault(rank[item.key], set())
        while wanted in used:
            wanted += 1
        used.add(wanted)
        lane[item.key] = wanted
    return rank, lane


def _lane_widths(items: list[Item], lane: dict[str, int]) -> list[float]:
    widths: dict[int, float] = {}
    for item in items:
        widths[lane[item.key]] = max(widths.get(lane[item.key], 0.0), item.box.width)
    return [widths[index] for index in range(len(widths))]


def _lane_centres(widths: list[float]) -> list[float]:
    centres = [0.0]
    for index in range(1, len(widths)):
        centres.append(centres[-1] + widths[index - 1] / 2 + LANE_GAP + widths[index] / 2)
    return centres


def _rank_tops(items: list[Item], rank: dict[str, int]) -> list[float]:
    heights: dict[int, float] = {}
    for item in items:
        heights[rank[item.key]] = max(heights.get(rank[item.key], 0.0), item.box.height)
    tops = [TOP]
    for index in range(1, len(heights)):
        tops.append(tops[-1] + heights[index - 1] + RANK_GAP)
    return tops


def layout(items: list[Item]) -> Layout:
    rank, lane = _grid(items)
    widths = _lane_widths(items, lane)
    centres, tops = _lane_centres(widths), _rank_tops(items, rank)
    # Boxes of one lane share its width, so that a column of ops reads as one.
    placed = {
        item.key: Placed(
            item.key,
            widened(item.box, widths[lane[item.key]]),
            centres[lane[item.key]],
            tops[rank[item.key]],
        )
        for item in items
    }
    left = min(p.x - p.box.width / 2 for p in placed.values())
    right = max(p.x + p.box.width / 2 for p in placed.values())
    router = _Router(placed, rank, lane, right)
    edges = [
        Edge(router.path(source, item.key), skip)
        for item in items
        for source, skip in zip(item.inputs, item.skips, strict=True)
    ]
    bottom = max(p.bottom for p in placed.values())
    return Layout(tuple(placed.values()), tuple(edges), left, router.right, bottom)


class _Router:
    """Draws edges; long ones claim gutter tracks to the right of the boxes."""

    def __init__(
        self, placed: dict[str, Placed], rank: dict[str, int], lane: dict[str, int], right: float
    ) -> None:
        self.placed, self.rank, self.lane = placed, rank, lane
        self.gutter = right + GUTTER_GAP
        self.right = right

    def path(self, source: str, target: str) -> str:
        head = self.placed[target]
        tail = self.placed.get(source)
        if tail is None:
            return self._from_input(head)
        if self.rank[target] == self.rank[source] + 1:
            return _straight(tail, head)
        if self._lane_free(source, target):
            return _down_lane(tail, head)
        return _via(tail.x, tail.bottom, self._track(), head)

    def _from_input(self, head: Placed) -> str:
        """From the group's input, on the axis above the first rank."""
        if self.rank[head.key] == 0:
            return _path(0.0, 0.0, ("V", TOP / 2), ("H", head.x), ("V", head.y))
        return _via(0.0, 0.0, self._track(), head)

    def _lane_free(self, source: str, target: str) -> bool:
        lane, low, high = self.lane[source], self.rank[source], self.rank[target]
        return not any(
            self.lane[key] == lane and low < self.rank[key] < high for key in self.placed
        )

    def _track(self) -> float:
        x = self.gutter
        self.gutter += GUTTER_STEP
        self.right = max(self.right, x)
        return x


def _path(x: float, y: float, *moves: tuple[str, float]) -> str:
    """SVG path data: move to (x, y), then vertical ("V") and horizontal ("H") lines."""
    return f"M{coordinate(x)} {coordinate(y)}" + "".join(
        f"{axis}{coordinate(to)}" for axis, to in moves
    )


def _straight(tail: Placed, head: Placed) -> str:
    if tail.x == head.x:
        return _path(tail.x, tail.bottom, ("V", head.y))
    middle = (tail.bottom + head.y) / 2
    return _path(tail.x, tail.bottom, ("V", middle), ("H", head.x), ("V", head.y))


def _down_lane(tail: Placed, head: Placed) -> str:
    """Down the source's empty lane, then into the target's side."""
    if tail.x == head.x:
        return _path(tail.x, tail.bottom, ("V", head.y))
    side = head.x + head.box.width / 2 if tail.x > head.x else head.x - head.box.width / 2
    return _path(tail.x, tail.bottom, ("V", head.middle), ("H", side))


def _via(x: float, y: float, track: float, head: Placed) -> str:
    """Out of (x, y), right to a gutter track, down, and into the target's right side."""
    start = y + RANK_GAP / 2 if y else TOP / 2
    side = head.x + head.box.width / 2
    return _path(x, y, ("V", start), ("H", track), ("V", head.middle), ("H", side))


def coordinate(value: float) -> str:
    """A coordinate as SVG text: at most one decimal, no trailing zeros (deterministic)."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
