"""Choosing rows of a finished sweep: the Pareto front over two figures, and the top K by one.

An axis is a figure name with an optional direction, `macs` or `macs:max`; a front minimises
both axes unless told otherwise (params vs MACs by default: the cheapest networks for their
compute). Only `ok` rows take part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archspec.errors import ArchspecError
from archspec.sweep.figures import FIGURES, MEMORY_FIGURES


class SelectError(ArchspecError):
    """A figure name or direction that the table does not have."""


@dataclass(frozen=True)
class Axis:
    figure: str
    maximise: bool

    @classmethod
    def parse(cls, text: str, default_max: bool = False) -> Axis:
        name, _, direction = text.strip().partition(":")
        known = FIGURES + MEMORY_FIGURES
        if name not in known:
            raise SelectError(f"unknown figure {name!r}; use one of: {', '.join(known)}")
        if direction not in ("", "min", "max"):
            raise SelectError(f"{text!r}: the direction is :min or :max")
        return cls(name, direction == "max" if direction else default_max)

    def key(self, row: dict[str, Any]) -> float:
        value = float(row[self.figure])
        return -value if self.maximise else value


def ok_rows(rows: list[dict[str, Any]], *axes: Axis) -> list[dict[str, Any]]:
    return [
        row
        for row in rows
        if row.get("status") == "ok" and all(row.get(a.figure) not in (None, "") for a in axes)
    ]


def pareto_front(rows: list[dict[str, Any]], x: Axis, y: Axis) -> list[dict[str, Any]]:
    """Rows that no other row beats on both axes (ties kept once, the lowest index)."""
    ordered = sorted(ok_rows(rows, x, y), key=lambda r: (x.key(r), y.key(r), r["index"]))
    front: list[dict[str, Any]] = []
    best = float("inf")
    for row in ordered:
        if y.key(row) < best:
            front.append(row)
            best = y.key(row)
    return front


def top(rows: list[dict[str, Any]], k: int, by: Axis) -> list[dict[str, Any]]:
    """The K best rows by one figure (largest first unless `:min`)."""
    return sorted(ok_rows(rows, by), key=lambda r: (by.key(r), r["index"]))[:k]
