"""Values, limits and the error type of the expression language."""

from __future__ import annotations

from typing import Any

from archspec.errors import ArchspecError

Value = Any  # int | float | bool | str | list[Value]

MAX_LENGTH = 2000
MAX_DEPTH = 100
MAX_EXPONENT = 256
MAX_INT = 2**96
MAX_STR = 200
MAX_LIST = 10_000


class ExprError(ArchspecError):
    """A located problem in an expression; `col` is 1-based within the expression text."""

    def __init__(self, message: str, col: int = 1, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.hint = hint

    def __str__(self) -> str:
        text = f"column {self.col}: {self.message}"
        return f"{text} (fix: {self.hint})" if self.hint else text
