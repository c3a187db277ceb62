"""Parsing: SI suffixes, Python's parser as a parser only, and the whitelist check."""

from __future__ import annotations

import ast
import difflib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from archspec.expr.functions import FUNCTIONS
from archspec.expr.interpreter import BINARY_OPS, COMPARISONS, CONSTANTS, UNARY_OPS, Interpreter
from archspec.expr.values import MAX_DEPTH, MAX_LENGTH, MAX_STR, ExprError, Value

_SI = {"k": "e3", "M": "e6", "G": "e9", "T": "e12"}
# A string literal is skipped whole; a number directly followed by an SI letter is rewritten.
_TOKEN = re.compile(
    r"""(?P<str>'[^'\\]*(?:\\.[^'\\]*)*'|"[^"\\]*(?:\\.[^"\\]*)*")"""
    r"|(?P<num>(?<![\w.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?P<si>[kMGT])(?![\w.])"
)


def parse_number(text: str) -> float | int:
    """A number as an option takes it: `2G`, `15M`, `4e9`, `300000`."""
    expression = Expression.parse(text.strip())
    value = expression.evaluate({})
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExprError(f"expected a number, got {text!r}", 1, "write e.g. 2G, 15M or 4e9")
    return value


def _expand_si(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Rewrite `2G` as `2e9`; return the text and (position in new text, extra chars) shifts."""
    out: list[str] = []
    shifts: list[tuple[int, int]] = []
    last = 0
    for match in _TOKEN.finditer(text):
        if match.group("si") is None:
            continue
        suffix = _SI[match.group("si")]
        out.append(text[last : match.start("si")] + suffix)
        shifts.append((match.start("si") + sum(s for _, s in shifts), len(suffix) - 1))
        last = match.end()
    out.append(text[last:])
    return "".join(out), shifts


@dataclass(frozen=True)
class Expression:
    """A parsed, whitelisted expression; evaluate it against an environment of names."""

    text: str
    tree: ast.expr
    names: frozenset[str]
    shifts: tuple[tuple[int, int], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Expression:
        if not isinstance(text, str):
            raise ExprError("an expression is text", 1, "quote it in YAML")
        if len(text) > MAX_LENGTH:
            raise ExprError(
                f"is {len(text):,} characters long; at most {MAX_LENGTH:,} are allowed",
                MAX_LENGTH,
                "split it into simpler constraints",
            )
        if not text.strip():
            raise ExprError("is empty", 1, "write an expression, e.g. params <= 15e6")
        _check_brackets(text)
        rewritten, shifts = _expand_si(text)
        tree = _syntax_tree(rewritten, text, tuple(shifts))
        names: set[str] = set()
        _Checker(text, rewritten, tuple(shifts), names).check(tree, 0)
        return cls(text, tree, frozenset(names), tuple(shifts))

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        return Interpreter(self.column, env).eval(self.tree)

    def column(self, node: ast.AST) -> int:
        return _column(self.text, _source(self), tuple(self.shifts), node)


def _source(expression: Expression) -> str:
    return _expand_si(expression.text)[0]


def _check_brackets(text: str) -> None:
    """Refuse deep bracket nesting before Python's parser sees it (its stack is finite)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth > MAX_DEPTH:
            raise ExprError(
                f"nests brackets more than {MAX_DEPTH} deep", i + 1, "simplify the expression"
            )


def _syntax_tree(source: str, text: str, shifts: tuple[tuple[int, int], ...]) -> ast.expr:
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": the error says it
            warnings.simplefilter("ignore")
            return ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        message = (exc.msg or "invalid syntax").split(" (")[0]
        if not exc.offset:  # Python reports offset 0 when the text ends too early
            message, exc.offset = f"{message}: the expression ends too early", len(source) + 1
        offset = _original(text, source, shifts, exc.offset - 1)
        raise ExprError(f"invalid syntax: {message}", offset + 1, _SYNTAX_HINT) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExprError("cannot be parsed", 1, _SYNTAX_HINT) from None


_SYNTAX_HINT = "check brackets, commas and operators; e.g. macs in [380e6, 420e6]"


def _original(text: str, source: str, shifts: tuple[tuple[int, int], ...], offset: int) -> int:
    """Character offset in the user's text of a character offset in the rewritten source."""
    del text, source
    moved = sum(extra for at, extra in shifts if at < offset)
    return max(0, offset - moved)


def _column(text: str, source: str, shifts: tuple[tuple[int, int], ...], node: ast.AST) -> int:
    """1-based column in the user's text; ast offsets count UTF-8 bytes of the source."""
    byte_offset = getattr(node, "col_offset", 0)
    chars = len(source.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))
    return _original(text, source, shifts, chars) + 1


