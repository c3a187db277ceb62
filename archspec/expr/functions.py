"""The functions an expression may call, with the argument checks that keep them total."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from archspec.expr.values import ExprError, Value


def kind_of(value: Value) -> str:
    return {bool: "true/false", int: "number", float: "number", str: "string", list: "list"}.get(
        type(value), type(value).__name__
    )


def is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def make_divisible(
    value: float, divisor: int, min_value: int | None = None, round_limit: float = 0.9
) -> int:
    """timm/torchvision `make_divisible`: the nearest multiple of divisor, not below min_value,
    and not more than 10% (1 - round_limit) below value."""
    if divisor <= 0:
        raise ExprError("divisor must be positive")
    floor_value = min_value or divisor
    rounded = max(floor_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return int(rounded)


def _numbers(args: Sequence[Value]) -> list[Value]:
    items = list(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)
    if not items:
        raise ExprError("needs at least one value")
    for item in items:
        if not is_number(item):
            raise ExprError(f"expected numbers, got a {kind_of(item)}")
    return items


def _list(value: Value) -> list[Value]:
    if not isinstance(value, list):
        raise ExprError(f"expected a list, got a {kind_of(value)}")
    return value


MAX_SERIES = 256


def _series(start: Value, step: Value, count: Value) -> list[Value]:
    """[start, start + step, ..., start + (count - 1) x step]: a dense block's layer inputs."""
    first, stride, size = _numbers([start, step, count])
    if isinstance(size, float) or not 0 <= size <= MAX_SERIES:
        raise ExprError(f"series count must be a whole number from 0 to {MAX_SERIES}")
    return [first + i * stride for i in range(size)]


def _log2(value: float) -> float:
    if value <= 0:
        raise ExprError("log2 needs a positive number")
    return math.log2(value)


def _sqrt(value: float) -> float:
    if value < 0:
        raise ExprError("sqrt needs a number >= 0")
    return math.sqrt(value)


def _round(value: float, digits: int | None = None) -> float | int:
    if digits is not None and not -20 <= digits <= 20:
        raise ExprError("round() takes at most 20 digits")
    return round(value) if digits is None else round(value, digits)


def _pairs(items: list[Value]) -> list[tuple[Value, Value]]:
    return list(zip(_numbers(items), items[1:], strict=False)) if len(items) > 1 else []


FUNCTIONS: dict[str, Callable[..., Value]] = {
    "min": lambda *a: min(_numbers(a)),
    "max": lambda *a: max(_numbers(a)),
    "abs": lambda v: abs(_numbers([v])[0]),
    "round": _round,
    "floor": lambda v: math.floor(_numbers([v])[0]),
    "ceil": lambda v: math.ceil(_numbers([v])[0]),
    "int": lambda v: int(_numbers([v])[0]),
    "log2": lambda v: _log2(_numbers([v])[0]),
    "sqrt": lambda v: _sqrt(_numbers([v])[0]),
    "sum": lambda v: sum(_numbers([_list(v)])) if _list(v) else 0,
    "len": lambda v: len(_list(v)),
    "all": lambda v: all(bool(x) for x in _list(v)),
    "any": lambda v: any(bool(x) for x in _list(v)),
    "increasing": lambda v: all(a < b for a, b in _pairs(_list(v))),
    "nondecreasing": lambda v: all(a <= b for a, b in _pairs(_list(v))),
    "make_divisible": make_divisible,
    "series": _series,
}
SIGNATURES = {
    "make_divisible": "make_divisible(value, divisor, min_value=None, round_limit=0.9)",
    "round": "round(x) or round(x, digits)",
    "series": "series(start, step, count)",
}
