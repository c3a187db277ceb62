"""Errors found while expanding a stage table: located by row-form field path."""

from __future__ import annotations

from archspec.errors import Loc


class LowerError(Exception):
    """An impossible network (bad widths, groups that don't divide, a map too small)."""

    def __init__(self, loc: Loc, message: str, hint: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.hint = hint
