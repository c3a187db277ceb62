"""Where the counting conventions disagree with archspec's MACs, and by how much.

The totals and their split by op category come from `conventions.count`, the same numbers as
`archspec stats --convention all`. A FLOPs convention is compared with FLOPs (2 x MACs), a MACs
convention with MACs, so that "differs" means "counts other ops", never a unit.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.conventions import CONVENTIONS, Breakdown, count
from archspec.emit.diagram_text import human
from archspec.ir.graph import ArchGraph
from archspec.report.tables import Cell, Column, Table, matrix, number
from archspec.stats import Totals

BASE = "macs"


@dataclass(frozen=True)
class Verdict:
    """One convention against archspec's count."""

    name: str
    unit: str
    reproduces: str
    total: int
    difference: int  # total minus archspec's count in the same unit
    percent: str
    extra: str  # the op categories that make the difference, e.g. "norm +45.2M"

    @property
    def total_text(self) -> str:
        return f"{self.total:,}"

    @property
    def difference_text(self) -> str:
        return f"{self.difference:+,}" if self.difference else "same"


def _reference(totals: Totals, unit: str) -> int:
    return totals.flops if unit == "FLOPs" else totals.macs


def verdicts(key: str, arch: ArchGraph, totals: Totals) -> tuple[list[Verdict], Table]:
    breakdowns = [count(arch, name) for name in CONVENTIONS]
    base = next(b for b in breakdowns if b.convention.name == BASE)
    out = []
    for b in breakdowns:
        reference = _reference(totals, b.convention.unit)
        difference = b.total - reference
        percent = f"{difference / reference:+.2%}" if reference and difference else ""
        out.append(
            Verdict(
                b.convention.name,
                b.convention.unit,
                b.convention.reproduces,
                b.total,
                difference,
                percent,
                _extra(b, base, reference / totals.macs if totals.macs else 1),
            )
        )
    return out, _breakdown(key, arch.name, breakdowns)


def _extra(b: Breakdown, base: Breakdown, scale: float) -> str:
    """The categories this convention counts differently from archspec's MACs."""
    parts = []
    for category in sorted(set(b.by_category) | set(base.by_category)):
        gap = b.by_category.get(category, 0) - round(scale * base.by_category.get(category, 0))
        if gap:
            parts.append(f"{category} {'+' if gap > 0 else '-'}{human(abs(gap))}")
    return ", ".join(parts) or "counts the same ops"


def _breakdown(key: str, name: str, breakdowns: list[Breakdown]) -> Table:
    header = [Column("op category")]
    header += [Column(f"{b.convention.name} ({b.convention.unit})", True) for b in breakdowns]
    categories = sorted({c for b in breakdowns for c in b.by_category})
    rows = [
        [Cell(category), *(number(b.by_category.get(category, 0)) for b in breakdowns)]
        for category in categories
    ]
    rows.append([Cell("total"), *(number(b.total) for b in breakdowns)])
    return matrix(key, f"{name}: what each counter counts, by op category", header, rows)