_REFUSED = {
    ast.Attribute: ("attribute access (`.`) is not allowed", "use a plain name"),
    ast.Lambda: ("lambdas are not allowed", "write the expression directly"),
    ast.ListComp: ("comprehensions are not allowed", "use all(), any(), sum() on a list name"),
    ast.SetComp: ("comprehensions are not allowed", "use a list"),
    ast.DictComp: ("comprehensions are not allowed", "use a list"),
    ast.GeneratorExp: ("comprehensions are not allowed", "use all(), any(), sum() on a list"),
    ast.NamedExpr: ("`:=` is not allowed", "write the value directly"),
    ast.Dict: ("mappings are not allowed", "use a list"),
    ast.Set: ("sets are not allowed", "use a list"),
    ast.Starred: ("`*` unpacking is not allowed", "pass the list itself"),
    ast.JoinedStr: ("f-strings are not allowed", "use a plain string"),
    ast.Await: ("`await` is not allowed", "write the value directly"),
    ast.Yield: ("`yield` is not allowed", "write the value directly"),
    ast.Slice: ("slices are not allowed", "index one element, e.g. xs[0]"),
}


@dataclass
class _Checker:
    """Walks the tree once: whitelisted nodes only, known functions, no private names."""

    text: str
    source: str
    shifts: tuple[tuple[int, int], ...]
    names: set[str]

    def fail(self, node: ast.AST, message: str, hint: str) -> ExprError:
        return ExprError(message, _column(self.text, self.source, self.shifts, node), hint)

    def check(self, node: ast.AST, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nests more than {MAX_DEPTH} levels", "simplify it")
        refused = _REFUSED.get(type(node))
        if refused is not None:
            raise self.fail(node, *refused)
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:
            raise self.fail(node, f"{_describe(node)} is not allowed", _SYNTAX_HINT)
        handler(node)
        for child in _children(node):
            self.check(child, depth + 1)

    def _Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, str) and len(value) > MAX_STR:
            raise self.fail(node, f"strings are at most {MAX_STR} characters", "shorten it")
        if not isinstance(value, int | float | str) or isinstance(value, complex):
            raise self.fail(node, f"{type(value).__name__} values are not allowed", "use a number")

    def _Name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            raise self.fail(node, f"names starting with '_' are not allowed: {node.id!r}", "")
        if node.id not in CONSTANTS and node.id not in FUNCTIONS:
            self.names.add(node.id)

    def _Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else "this"
            raise self.fail(node, f"{name!r} is not a function here", _function_hint(name))
        if any(k.arg is None for k in node.keywords):
            raise self.fail(node, "`**` unpacking is not allowed", "name each argument")

    def _BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) not in BINARY_OPS:
            raise self.fail(node, "bitwise and matrix operators are not allowed", _OP_HINT)

    def _UnaryOp(self, node: ast.UnaryOp) -> None:
        if not isinstance(node.op, UNARY_OPS):
            raise self.fail(node, "`~` is not allowed", _OP_HINT)

    def _Compare(self, node: ast.Compare) -> None:
        for op in node.ops:
            if type(op) not in COMPARISONS and not isinstance(op, ast.In | ast.NotIn):
                raise self.fail(node, "`is` is not allowed", "use == or !=")

    def _BoolOp(self, node: ast.BoolOp) -> None:
        pass

    def _IfExp(self, node: ast.IfExp) -> None:
        pass

    def _List(self, node: ast.List) -> None:
        pass

    def _Tuple(self, node: ast.Tuple) -> None:
        pass

    def _Subscript(self, node: ast.Subscript) -> None:
        pass


_OP_HINT = "use + - * / // % ** and comparisons"


def _children(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Call):
        return [*node.args, *(k.value for k in node.keywords)]
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    return [
        child
        for child in ast.iter_child_nodes(node)
        if not isinstance(child, ast.expr_context | ast.operator | ast.unaryop | ast.boolop)
    ]


def _describe(node: ast.AST) -> str:
    return {"Subscript": "indexing"}.get(type(node).__name__, type(node).__name__)


def _function_hint(name: str) -> str:
    close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
    if close:
        return f"did you mean {close[0]}()?"
    return "functions: " + ", ".join(FUNCTIONS)
