"""Stats reports as text tables, JSON, CSV or Markdown (text out; the CLI prints it)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archspec.conventions import Breakdown
from archspec.memory import MemoryEstimate
from archspec.stats import Stats

if TYPE_CHECKING:
    from rich.table import Table

FORMATS = ("table", "json", "csv", "markdown")
GRANULARITIES = ("stage", "block", "layer")
_GROUP_COLUMNS = (
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
_LAYER_COLUMNS = ("path", "op", "shape", "params", "macs", "acts", "rf", "stride")
_NUMERIC = {"params", "macs", "acts", "depth", "rf", "stride"}


@dataclass
class Report:
    """Everything `archspec stats` shows for one spec."""

    stats: Stats
    memory: MemoryEstimate | None = None
    conventions: list[Breakdown] = field(default_factory=list)

    def totals(self) -> list[tuple[str, int]]:
        t = self.stats.totals
        rows = [
            ("Params", t.params),
            ("Buffers", t.buffers),
            ("MACs", t.macs),
            ("FLOPs (2 x MACs)", t.flops),
            ("Activations", t.acts),
        ]
        if self.memory is not None:
            m = self.memory
            where = f"batch {m.batch}, {m.dtype}"
            rows += [
                (f"Param memory, bytes ({m.dtype})", m.params_bytes),
                (f"Inference peak activations, bytes ({where}, estimate)", m.inference_peak_bytes),
                (f"Training saved activations, bytes ({where}, estimate)", m.training_saved_bytes),
            ]
        rows += [
            (f"{b.convention.name} total ({b.convention.unit})", b.total) for b in self.conventions
        ]
        return rows

    def to_dict(self, granularity: str) -> dict[str, Any]:
        doc = self.stats.to_dict(per_layer=granularity == "layer", per_block=granularity == "block")
        if self.memory is not None:
            doc["memory"] = self.memory.to_dict()
        if self.conventions:
            doc["conventions"] = {b.convention.name: b.to_dict() for b in self.conventions}
        return doc


def format_reports(reports: Sequence[Report], fmt: str, granularity: str = "stage") -> str:
    if fmt == "json":
        docs = [r.to_dict(granularity) for r in reports]
        return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n"
    if fmt == "csv":
        return _csv(reports, granularity)
    if fmt == "markdown":
        return _markdown(reports, granularity)
    return _text(reports, granularity)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return _shape(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _delta(value: int, base: int) -> str:
    if base == 0:
        return ""
    return f" ({(value - base) / base:+.1%})"


def _rows(stats: Stats, granularity: str) -> tuple[tuple[str, ...], list[list[object]]]:
    if granularity == "layer":
        return _LAYER_COLUMNS, [[getattr(r, c) for c in _LAYER_COLUMNS] for r in stats.layers]
    items = stats.blocks if granularity == "block" else stats.stages
    return _GROUP_COLUMNS, [[getattr(r, c) for c in _GROUP_COLUMNS] for r in items]


def _totals_matrix(reports: Sequence[Report]) -> tuple[list[str], list[list[str]]]:
    """Totals side by side; later specs show their difference to the first."""
    header = [""] + [r.stats.name for r in reports]
    base = dict(reports[0].totals())
    labels = [label for label, _ in reports[0].totals()]
    body = []
    for label in labels:
        cells = [label]
        for i, report in enumerate(reports):
            value = dict(report.totals()).get(label)
            delta = _delta(value, base[label]) if i and value is not None else ""
            cells.append(_cell(value) + delta)
        body.append(cells)
    return header, body


def _breakdown_matrix(report: Report) -> tuple[list[str], list[list[str]]]:
    header = ["op category"] + [
        f"{b.convention.name} ({b.convention.unit})" for b in report.conventions
    ]
    categories = sorted({c for b in report.conventions for c in b.by_category})
    body = [
        [category] + [_cell(b.by_category.get(category, 0)) for b in report.conventions]
        for category in categories
    ]
    body.append(["total"] + [_cell(b.total) for b in report.conventions])
    return header, body


def _csv(reports: Sequence[Report], granularity: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if any(r.conventions for r in reports):
        writer.writerow(["model", "convention", "unit", "category", "value"])
        for report in reports:
            for b in report.conventions:
                for category, value in [*b.by_category.items(), ("total", b.total)]:
                    writer.writerow(
                        [report.stats.name, b.convention.name, b.convention.unit, category, value]
                    )
        return buffer.getvalue()
    columns = _LAYER_COLUMNS if granularity == "layer" else _GROUP_COLUMNS
    writer.writerow(["model", *columns])
    for report in reports:
        for row in _rows(report.stats, granularity)[1]:
            writer.writerow(
                [
                    report.stats.name,
                    *(_shape(v) if isinstance(v, tuple) else "" if v is None else v for v in row),
                ]
            )
    return buffer.getvalue()


def _md_table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def _markdown(reports: Sequence[Report], granularity: str) -> str:
    lines = _md_table(*_totals_matrix(reports))
    for report in reports:
        columns, rows = _rows(report.stats, granularity)
        lines += ["", f"**{report.stats.name}** ({_shape(report.stats.input)} input)", ""]
        lines += _md_table(list(columns), [[_cell(v) for v in row] for row in rows])
        if report.conventions:
            lines += ["", f"**{report.stats.name}**: counting conventions", ""]
            lines += _md_table(*_breakdown_matrix(report))
    return "\n".join(lines) + "\n"


def _rich_table(title: str, header: list[str], body: list[list[str]], numeric: set[int]) -> Table:
    from rich.table import Table  # noqa: PLC0415 - rich only for text tables (start-up time)

    table = Table(title=title, title_justify="left")
    for i, column in enumerate(header):
        table.add_column(column, justify="right" if i in numeric else "left")
    for row in body:
        table.add_row(*row)
    return table


def _text(reports: Sequence[Report], granularity: str) -> str:
    from rich.console import Console  # noqa: PLC0415 - rich only for text tables

    console = Console(file=io.StringIO(), width=160, color_system=None, force_terminal=False)
    header, body = _totals_matrix(reports)
    console.print(
        _rich_table(
            "Totals (MACs: conv + linear multiply-accumulates, bias excluded)",
            header,
            body,
            set(range(1, len(header))),
        )
    )
    for report in reports:
        columns, rows = _rows(report.stats, granularity)
        numeric = {i for i, c in enumerate(columns) if c in _NUMERIC}
        title = f"{report.stats.name} ({_shape(report.stats.input)} input), per {granularity}"
        console.print(
            _rich_table(title, list(columns), [[_cell(v) for v in row] for row in rows], numeric)
        )
        if report.conventions:
            header, body = _breakdown_matrix(report)
            console.print(
                _rich_table(
                    f"{report.stats.name}: what each counter counts",
                    header,
                    body,
                    set(range(1, len(header))),
                )
            )
            for b in report.conventions:
                console.print(f"  {b.convention.name}: {b.convention.reproduces}")
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()
