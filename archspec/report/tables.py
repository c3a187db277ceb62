"""Tables of the report: cells carry display text and the number they sort by.

The rows are `stats`' own rows (stage, block, layer), so a table says what
`archspec stats --per-block / --per-layer` says; this module only chooses columns and words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archspec.emit.diagram_labels import stage_kind
from archspec.emit.diagram_text import human, shape_text
from archspec.ir.graph import ArchGraph
from archspec.stats import GroupRow, LayerRow, Stats


@dataclass(frozen=True)
class Cell:
    text: str
    sort: int | float | None = None  # numeric cells sort by this
    note: str = ""  # a second, smaller text (a delta)
    title: str = ""  # the exact value on hover, where the text rounds it
    share: str = ""  # CSS width of the cell's bar, e.g. "12.5%"


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = False
    title: str = ""


@dataclass(frozen=True)
class Table:
    key: str  # DOM id
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]


def number(value: int | None) -> Cell:
    if value is None:
        return Cell("-", -1)
    return Cell(f"{value:,}", value)


def rounded(value: int) -> Cell:
    """A count as 25.6M, exact on hover (the overview table stays narrow)."""
    return Cell(human(value), value, title=f"{value:,}")


def share(value: int, total: int) -> Cell:
    """A part of the model's total, as a percentage over a bar of that length."""
    percent = 100 * value / total if total else 0.0
    return Cell(f"{percent:.1f}%", value, share=f"{percent:.1f}%")


def shape(value: tuple[int, ...]) -> Cell:
    return Cell(shape_text(value))


_COUNTS = (
    Column("params", True, "trainable parameters"),
    Column("MACs", True, "conv + linear multiply-accumulates, bias excluded"),
    Column("MACs %", True, "share of the model's MACs"),
    Column("acts", True, "output elements of conv and linear layers"),
    Column("RF px", True, "receptive field at the output, in input pixels"),
    Column("stride", True, "effective stride at the output"),
)


def _counts(
    row: GroupRow | LayerRow, total_macs: int, count: Callable[[int], Cell] = number
) -> tuple[Cell, ...]:
    return (
        count(row.params),
        count(row.macs),
        share(row.macs, total_macs),
        count(row.acts),
        number(row.rf),
        number(row.stride),
    )


def stage_table(key: str, stats: Stats, arch: ArchGraph) -> Table:
    stage = Column("stage", title="and its module")
    columns = (stage, Column("blocks"), Column("output"), *_COUNTS)
    rows = tuple(
        (
            Cell(row.name, note=row.module),
            Cell(stage_kind(arch, row.name) or row.kind),
            shape(row.shape),
            *_counts(row, stats.totals.macs, rounded),
        )
        for row in stats.stages
    )
    return Table(key, f"{stats.name}: per stage", columns, rows)


def block_table(key: str, stats: Stats) -> Table:
    columns = (Column("block"), Column("kind"), Column("output"), *_COUNTS)
    rows = tuple(
        (Cell(row.name), Cell(row.kind or "-"), shape(row.shape), *_counts(row, stats.totals.macs))
        for row in stats.blocks
    )
    return Table(key, f"{stats.name}: per block", columns, rows)


def layer_table(key: str, stats: Stats) -> Table:
    """The per-layer table's columns; its rows are `payload.layer_rows`, in this order, which
    the page's script fills in when the table is first shown."""
    columns = (Column("layer"), Column("op"), Column("stage"), Column("output"), *_COUNTS)
    return Table(key, f"{stats.name}: per layer", columns, ())


def delta(value: int, base: int) -> str:
    """The change from the first spec, as the stats table words it."""
    if base in (0, value):
        return ""
    return f"{(value - base) / base:+.1%}"


def matrix(key: str, caption: str, header: Sequence[Column], rows: list[list[Cell]]) -> Table:
    return Table(key, caption, tuple(header), tuple(tuple(row) for row in rows))
