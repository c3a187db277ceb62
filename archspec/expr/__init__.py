"""The safe expression language: constraints, derived widths and sizes, written as text.

`ast.parse(mode="eval")` is used only as a parser (syntax.py). The tree is checked against a
whitelist of node types and evaluated by a small interpreter (interpreter.py); user text is
never eval'd, exec'd or compiled. Names come from an explicit environment, functions from
FUNCTIONS (functions.py). Errors are ExprError with a 1-based column in the expression.

Language (a subset of Python expression syntax):
- numbers (`3`, `0.25`, `380e6`) with optional SI suffixes k, M, G, T (`2G` = 2e9, `15M`),
  strings, `true`/`false` (also `True`/`False`), lists `[a, b, c]`, indexing `xs[0]`, `xs[-1]`;
- `+ - * / // % **`, comparisons (chained: `1 <= x < 8`), `and or not`, `a if c else b`;
- `x in [lo, hi]`: with a two-element list literal on the right, the closed interval
  lo <= x <= hi (so `macs in [380e6, 420e6]` reads as a range); any other list is membership;
- functions: min max abs round floor ceil int log2 sqrt sum len all any, `increasing(xs)`,
  `nondecreasing(xs)`, `make_divisible(v, divisor, min_value=None, round_limit=0.9)` as
  timm/torchvision, and `series(start, step, count)`, the list start, start + step, ...
  (a dense block's layer inputs).
Limits bound the work any text can cause: length, nesting depth, exponent and integer size.
"""

from archspec.expr.functions import FUNCTIONS, make_divisible
from archspec.expr.syntax import Expression, parse_number
from archspec.expr.values import (
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_INT,
    MAX_LENGTH,
    MAX_STR,
    ExprError,
    Value,
)

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_INT",
    "MAX_LENGTH",
    "MAX_STR",
    "ExprError",
    "Expression",
    "Value",
    "make_divisible",
    "parse_number",
]
