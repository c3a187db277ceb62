"""Assemble the report: one self-contained HTML page, a pure function of its inputs.

Every view is prepared here and in its module (numbers formatted, boxes placed, deltas taken);
the Jinja templates under templates/report/ only lay them out. Styles and the script are
inlined from the same folder, and data the script needs travels as JSON inside the page, so
it opens from disk with no network. Nothing varies between runs: no time, no absolute path,
no random id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from archspec.api import Compiled, display_path
from archspec.emit.diagram_text import shape_text
from archspec.emit.pytorch import template_dir
from archspec.memory import estimate
from archspec.report import colours, counting, diffs, summary, tables
from archspec.report.counting import Verdict
from archspec.report.diagram import Tree, tree
from archspec.report.layers import coordinate
from archspec.report.payload import payload
from archspec.report.scatter import Scatter, scatter
from archspec.report.summary import Figure, Model
from archspec.report.sweeps import SweepSection, SweepTable, sweep_section
from archspec.report.tables import Table

TEMPLATE = "report/page.html.jinja"


@dataclass(frozen=True)
class Section:
    """Everything the page shows for one model."""

    anchor: str
    name: str
    title: str
    file: str
    reference: str
    input: str
    figures: list[Figure]
    stages: Table
    blocks: Table
    layers: Table
    layer_count: int
    verdicts: list[Verdict]
    breakdown: Table
    tree: Tree
    data: str  # JSON for the page's script: layer rows and the ops of each block


@dataclass(frozen=True)
class Page:
    title: str
    batch: int
    dtype: str
    sections: list[Section]
    comparison: Table | None
    scatter: Scatter | None
    pairs: str  # JSON for the diff view; "" with one model
    swatches: list[colours.Swatch]
    sweeps: list[SweepSection]

    @property
    def nav(self) -> bool:
        """A contents column: for more than one thing to show."""
        return len(self.sections) + len(self.sweeps) > 1


def _section(index: int, compiled: Compiled, model: Model) -> Section:
    arch, stats = compiled.arch, model.stats
    anchor = f"m{index}"
    verdicts, breakdown = counting.verdicts(f"{anchor}-conventions", arch, stats.totals)
    drawn = tree(arch, stats)
    return Section(
        anchor,
        compiled.name,
        arch.title or arch.name,
        display_path(compiled.loaded.file),
        arch.reference,
        shape_text(arch.input_shape),
        summary.card(model),
        tables.stage_table(f"{anchor}-stages", stats, arch),
        tables.block_table(f"{anchor}-blocks", stats),
        tables.layer_table(f"{anchor}-layers", stats),
        len(stats.layers),
        verdicts,
        breakdown,
        drawn,
        _json(payload(stats, arch, drawn)),
    )


def page(
    compiled: Sequence[Compiled],
    batch: int = 1,
    dtype: str = "float32",
    sweeps: Sequence[SweepTable] = (),
) -> Page:
    models = [Model(c.stats, estimate(c.arch, batch, dtype)) for c in compiled]
    sections = [_section(i, c, m) for i, (c, m) in enumerate(zip(compiled, models, strict=True))]
    several = len(sections) > 1
    stats, anchors = [m.stats for m in models], [s.anchor for s in sections]
    swept = [sweep_section(i, t, stats, anchors) for i, t in enumerate(sweeps)]
    names = ", ".join([*(s.name for s in sections), *(f"sweep {s.name}" for s in swept)])
    return Page(
        f"archspec report: {names}"
        if len(names) < 80
        else f"archspec report: {len(sections)} models" + (f", {len(swept)} sweeps" * bool(swept)),
        batch,
        dtype,
        sections,
        summary.comparison("comparison", models) if several else None,
        scatter([m.stats for m in models], [s.anchor for s in sections]) if several else None,
        _json(diffs.pairs([c.arch for c in compiled])) if several else "",
        colours.swatches(),
        swept,
    )


def _json(data: Any) -> str:
    """JSON that is safe inside a <script> element (no "</script>", no HTML comment)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def environment() -> Any:
    import jinja2  # noqa: PLC0415 - only the report needs Jinja's HTML mode

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["n"] = coordinate
    return env


def render_report(
    compiled: Sequence[Compiled],
    batch: int = 1,
    dtype: str = "float32",
    sweeps: Sequence[SweepTable] = (),
) -> str:
    """The report page of `compiled` (models) and `sweeps` (sweep tables) as HTML text."""
    shown = page(compiled, batch, dtype, sweeps)
    return str(environment().get_template(TEMPLATE).render(page=shown))
