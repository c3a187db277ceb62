"""Design-space sweeps: many candidate networks, analysed fast, filtered by constraints.

From Python::

    from pathlib import Path
    from archspec.sweep import RunOptions, read_space, run_sweep

    space = read_space("specs/spaces/resnext_grid.yaml")
    table = run_sweep(space, RunOptions(Path("build/grid.csv"), workers=1))
    ok = [row for row in table.sorted_rows() if row["status"] == "ok"]

`Analyzer().figures(top, rows)` gives one candidate's figures from plain spec data, and
`fit_spec` scales a spec to a budget (what `archspec fit` runs).
"""

from archspec.sweep.figures import Analyzer, CandidateError, Figures, Memory
from archspec.sweep.fit import Budget, fit_spec
from archspec.sweep.run import RunOptions, run_sweep
from archspec.sweep.space import Space, parse_space, read_space

__all__ = [
    "Analyzer",
    "Budget",
    "CandidateError",
    "Figures",
    "Memory",
    "RunOptions",
    "Space",
    "fit_spec",
    "parse_space",
    "read_space",
    "run_sweep",
]
