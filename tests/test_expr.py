"""The safe expression language: semantics against Python's own, limits, refusals, fuzzing."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archspec.expr import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    ExprError,
    Expression,
    make_divisible,
    parse_number,
)

ENV = {"macs": 400_000_000, "params": 12_500_000, "width": [64, 128, 256, 512], "name": "r50"}


def ev(text: str, env: dict[str, object] | None = None) -> object:
    return Expression.parse(text).evaluate(ENV if env is None else env)


@pytest.mark.parametrize(
    "text",
    [
        "1 + 2 * 3 - 4 / 5",
        "7 // 2 + 7 % 3 - 2 ** 10",
        "-3 ** 2",
        "1 < 2 <= 2 < 3",
        "3 > 2 > 2",
        "not 0 or 5 and 6",
        "0 and 1/0",
        "1 if 2 > 3 else 4",
        "min(3, 1, 2) + max([4, 9]) + abs(-2.5)",
        "round(2.5) + round(3.5) + round(2.675, 2)",
        "int(7.9) + sum([1, 2, 3]) + len([1, 2])",
        "2 in [1, 2, 3] and 5 not in [1, 2, 3]",
        "'a' + 'b' == 'ab'",
        "[1, 2][-1] + [4, 5, 6][0]",
    ],
)
def test_arithmetic_matches_python(text: str) -> None:
    # Python is the oracle: these expressions mean in archspec what they mean in Python.
    assert ev(text) == eval(text)


def test_math_functions_match_the_math_module() -> None:
    assert ev("floor(-2.5)") == math.floor(-2.5)
    assert ev("ceil(2.1)") == math.ceil(2.1)
    assert ev("log2(1024)") == 10.0
    assert ev("sqrt(2)") == math.sqrt(2)


@pytest.mark.parametrize(
    ("value", "divisor", "kwargs"),
    [(37.5, 8, {}), (3.0, 8, {}), (100.0, 16, {}), (91.0, 8, {"min_value": 32}), (6.9, 4, {})]
    + [(v / 4, 8, {"round_limit": 0.0}) for v in (24, 40, 72, 200, 1000)],
)
@pytest.mark.slow
def test_make_divisible_equals_timm_and_torchvision(
    value: float, divisor: int, kwargs: dict[str, float]
) -> None:
    from timm.layers import make_divisible as timm_make_divisible
    from torchvision.models._utils import _make_divisible

    expected = timm_make_divisible(value, divisor, **kwargs)
    assert make_divisible(value, divisor, **kwargs) == expected  # type: ignore[arg-type]
    args = ", ".join([str(value), str(divisor), *(f"{k}={v}" for k, v in kwargs.items())])
    assert ev(f"make_divisible({args})") == expected
    if not kwargs:
        assert make_divisible(value, divisor) == _make_divisible(value, divisor)


def test_closed_interval_and_membership() -> None:
    assert ev("macs in [380e6, 420e6]")
    assert ev("macs in [400e6, 400e6]")  # closed at both ends
    assert not ev("macs in [380e6, 399999999]")
    assert ev("macs not in [1, 2]")
    assert ev("128 in width") and not ev("100 in width")
    assert ev("3 in [1, 3, 5]") and not ev("2 in [1, 3, 5]")  # 3+ items: membership


def test_si_suffixes() -> None:
    assert ev("2G") == 2e9
    assert ev("15M + 1k") == 15e6 + 1e3
    assert ev("1.5T") == 1.5e12
    assert ev("params <= 15M")
    assert parse_number("2G") == 2e9
    assert ev("'2G'") == "2G"  # inside a string, untouched


def test_monotone_widths() -> None:
    assert ev("increasing(width) and nondecreasing([1, 1, 2])")
    assert not ev("increasing([1, 1, 2])")
    assert ev("all([1, 2]) and not any([0, 0])")


def test_names_are_collected() -> None:
    assert Expression.parse("macs <= 2G and params < x + y").names == {"macs", "params", "x", "y"}


@pytest.mark.parametrize(
    ("text", "col", "words"),
    [
        ("__import__('os')", 1, "not a function"),
        ("().__class__", 1, "attribute"),
        ("macs.real", 1, "attribute"),
        ("(lambda: 1)()", 1, "not a function"),
        ("lambda: 1", 1, "lambda"),
        ("[x for x in width]", 1, "comprehension"),
        ("{x: 1 for x in width}", 1, "comprehension"),
        ("sum(x for x in width)", 4, "comprehension"),
        ("__builtins__", 1, "'_'"),
        ("_private + 1", 1, "'_'"),
        ("open('/etc/passwd')", 1, "not a function"),
        ("eval('1')", 1, "not a function"),
        ("width[0:2]", 7, "slice"),
        ("(y := 3)", 2, ":="),
        ("{1: 2}", 1, "mapping"),
        ("{1, 2}", 1, "set"),
        ("f'{macs}'", 1, "f-string"),
        ("min(*width)", 5, "unpacking"),
        ("1 is 1", 1, "`is`"),
        ("~1", 1, "`~`"),
        ("1 << 3", 1, "bitwise"),
        ("9 ** 9 ** 9", 6, "exponent"),
        ("10 ** 200 * 10 ** 200", 1, "too large"),
        ("1e308 * 10", 1, "finite"),
        ("(-8) ** 0.5", 1, "real"),
        ("1 / 0", 1, "division by zero"),
        ("widht > 3", 1, "did you mean 'width'"),
        ("macs in 3", 9, "needs a list"),
        ("width + 1", 1, "expected a number"),
        ("'a' < 1", 7, "cannot order"),
        ("width[9]", 7, "outside"),
        ("macs +", 7, "ends too early"),
        ("", 1, "empty"),
        ("x = 1", 3, "invalid syntax"),
        ("1; import os", 2, "invalid syntax"),
        ("make_divisible(1, 0)", 1, "divisor"),
        ("log2(-1)", 1, "positive"),
        ("min()", 1, "at least one"),
        ("maxx(1)", 1, "did you mean max()"),
        ("2G + foo", 6, "unknown name"),
    ],
)
def test_refused_with_a_located_error(text: str, col: int, words: str) -> None:
    with pytest.raises(ExprError) as info:
        ev(text)
    assert words in str(info.value)
    assert info.value.col == col


def test_limits() -> None:
    with pytest.raises(ExprError, match="characters long"):
        Expression.parse("1+" * MAX_LENGTH + "1")
    with pytest.raises(ExprError, match="brackets"):
        Expression.parse("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(ExprError, match="levels"):
        Expression.parse("-" * (MAX_DEPTH + 5) + "1")
    with pytest.raises(ExprError, match="too large"):
        ev("2 ** 200 * 2 ** 200")
    with pytest.raises(ExprError, match="too large"):
        ev("int(1e300)")


def test_every_function_is_documented_in_the_module() -> None:
    import archspec.expr as module

    for name in FUNCTIONS:
        assert name in (module.__doc__ or "")


ALPHABET = "0123456789.+-*/%()[],<>=!ifelsnotandr _abcxyzwidthmacs'\"GMk~@:;{}^&|\\\n"


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_fuzz_never_raises_anything_but_expr_error(text: str) -> None:
    try:
        Expression.parse(text).evaluate({"x": 3, "y": 2.5, "width": [1, 2, 3], "macs": 4e8})
    except ExprError:
        pass


TOKENS = [*FUNCTIONS, "x", "width", "(", ")", "[", "]", ",", "+", "-", "*", "**", "/", "//"]
TOKENS += ["%", "<", "<=", "==", " in ", " and ", " or ", " not ", " if ", " else ", "1", "0"]
TOKENS += ["2.5", "3G", "-1", "1e308", "99999999999", "'s'", "True", "_x", ".real", "lambda"]


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_fuzz_token_soup(tokens: list[str]) -> None:
    text = "".join(tokens)
    try:
        Expression.parse(text).evaluate({"x": 7, "width": [8, 16, 32]})
    except ExprError:
        pass
