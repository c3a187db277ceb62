"""An upper bound on the width of a forward step once emitted, so every generated line fits the
line length (generated files are `ruff format` fixed points without running it)."""

from __future__ import annotations

from collections.abc import Callable

from archspec.blocks.syntax import Apply, Binary, Expr, Step, Use

LINE_LENGTH = 100
INDENT = 12  # forward body, plus `if self.<member> is not None:` nesting
_PARENS = 2


def emitted_width(step: Step, extra: Callable[[str], int]) -> int:
    """`extra(func)`: what a call of `func` adds beyond `self.func(arg)` (a member's
    receiver form) or beyond `func(args)` (mean, cat)."""
    head = len(step.target) + 3 if step.target is not None else len("return ")
    return INDENT + head + _width(step.expr, extra)


def _width(expr: Expr, extra: Callable[[str], int]) -> int:
    if isinstance(expr, Use):
        return len(expr.name)
    if isinstance(expr, Binary):
        return _width(expr.left, extra) + 3 + _width(expr.right, extra) + 2 * _PARENS
    return _call(expr, extra)


def _call(expr: Apply, extra: Callable[[str], int]) -> int:
    args = sum(_width(arg, extra) + 2 for arg in expr.args)
    return len("self.") + len(expr.func) + _PARENS + args + _PARENS + extra(expr.func)
