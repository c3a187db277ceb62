"""The sweep's output table: a CSV appended as chunks finish (the resume point), sorted by index
when the sweep ends, plus a Parquet copy when pyarrow is installed.

Beside OUT.csv, OUT.csv.sweep.json records what the rows depend on (space, seed, options);
resuming into a table written by another sweep is refused rather than mixed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archspec.errors import ArchspecError
from archspec.files import write_atomic

INTEGER_COLUMNS = (
    *("index", "params", "buffers", "macs", "flops", "acts", "rf", "stride"),
    *("params_bytes", "peak_bytes", "saved_bytes"),
)


class TableError(ArchspecError):
    """The output table cannot be used (written by another sweep, unreadable)."""


@dataclass
class Table:
    path: Path
    columns: list[str]
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def done(self) -> dict[int, dict[str, Any]]:
        return self.rows

    @property
    def meta_path(self) -> Path:
        return self.path.with_name(self.path.name + ".sweep.json")

    def append(self, rows: list[dict[str, Any]]) -> None:
        new = not self.path.exists()
        try:
            with self.path.open("a", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, self.columns, extrasaction="ignore")
                if new:
                    writer.writeheader()
                writer.writerows(rows)
        except OSError as exc:
            raise TableError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        for row in rows:
            self.rows[int(row["index"])] = row

    def sorted_rows(self) -> list[dict[str, Any]]:
        return [self.rows[i] for i in sorted(self.rows)]

    def finish(self) -> None:
        """Rewrite the CSV in index order (atomically); write the Parquet copy if possible."""
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, self.columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.sorted_rows())
        write_atomic(self.path, buffer.getvalue().encode())
        write_parquet(self.path.with_suffix(".parquet"), self.columns, self.sorted_rows())


def discard(path: Path) -> None:
    """Remove a previous table and its record (--restart)."""
    for target in (path, path.with_name(path.name + ".sweep.json")):
        target.unlink(missing_ok=True)


def open_table(path: Path, columns: list[str], fingerprint: dict[str, Any]) -> Table:
    """The table at `path`, with the rows already there (a resumed sweep), or a new one."""
    table = Table(path, columns)
    meta = json.dumps(fingerprint, sort_keys=True, default=str)
    if table.meta_path.exists() and path.exists():
        if table.meta_path.read_text(encoding="utf-8") != meta:
            raise TableError(
                f"{path}: written by a different sweep (space, seed or options changed). "
                "Fix: pass --restart to start it again, or choose another --out"
            )
        table.rows = {int(row["index"]): row for row in read_rows(path, columns)}
    elif path.exists():
        raise TableError(
            f"{path}: exists but is not a sweep table this command wrote. Fix: choose another "
            "--out, or pass --restart to replace it"
        )
    write_atomic(table.meta_path, meta.encode())
    return table


def read_rows(path: Path, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows of a sweep CSV, integers and floats converted back."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if columns is not None and reader.fieldnames != columns:
                raise TableError(f"{path}: its columns differ from this sweep's")
            return [_typed(row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TableError(f"{path}: cannot read the table: {exc}") from None


def _typed(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, text in row.items():
        out[key] = _number(text) if key in INTEGER_COLUMNS or _looks_numeric(text) else text
    return out


def _looks_numeric(text: str) -> bool:
    return bool(text) and text.lstrip("-").replace(".", "", 1).replace("e", "", 1).isdigit()


def _number(text: str) -> Any:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def write_parquet(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> bool:
    """Write the rows as Parquet when pyarrow is importable; False when it is not."""
    try:
        import pyarrow  # noqa: PLC0415 - optional
        import pyarrow.parquet  # noqa: PLC0415
    except ImportError:
        return False
    arrays = [_column([_plain(row.get(name)) for row in rows], pyarrow) for name in columns]
    pyarrow.parquet.write_table(pyarrow.table(arrays, names=columns), path)
    return True


def _column(values: list[Any], pyarrow: Any) -> Any:
    """A typed column; a column of mixed kinds (a choice of `none` or 8) becomes text."""
    try:
        return pyarrow.array(values)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):
        return pyarrow.array([None if v is None else str(v) for v in values])


def _plain(value: Any) -> Any:
    return None if value == "" else value
