"""Values, limits and the error type of the expression language."""

from __future__ import annotations

from typing import Any

from archspec.errors import ArchspecError

Value = Any  # int | float | bool | str | list[Value]

# Bounds on the work any text can cause. Real constraints are one line; the parser's and the
# checker's recursion stay far below Python's limit; no `9**9**9`; figures are below 2**64, so a
# larger integer is a mistake; strings are names and kinds, not data.
MAX_LENGTH = 2000
MAX_DEPTH = 100
MAX_EXPONENT = 256
MAX_INT = 2**96
MAX_STR = 200


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
