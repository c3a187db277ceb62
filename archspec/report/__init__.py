"""`archspec report`: one self-contained HTML page for one or more specs and sweep tables."""

from archspec.report.page import render_report
from archspec.report.sweeps import SweepTableError, read_sweep

__all__ = ["SweepTableError", "read_sweep", "render_report"]
