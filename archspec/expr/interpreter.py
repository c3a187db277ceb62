"""The interpreter: walks a checked tree; every failure is a located ExprError."""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from archspec.expr.functions import FUNCTIONS, SIGNATURES, is_number, kind_of
from archspec.expr.values import MAX_EXPONENT, MAX_INT, MAX_STR, ExprError, Value

BINARY_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}
COMPARISONS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


UNARY_OPS = (ast.USub, ast.UAdd, ast.Not)
CONSTANTS = {"true": True, "false": False, "True": True, "False": False}


class Interpreter:
    """Evaluates a checked tree against `env`; `column` locates a node in the user's text."""

    def __init__(self, column: Callable[[ast.AST], int], env: Mapping[str, Value]) -> None:
        self.column = column
        self.env = env

    def fail(self, node: ast.AST, message: str, hint: str = "") -> ExprError:
        return ExprError(message, self.column(node), hint)

    def eval(self, node: ast.expr) -> Value:
        method: Callable[[Any], Value] = getattr(self, f"_{type(node).__name__}")
        return method(node)

    def _Constant(self, node: ast.Constant) -> Value:
        return node.value

    def _Name(self, node: ast.Name) -> Value:
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in self.env:
            return self.env[node.id]
        if node.id in FUNCTIONS:
            raise self.fail(node, f"{node.id} is a function", f"call it: {node.id}(...)")
        close = difflib.get_close_matches(node.id, list(self.env), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(sorted(self.env))
        raise self.fail(node, f"unknown name {node.id!r}", hint)

    def _List(self, node: ast.List | ast.Tuple) -> Value:
        return [self.eval(item) for item in node.elts]

    _Tuple = _List

    def _Subscript(self, node: ast.Subscript) -> Value:
        items, index = self.eval(node.value), self.eval(node.slice)
        if not isinstance(items, list):
            raise self.fail(node, f"cannot index a {kind_of(items)}", "index a list, e.g. width[0]")
        if isinstance(index, bool) or not isinstance(index, int):
            raise self.fail(node.slice, f"an index is a whole number, got {kind_of(index)}")
        if not -len(items) <= index < len(items):
            raise self.fail(node.slice, f"index {index} is outside a list of {len(items)}")
        return items[index]

    def _UnaryOp(self, node: ast.UnaryOp) -> Value:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not _truth(self, node.operand, value)
        number = _number(self, node.operand, value)
        return -number if isinstance(node.op, ast.USub) else +number

    def _BinOp(self, node: ast.BinOp) -> Value:
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
            return _checked_text(self, node, left + right)
        a, b = _number(self, node.left, left), _number(self, node.right, right)
        if isinstance(node.op, ast.Pow):
            _check_power(self, node, a, b)
        try:
            result = BINARY_OPS[type(node.op)](a, b)
        except ZeroDivisionError:
            raise self.fail(node, "division by zero") from None
        except OverflowError:
            raise self.fail(node, "the result is too large") from None
        return _checked_number(self, node, result)

    def _BoolOp(self, node: ast.BoolOp) -> Value:
        want = isinstance(node.op, ast.Or)
        value: Value = want
        for operand in node.values:
            value = self.eval(operand)
            if _truth(self, operand, value) == want:
                return value
        return value

    def _IfExp(self, node: ast.IfExp) -> Value:
        test = _truth(self, node.test, self.eval(node.test))
        return self.eval(node.body if test else node.orelse)

    def _Compare(self, node: ast.Compare) -> Value:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                found = self._contains(left, comparator)
                ok = found if isinstance(op, ast.In) else not found
            else:
                right = self.eval(comparator)
                ok = _compare(self, comparator, type(op), left, right)
                left = right
            if not ok:
                return False
        return True

    def _contains(self, value: Value, node: ast.expr) -> bool:
        container = self.eval(node)
        if isinstance(node, ast.List) and len(node.elts) == 2:  # closed interval [lo, hi]
            low, high = container
            return _compare(self, node, ast.LtE, low, value) and _compare(
                self, node, ast.LtE, value, high
            )
        if not isinstance(container, list):
            raise self.fail(
                node, f"`in` needs a list, got {kind_of(container)}", "e.g. x in [1, 2]"
            )
        return value in container

    def _Call(self, node: ast.Call) -> Value:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        args = [self.eval(arg) for arg in node.args]
        kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg is not None}
        try:
            result = FUNCTIONS[name](*args, **kwargs)
        except ExprError as exc:
            raise self.fail(node, f"{name}(): {exc.message}", exc.hint) from None
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            raise self.fail(node, f"{name}(): {_plain(exc)}", SIGNATURES.get(name, "")) from None
        return _checked_number(self, node, result) if is_number(result) else result


def _plain(exc: Exception) -> str:
    return str(exc).split("\n")[0][:120] or type(exc).__name__


def _number(interp: Interpreter, node: ast.AST, value: Value) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if not is_number(value):
        raise interp.fail(node, f"expected a number, got a {kind_of(value)}")
    return value  # type: ignore[no-any-return]


def _truth(interp: Interpreter, node: ast.AST, value: Value) -> bool:
    if isinstance(value, list):
        raise interp.fail(node, "a list is not true or false", "compare it, or use all()/any()")
    return bool(value)


def _compare(interp: Interpreter, node: ast.AST, op: type, left: Value, right: Value) -> bool:
    if op in (ast.Eq, ast.NotEq):
        return COMPARISONS[op](left, right)
    same = (is_number(left) or isinstance(left, bool)) and (
        is_number(right) or isinstance(right, bool)
    )
    if not same and not (isinstance(left, str) and isinstance(right, str)):
        raise interp.fail(node, f"cannot order a {kind_of(left)} and a {kind_of(right)}")
    return COMPARISONS[op](left, right)


def _check_power(interp: Interpreter, node: ast.AST, base: float, exponent: float) -> None:
    if abs(exponent) > MAX_EXPONENT:
        where = node.right if isinstance(node, ast.BinOp) else node
        raise interp.fail(where, f"exponents are at most {MAX_EXPONENT}", "use a smaller power")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base).bit_length() * exponent > MAX_INT.bit_length():
            raise interp.fail(node, "the result is too large", "use a smaller power")


def _checked_number(interp: Interpreter, node: ast.AST, value: Value) -> Value:
    if isinstance(value, complex):
        raise interp.fail(node, "the result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise interp.fail(node, "the result is not a finite number")
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise interp.fail(node, "the result is too large", "use smaller numbers")
    return value


def _checked_text(interp: Interpreter, node: ast.AST, value: str) -> str:
    if len(value) > MAX_STR:
        raise interp.fail(node, f"strings are at most {MAX_STR} characters")
    return value
