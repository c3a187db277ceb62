"""An upper bound on the width of a forward step once emitted, so every generated line fits the
line length (generated files are `ruff format` fixed points without running it)."""

from __future__ import annotations

from collections.abc import Callable

from archspec.blocks.language import CARDINAL_EXTRA, FUNCTION_EXTRA
from archspec.blocks.syntax import Apply, Binary, Expr, Step, Use

LINE_LENGTH = 100
INDENT = 12  # forward body, plus `if self.<member> is not None:` nesting
_PARENS = 2


def emitted_width(step: Step, extra: Callable[[str], int]) -> int:
    """`extra(func)`: what a call of member `func` adds beyond `self.func(arg)` (a receiver
    form such as ECA's conv); a forward function's form is FUNCTION_EXTRA around its args."""
    head = len(step.target) + 3 if step.target is not None else len("return ")
    return INDENT + head + _width(step.expr, extra)


def _width(expr: Expr, extra: Callable[[str], int]) -> int:
    if isinstance(expr, Use):
        return len(expr.name)
    if isinstance(expr, Binary):
        return _width(expr.left, extra) + 3 + _width(expr.right, extra) + 2 * _PARENS
    return _call(expr, extra)


def _call(expr: Apply, extra: Callable[[str], int]) -> int:
    # The arguments, separated by ", ".
    args = sum(_width(arg, extra) for arg in expr.args) + 2 * max(len(expr.args) - 1, 0)
    if expr.func in FUNCTION_EXTRA:  # written around its arguments (mean: `v.mean(...)`)
        # each: the member's name and a loop name (at most `module`) twice; each_split: the
        # member's name; a count is a number or `self.name`.
        on = len(expr.on or "")
        named = {"each": on + 2 * max(on, len("module")), "each_split": on}.get(expr.func, 0)
        counts = sum(len(f"self.{c}") for c in expr.counts)
        if expr.func == "group_softmax" and len(expr.counts) > 1:
            counts += CARDINAL_EXTRA
        # Parentheses around a receiver that is an operation.
        parens = _PARENS if any(isinstance(arg, Binary) for arg in expr.args) else 0
        return args + FUNCTION_EXTRA[expr.func] + parens + named + counts
    return len("self.") + len(expr.func) + _PARENS + args + extra(expr.func)
