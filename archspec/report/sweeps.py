"""A sweep's table in the report (`archspec report --sweep TABLE.csv`): every candidate on the
params-vs-MACs plot with the Pareto front picked out, the front as a sortable table, and counts.

The table is read with archspec.sweep's own reader and checked here, so that a foreign or edited
CSV is an error that names the file, the row and the column. The front is archspec.sweep's own
selection over the axes `archspec sweep` prints by default. The page stays small whatever the
sweep's size: at most MAX_POINTS candidates are drawn (evenly spaced by index, the front always)
and at most MAX_ROWS rows are tabled; the page says when either cap applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspec.api import display_path
from archspec.emit.diagram_text import human
from archspec.errors import ArchspecError
from archspec.report.layers import coordinate
from archspec.report.scatter import Axes, Point, Tick, axes, model_points
from archspec.report.tables import Cell, Column, Table, number, rounded
from archspec.stats import Stats
from archspec.sweep.evaluate import BASE_COLUMNS, SUMMARY_COLUMNS
from archspec.sweep.figures import FIGURES, MEMORY_FIGURES
from archspec.sweep.select import Axis, pareto_front
from archspec.sweep.table import read_rows

MAX_POINTS = 5_000
MAX_ROWS = 200
STATUSES = ("ok", "rejected", "invalid")
# `archspec sweep`'s default front (--pareto params,macs:max): the most MACs for their params.
FRONT = (Axis("params", maximise=False), Axis("macs", maximise=True))
_REQUIRED = ("index", "name", "status", "params", "macs")
_FIX = "fix: pass the CSV that `archspec sweep -o FILE` wrote, unedited"


class SweepTableError(ArchspecError):
    """A --sweep table that is not a sweep's output (foreign, edited or damaged)."""


@dataclass(frozen=True)
class SweepTable:
    file: str  # as shown on the page (no absolute path)
    rows: list[dict[str, Any]]  # index order
    columns: list[str]


def read_sweep(path: Path) -> SweepTable:
    """The rows of a finished sweep table, checked cell by cell where the report relies on them."""
    try:
        rows = read_rows(path)
    except ArchspecError as exc:
        raise SweepTableError(f"error: --sweep {exc}\n  {_FIX}") from None
    columns = list(rows[0]) if rows else []
    missing = [name for name in _REQUIRED if rows and name not in columns]
    if missing:
        raise SweepTableError(
            f"error: --sweep {path}: not a sweep table: no column {missing[0]!r} "
            f"(it has: {', '.join(columns[:8])}{', ...' if len(columns) > 8 else ''})\n  {_FIX}"
        )
    seen: set[int] = set()
    for number_, row in enumerate(rows, start=1):
        problem = _problem(row, seen)
        if problem:
            raise SweepTableError(f"error: --sweep {path}: row {number_}, {problem}\n  {_FIX}")
    return SweepTable(display_path(str(path)), sorted(rows, key=lambda r: r["index"]), columns)


def _problem(row: dict[str, Any], seen: set[int]) -> str | None:
    """What is wrong with one row (column and value), or None."""
    if None in row:  # DictReader puts cells beyond the header under the key None
        return "more cells than the header has columns"
    index = row["index"]
    if not _count(index):
        return f"column 'index': {_shown(index)} is not a whole number >= 0"
    if index in seen:
        return f"column 'index': {index} appears twice"
    seen.add(index)
    if row["status"] not in STATUSES:
        return f"column 'status': {row['status']!r} is not one of {', '.join(STATUSES)}"
    for name in ("params", "macs"):
        value = row[name]
        needed = row["status"] == "ok"
        if (value is not None or needed) and not _count(value):
            return f"column {name!r}: {_shown(value)} is not a whole number >= 0"
    return None


