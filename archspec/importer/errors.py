"""Errors of `archspec import`: a source that cannot be loaded (bad input, exit 2) and a model
whose structure has no spec form (a verdict, not an input error)."""

from __future__ import annotations

from archspec.errors import ArchspecError


class SourceError(ArchspecError):
    """SOURCE could not give a model: `SOURCE: error: what happened` with the Python frame."""

    def __init__(self, source: str, message: str, where: str = "") -> None:
        super().__init__(source, message, where)
        self.source, self.message, self.where = source, message, where

    def __str__(self) -> str:
        text = f"{self.source}: error: {self.message}"
        return f"{text}\n  at {self.where}" if self.where else text


class NotImportable(ArchspecError):
    """A construct with no spec form, and the submodule path where it sits."""

    def __init__(self, path: str, construct: str) -> None:
        super().__init__(path, construct)
        self.path, self.construct = path, construct

    def __str__(self) -> str:
        return f"{self.path or '(model)'}: {self.construct}"


class BadModel(NotImportable):
    """A model the importer refuses as input, not as a verdict: its forward cannot be traced
    (data-dependent control flow) or it is too large to read (exit 2, nothing written)."""

    def __str__(self) -> str:
        return f"error: {self.path or '(model)'}: {self.construct}"
