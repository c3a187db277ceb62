"""Stats as rich tables, JSON, CSV or Markdown (text out; the CLI prints it)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from archspec.stats import Stats

FORMATS = ("table", "json", "csv", "markdown")
_TOTALS = (
    ("params", "Params"),
    ("buffers", "Buffers"),
    ("macs", "MACs"),
    ("flops", "FLOPs"),
    ("acts", "Activations"),
)
_STAGE_COLUMNS = ("stage", "module", "block", "depth", "shape", "params", "macs", "acts")
_LAYER_COLUMNS = ("path", "op", "shape", "params", "macs", "acts")


def _total(stats: Stats, key: str) -> int:
    return stats.totals.flops if key == "flops" else int(getattr(stats.totals, key))


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _cell(value: object) -> str:
    if isinstance(value, tuple):
        return _shape(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_stats(all_stats: Sequence[Stats], fmt: str, *, per_layer: bool = False) -> str:
    if fmt == "json":
        docs = [s.to_dict(per_layer=per_layer) for s in all_stats]
        return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n"
    if fmt == "csv":
        return _csv(all_stats, per_layer)
    if fmt == "markdown":
        return _markdown(all_stats, per_layer)
    return _rich_text(all_stats, per_layer)


def _rows(stats: Stats, per_layer: bool) -> tuple[tuple[str, ...], list[list[object]]]:
    columns = _LAYER_COLUMNS if per_layer else _STAGE_COLUMNS
    items = stats.layers if per_layer else stats.stages
    return columns, [[getattr(item, c) for c in columns] for item in items]


def _csv(all_stats: Sequence[Stats], per_layer: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = _LAYER_COLUMNS if per_layer else _STAGE_COLUMNS
    writer.writerow(["model", *columns])
    for stats in all_stats:
        for row in _rows(stats, per_layer)[1]:
            writer.writerow([stats.name, *(_shape(v) if isinstance(v, tuple) else v for v in row)])
    return buffer.getvalue()


def _markdown(all_stats: Sequence[Stats], per_layer: bool) -> str:
    lines = [
        "| | " + " | ".join(s.name for s in all_stats) + " |",
        "|---|" + "---:|" * len(all_stats),
    ]
    for key, label in _TOTALS:
        lines.append(f"| {label} | " + " | ".join(f"{_total(s, key):,}" for s in all_stats) + " |")
    for stats in all_stats:
        columns, rows = _rows(stats, per_layer)
        lines += [
            "",
            f"**{stats.name}** ({_shape(stats.input)} input)",
            "",
            "| " + " | ".join(columns) + " |",
            "|" + "---|" * len(columns),
        ]
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _rich_text(all_stats: Sequence[Stats], per_layer: bool) -> str:
    console = Console(file=io.StringIO(), width=140, color_system=None, force_terminal=False)
    totals = Table(title="Totals (MACs: conv + linear, bias excluded; FLOPs = 2 x MACs)")
    totals.add_column("")
    for stats in all_stats:
        totals.add_column(stats.name, justify="right")
    for key, label in _TOTALS:
        totals.add_row(label, *(f"{_total(s, key):,}" for s in all_stats))
    console.print(totals)
    for stats in all_stats:
        columns, rows = _rows(stats, per_layer)
        table = Table(title=f"{stats.name} ({_shape(stats.input)} input)")
        for column in columns:
            numeric = column in ("params", "macs", "acts", "depth")
            table.add_column(column, justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        console.print(table)
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()
