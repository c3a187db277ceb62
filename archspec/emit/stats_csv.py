"""`archspec stats --format csv`: one tidy table of everything the stats report holds.

Every row is one observation and says what it is in `section`:
- `totals`, `memory`, `convention`: one number each, in `quantity` / `value` / `unit`
  (memory rows also give `batch` and `dtype`; convention rows name the tool in `name`);
- `stage`, `block`, `layer`: one row of the network, with its `stage` and `block` and the
  counts in `params`, `macs`, `acts`, receptive field `rf` and `stride`.
Stage rows are always present (as in JSON); block and layer rows when asked for. Numbers are
exact integers; a cell that does not apply is empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

from archspec.emit.stats_format import Report, shape_text
from archspec.stats import GroupRow, LayerRow

COLUMNS = (
    "model",
    "section",
    "name",
    "module",
    "stage",
    "block",
    "kind",
    "op",
    "depth",
    "shape",
    "params",
    "macs",
    "acts",
    "rf",
    "stride",
    "quantity",
    "value",
    "unit",
    "batch",
    "dtype",
)


def csv_text(reports: Sequence[Report], granularities: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    levels = ["stage", *(g for g in granularities if g != "stage")]
    for report in reports:
        for row in _rows(report, levels):
            writer.writerow({"model": report.stats.name, **row})
    return buffer.getvalue()


def _rows(report: Report, levels: Sequence[str]) -> Iterator[dict[str, Any]]:
    for total in report.model_totals():
        yield _quantity("totals", total.key, total.value, total.unit)
    memory = report.memory
    if memory is not None:
        where = {"batch": memory.batch, "dtype": memory.dtype}
        for total in report.memory_totals():
            yield {**_quantity("memory", total.key, total.value, total.unit), **where}
    for b in report.conventions:
        for category, value in [*b.by_category.items(), ("total", b.total)]:
            quantity = _quantity("convention", category, value, b.convention.unit)
            yield {**quantity, "name": b.convention.name}
    stats = report.stats
    for level in levels:
        if level == "layer":
            yield from (_layer(row) for row in stats.layers)
        else:
            yield from (_group(level, row) for row in getattr(stats, f"{level}s"))


def _quantity(section: str, quantity: str, value: int, unit: str) -> dict[str, Any]:
    return {"section": section, "quantity": quantity, "value": value, "unit": unit}


def _counts(row: GroupRow | LayerRow) -> dict[str, Any]:
    return {
        "shape": shape_text(row.shape),
        "params": row.params,
        "macs": row.macs,
        "acts": row.acts,
        "rf": "" if row.rf is None else row.rf,
        "stride": "" if row.stride is None else row.stride,
    }


def _group(level: str, row: GroupRow) -> dict[str, Any]:
    block = row.module if level == "block" else ""
    return {
        "section": level,
        "name": row.name,
        "module": row.module,
        "stage": row.stage,
        "block": block,
        "kind": row.kind,
        "depth": row.depth,
        **_counts(row),
    }


def _layer(row: LayerRow) -> dict[str, Any]:
    return {
        "section": "layer",
        "name": row.path,
        "module": row.path,
        "stage": row.stage,
        "block": row.block,
        "op": row.op,
        **_counts(row),
    }
