"""The summary card of a model, and the comparison table of several.

Every figure keeps its exact value (`data-value` on the page, what tests and scripts read) next
to the rounded text a person reads. The totals are `stats`' totals, the memory figures
`memory.estimate` at the report's batch size and dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.emit.diagram_text import human, shape_text
from archspec.memory import MemoryEstimate
from archspec.report.tables import Cell, Column, Table, delta, matrix
from archspec.stats import LayerRow, Stats


@dataclass(frozen=True)
class Also:
    """A second exact figure shown small inside a card (FLOPs under MACs)."""

    key: str
    value: int
    text: str


@dataclass(frozen=True)
class Figure:
    key: str  # data-total: what the number is
    label: str
    value: int | None
    text: str
    note: str = ""
    also: tuple[Also, ...] = ()
    title: str = ""  # the exact figure on hover, where the card rounds it


@dataclass(frozen=True)
class Model:
    """The figures of one model that the card and the comparison both show."""

    stats: Stats
    memory: MemoryEstimate

    @property
    def last_spatial(self) -> LayerRow | None:
        """The last op with a feature map (before global pooling): its field and stride are
        the model's."""
        spatial = [row for row in self.stats.layers if row.rf is not None]
        return spatial[-1] if spatial else None


def mebibytes(count: int) -> str:
    return f"{count / 2**20:,.1f} MiB"


def card(model: Model) -> list[Figure]:
    totals, memory = model.stats.totals, model.memory
    where = f"batch {memory.batch}, {memory.dtype}"
    buffers = Also("buffers", totals.buffers, f"+ {totals.buffers:,} buffers")
    flops = Also("flops", totals.flops, f"FLOPs {totals.flops:,}")
    return [
        Figure(
            "params",
            "Params",
            totals.params,
            f"{totals.params:,}",
            human(totals.params),
            (buffers,),
        ),
        Figure("macs", "MACs", totals.macs, f"{totals.macs:,}", human(totals.macs), (flops,)),
        Figure("acts", "Activations", totals.acts, f"{totals.acts:,}", "conv + linear outputs"),
        _bytes("params_bytes", "Param memory", memory.params_bytes, memory.dtype),
        _bytes("inference_peak_bytes", "Inference peak", memory.inference_peak_bytes, where),
        _bytes("training_saved_bytes", "Training saved", memory.training_saved_bytes, where),
        *_field(model),
    ]


def _bytes(key: str, label: str, count: int, where: str) -> Figure:
    return Figure(key, label, count, mebibytes(count), where, title=f"{count:,} bytes (estimate)")


def _field(model: Model) -> list[Figure]:
    last = model.last_spatial
    size = max(model.stats.input[1:], default=0)
    if last is None or last.rf is None or last.stride is None:
        return [
            Figure("rf", "Receptive field", None, "-"),
            Figure("stride", "Output stride", None, "-"),
        ]
    note = f"of the last feature map; input {size} px"
    return [
        Figure("rf", "Receptive field", last.rf, f"{last.rf} px", note),
        Figure("stride", "Output stride", last.stride, str(last.stride), shape_text(last.shape)),
    ]


_COMPARED = (
    ("params", "params"),
    ("MACs", "macs"),
    ("acts", "acts"),
    ("inference peak", "inference_peak_bytes"),
    ("training saved", "training_saved_bytes"),
)


def comparison(key: str, models: list[Model]) -> Table:
    """One row per model; numbers carry their change from the first model."""
    header = [Column("model"), Column("input")]
    header += [Column(label, True) for label, _ in _COMPARED]
    header += [Column("RF px", True), Column("stride", True)]
    base = _values(models[0])
    rows = []
    for index, model in enumerate(models):
        values = _values(model)
        cells = [Cell(model.stats.name), Cell(shape_text(model.stats.input))]
        for _, name in _COMPARED:
            note = delta(values[name], base[name]) if index else ""
            # Rounded, so that many models fit on a laptop screen; exact on hover.
            text = mebibytes(values[name]) if name.endswith("bytes") else human(values[name])
            cells.append(Cell(text, values[name], note=note, title=f"{values[name]:,}"))
        last = model.last_spatial
        cells += [_optional(last.rf if last else None), _optional(last.stride if last else None)]
        rows.append(cells)
    return matrix(key, "Models side by side (changes relative to the first)", header, rows)


def _values(model: Model) -> dict[str, int]:
    totals, memory = model.stats.totals, model.memory
    return {
        "params": totals.params,
        "macs": totals.macs,
        "acts": totals.acts,
        "inference_peak_bytes": memory.inference_peak_bytes,
        "training_saved_bytes": memory.training_saved_bytes,
    }


def _optional(value: int | None) -> Cell:
    return Cell("-", -1) if value is None else Cell(str(value), value)
