"""Stats reports as text tables, JSON, CSV or Markdown (text out; the CLI prints it).

Tables show human units (25.56 M, 4.09 G, 97.5 MiB) unless `exact`; JSON and CSV always hold
exact integers. JSON has one shape, versioned: {"format": 1, "models": [<one dict per spec>]}.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archspec.conventions import Breakdown
from archspec.emit.units import bytes_text, count_text
from archspec.memory import MemoryEstimate
from archspec.stats import Stats

if TYPE_CHECKING:
    from rich.table import Table

FORMATS = ("table", "json", "csv", "markdown")
GRANULARITIES = ("stage", "block", "layer")
# The version of the JSON document; bump it when a key changes meaning or disappears.
JSON_FORMAT = 1
GROUP_COLUMNS = (
    "name",
    "module",
    "kind",
    "depth",
    "shape",
    "params",
    "macs",
    "acts",
    "rf",
    "stride",
)
LAYER_COLUMNS = ("path", "op", "shape", "params", "macs", "acts", "rf", "stride")
_NUMERIC = {"params", "macs", "acts", "depth", "rf", "stride"}
# Columns whose table cells are counts shown in human units (the others stay exact).
_COUNTED = {"params", "macs", "acts"}
COUNT, BYTES = "count", "bytes"


@dataclass(frozen=True)
class Total:
    """One line of the totals table: a label, the exact value, what it measures."""

    label: str
    key: str
    value: int
    unit: str
    kind: str = COUNT


@dataclass
class Report:
    """Everything `archspec stats` shows for one spec."""

    stats: Stats
    memory: MemoryEstimate | None = None
    conventions: list[Breakdown] = field(default_factory=list)

    def totals(self) -> list[Total]:
        return self.model_totals() + self.memory_totals() + self.convention_totals()

    def model_totals(self) -> list[Total]:
        t = self.stats.totals
        return [
            Total("Params", "params", t.params, "parameters"),
            Total("Buffers", "buffers", t.buffers, "elements"),
            Total("MACs", "macs", t.macs, "MACs"),
            Total("FLOPs (2 x MACs)", "flops", t.flops, "FLOPs"),
            Total("Activations", "acts", t.acts, "elements"),
        ]

    def memory_totals(self) -> list[Total]:
        m = self.memory
        if m is None:
            return []
        where = f"batch {m.batch}, {m.dtype}"
        return [
            Total(f"Param memory ({m.dtype})", "params_bytes", m.params_bytes, "bytes", BYTES),
            Total(f"Buffer memory ({m.dtype})", "buffers_bytes", m.buffers_bytes, "bytes", BYTES),
            Total(
                f"Inference peak activations ({where}, estimate)",
                "inference_peak_bytes",
                m.inference_peak_bytes,
                "bytes",
                BYTES,
            ),
            Total(
                f"Training saved activations ({where}, estimate)",
                "training_saved_bytes",
                m.training_saved_bytes,
                "bytes",
                BYTES,
            ),
        ]

    def convention_totals(self) -> list[Total]:
        return [
            Total(
                f"{b.convention.name} total ({b.convention.unit})",
                b.convention.name,
                b.total,
                b.convention.unit,
            )
            for b in self.conventions
        ]

    def to_dict(self, granularities: Sequence[str]) -> dict[str, Any]:
        doc = self.stats.to_dict(
            per_layer="layer" in granularities, per_block="block" in granularities
        )
        if self.memory is not None:
            doc["memory"] = self.memory.to_dict()
        if self.conventions:
            doc["conventions"] = {b.convention.name: b.to_dict() for b in self.conventions}
        return doc


def format_reports(
    reports: Sequence[Report],
    fmt: str,
    granularities: Sequence[str] = ("stage",),
    *,
    exact: bool = False,
) -> str:
    """`granularities`: the row tables to show (stage, block, layer); `exact`: tables show
    exact integers instead of human units."""
    if fmt == "json":
        doc = {"format": JSON_FORMAT, "models": [r.to_dict(granularities) for r in reports]}
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "csv":
        from archspec.emit.stats_csv import csv_text  # noqa: PLC0415 - only for --format csv

        return csv_text(reports, granularities)
    cells = Cells(exact)
    if fmt == "markdown":
        return _markdown(reports, granularities, cells)
    return _text(reports, granularities, cells)


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


@dataclass(frozen=True)
class Cells:
    """How a table shows a value: human units, or exact integers with separators."""

    exact: bool = False

    def __call__(self, value: object, kind: str = "") -> str:
        if value is None:
            return "-"
        if isinstance(value, tuple):
            return shape_text(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return self.number(value, kind)
        return str(value)

    def number(self, value: int, kind: str) -> str:
        if self.exact or kind not in (COUNT, BYTES):
            return f"{value:,}"
        return bytes_text(value) if kind == BYTES else count_text(value)


def _delta(value: int, base: int) -> str:
    if base == 0:
        return ""
    return f" ({(value - base) / base:+.1%})"


def rows_of(stats: Stats, granularity: str) -> tuple[tuple[str, ...], list[list[Any]]]:
    if granularity == "layer":
        return LAYER_COLUMNS, [[getattr(r, c) for c in LAYER_COLUMNS] for r in stats.layers]
    items = stats.blocks if granularity == "block" else stats.stages
    return GROUP_COLUMNS, [[getattr(r, c) for c in GROUP_COLUMNS] for r in items]


def _row_cells(columns: Sequence[str], row: list[Any], cells: Cells) -> list[str]:
    return [
        cells(value, COUNT if column in _COUNTED else "")
        for column, value in zip(columns, row, strict=True)
    ]


def _totals_matrix(reports: Sequence[Report], cells: Cells) -> tuple[list[str], list[list[str]]]:
    """Totals side by side; later specs show their difference to the first."""
    header = [""] + [r.stats.name for r in reports]
    first = reports[0].totals()
    body = []
    for line in first:
        row = [line.label]
        for i, report in enumerate(reports):
            found = next((t for t in report.totals() if t.label == line.label), None)
            if found is None:
                row.append("-")
                continue
            delta = _delta(found.value, line.value) if i else ""
            row.append(cells(found.value, found.kind) + delta)
        body.append(row)
    return header, body


def _breakdown_matrix(report: Report, cells: Cells) -> tuple[list[str], list[list[str]]]:
    header = ["op category"] + [
        f"{b.convention.name} ({b.convention.unit})" for b in report.conventions
    ]
    categories = sorted({c for b in report.conventions for c in b.by_category})
    body = [
        [category] + [cells(b.by_category.get(category, 0), COUNT) for b in report.conventions]
        for category in categories
    ]
    body.append(["total"] + [cells(b.total, COUNT) for b in report.conventions])
    return header, body


def _md_table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def _markdown(reports: Sequence[Report], granularities: Sequence[str], cells: Cells) -> str:
    lines = _md_table(*_totals_matrix(reports, cells))
    for report in reports:
        for granularity in granularities:
            columns, rows = rows_of(report.stats, granularity)
            title = f"**{report.stats.name}** ({shape_text(report.stats.input)} input)"
            lines += ["", f"{title}, per {granularity}", ""]
            lines += _md_table(list(columns), [_row_cells(columns, row, cells) for row in rows])
        if report.conventions:
            lines += ["", f"**{report.stats.name}**: counting conventions", ""]
            lines += _md_table(*_breakdown_matrix(report, cells))
    return "\n".join(lines) + "\n"


def _rich_table(title: str, header: list[str], body: list[list[str]], numeric: set[int]) -> Table:
    from rich.table import Table  # noqa: PLC0415 - rich only for text tables (start-up time)

    table = Table(title=title, title_justify="left")
    for i, column in enumerate(header):
        table.add_column(column, justify="right" if i in numeric else "left")
    for row in body:
        table.add_row(*row)
    return table


def _text(reports: Sequence[Report], granularities: Sequence[str], cells: Cells) -> str:
    from rich.console import Console  # noqa: PLC0415 - rich only for text tables

    console = Console(file=io.StringIO(), width=160, color_system=None, force_terminal=False)
    header, body = _totals_matrix(reports, cells)
    title = "Totals (MACs: conv + linear multiply-accumulates, bias excluded)"
    console.print(_rich_table(title, header, body, set(range(1, len(header)))))
    for report in reports:
        for granularity in granularities:
            columns, rows = rows_of(report.stats, granularity)
            numeric = {i for i, c in enumerate(columns) if c in _NUMERIC}
            title = (
                f"{report.stats.name} ({shape_text(report.stats.input)} input), per {granularity}"
            )
            body = [_row_cells(columns, row, cells) for row in rows]
            console.print(_rich_table(title, list(columns), body, numeric))
        if report.conventions:
            header, body = _breakdown_matrix(report, cells)
            title = f"{report.stats.name}: what each counter counts"
            console.print(_rich_table(title, header, body, set(range(1, len(header)))))
            for b in report.conventions:
                console.print(f"  {b.convention.name}: {b.convention.reproduces}")
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()