def _shown(value: Any) -> str:
    return "an empty cell" if value is None else repr(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Cloud:
    """Candidates drawn as dots: one path of zero-length strokes (round caps make the dots)."""

    kind: str  # "kept" or "rejected"
    path: str
    count: int


@dataclass(frozen=True)
class SweepPlot:
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_label: str
    y_label: str
    clouds: tuple[Cloud, ...]
    front_line: str  # SVG points of the front, in MACs order
    front: tuple[Point, ...]
    specs: tuple[Point, ...]


@dataclass(frozen=True)
class SweepSection:
    anchor: str
    name: str
    file: str
    counts: str  # the count line
    drawn: str  # what the plot shows, caps included
    plot: SweepPlot | None  # None without a single candidate with figures
    front: Table
    tabled: str  # what the table holds, its cap included


def sweep_section(
    index: int, table: SweepTable, models: list[Stats], targets: list[str]
) -> SweepSection:
    anchor = f"s{index}"
    name = Path(table.file).stem
    rows = table.rows
    front = pareto_front(rows, *FRONT)
    shown = sorted(front, key=lambda r: (-r["macs"], r["index"]))[:MAX_ROWS]
    figured = [r for r in rows if r["params"] is not None and r["macs"] is not None]
    plot, drawn = _plot(figured, front[:MAX_ROWS], models, targets)
    return SweepSection(
        anchor,
        name,
        table.file,
        _counts(rows, len(front)),
        drawn,
        plot,
        _front_table(f"{anchor}-front", name, table.columns, shown),
        _tabled(len(front), len(shown)),
    )


def _counts(rows: list[dict[str, Any]], front: int) -> str:
    status = {s: sum(1 for r in rows if r["status"] == s) for s in STATUSES}
    return (
        f"{len(rows):,} candidates: {status['ok']:,} kept by the constraints, "
        f"{status['rejected']:,} rejected, {status['invalid']:,} invalid; "
        f"{front:,} on the Pareto front"
    )


def _tabled(front: int, shown: int) -> str:
    if shown == front:
        return "The Pareto front: the fewest params for their MACs, most MACs first."
    return f"The {shown:,} of the front's {front:,} rows with the most MACs."


def _plot(
    figured: list[dict[str, Any]],
    front: list[dict[str, Any]],
    models: list[Stats],
    targets: list[str],
) -> tuple[SweepPlot | None, str]:
    if not figured and not models:
        return None, "No candidate has figures to draw."
    frame = axes(
        [r["macs"] for r in figured] + [s.totals.macs for s in models],
        [r["params"] for r in figured] + [s.totals.params for s in models],
    )
    on_front = {r["index"] for r in front}
    rest = [r for r in figured if r["index"] not in on_front]
    sample = _sample(rest, MAX_POINTS - len(front))
    clouds = tuple(
        Cloud(kind, _dots(frame, picked), len(picked))
        for kind, picked in (
            ("rejected", [r for r in sample if r["status"] != "ok"]),
            ("kept", [r for r in sample if r["status"] == "ok"]),
        )
        if picked
    )
    by_macs = sorted(front, key=lambda r: (r["macs"], r["index"]))
    plot = SweepPlot(
        frame.x_ticks,
        frame.y_ticks,
        frame.x_label,
        frame.y_label,
        clouds,
        " ".join("{},{}".format(*_xy(frame, r)) for r in by_macs),
        tuple(_front_point(frame, r) for r in by_macs),
        model_points(models, targets, frame),
    )
    return plot, _drawn(len(figured), len(sample) + len(front), bool(models))


def _sample(rows: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """At most `cap` rows, evenly spaced in index order (the same rows on every run)."""
    if len(rows) <= cap:
        return rows
    return [rows[i * len(rows) // cap] for i in range(cap)]


def _xy(frame: Axes, row: dict[str, Any]) -> tuple[str, str]:
    return coordinate(frame.to_x(row["macs"])), coordinate(frame.to_y(row["params"]))


def _dots(frame: Axes, rows: list[dict[str, Any]]) -> str:
    return "".join("M{} {}h0".format(*_xy(frame, r)) for r in rows)


def _front_point(frame: Axes, row: dict[str, Any]) -> Point:
    tip = f"#{row['index']} {row['name']}\nparams {row['params']:,}\nMACs {row['macs']:,}"
    return Point(frame.to_x(row["macs"]), frame.to_y(row["params"]), row["name"], "", tip, None)


def _drawn(figured: int, drawn: int, specs: bool) -> str:
    what = (
        f"All {figured:,} candidates with figures"
        if drawn == figured
        else f"{drawn:,} of the {figured:,} candidates with figures (evenly spaced "
        "by index; the front in full)"
    )
    overlay = "; the specs of this report as labelled points" if specs else ""
    return f"{what}: kept ones in blue, rejected ones in grey, the front ringed{overlay}."


_FIGURE_COLUMNS = (
    ("params", Column("params", True, "trainable parameters")),
    ("macs", Column("MACs", True, "conv + linear multiply-accumulates, bias excluded")),
    ("acts", Column("acts", True, "output elements of conv and linear layers")),
    ("rf", Column("RF px", True, "receptive field at the output, in input pixels")),
    ("stride", Column("stride", True, "effective stride at the output")),
    ("peak_bytes", Column("peak memory", True, "peak activation memory at the sweep's batch")),
)
_NOT_DRAWN = {*BASE_COLUMNS, *SUMMARY_COLUMNS, *FIGURES, *MEMORY_FIGURES}


def _front_table(key: str, name: str, columns: list[str], rows: list[dict[str, Any]]) -> Table:
    """index, name, the values the sweep varied, then the figures."""
    varied = [c for c in columns if c not in _NOT_DRAWN]
    figures = [(c, col) for c, col in _FIGURE_COLUMNS if c in columns]
    numeric = {c: all(_is_number(r.get(c)) for r in rows) for c in varied}
    header = (
        Column("index", True, "the candidate's index in the sweep"),
        Column("name"),
        *(Column(c, numeric[c]) for c in varied),
        *(col for _, col in figures),
    )
    body = tuple(
        (
            Cell(str(row["index"]), row["index"]),
            Cell(str(row["name"])),
            *(_value(row.get(c), numeric[c]) for c in varied),
            *(_figure(c, row.get(c)) for c, _ in figures),
        )
        for row in rows
    )
    return Table(key, f"{name}: Pareto front (params:min, MACs:max)", header, body)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value(value: Any, numeric: bool) -> Cell:
    if value is None:
        return Cell("-", -1) if numeric else Cell("-")
    if numeric:
        return Cell(f"{value:g}" if isinstance(value, float) else f"{value:,}", value)
    return Cell(str(value))


def _figure(column: str, value: Any) -> Cell:
    if not _is_number(value):
        return Cell("-", -1)
    if column == "peak_bytes":
        return Cell(f"{human(int(value))}B", value, title=f"{value:,} bytes")
    return rounded(int(value)) if column in ("params", "macs", "acts") else number(int(value))
