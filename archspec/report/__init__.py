"""`archspec report`: one self-contained HTML page for one or more specs."""

from archspec.report.page import render_report

__all__ = ["render_report"]
