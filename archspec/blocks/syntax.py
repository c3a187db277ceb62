"""The block language's two small grammars, parsed (never run) into plain values.

- a member: a constructor call, `conv2d(channels, reduced, 1, bias=true)`, whose arguments are
  numbers, `true`/`false`, or names of the block's params and `let` values;
- a list of members: an nn.Sequential (called whole) or nn.ModuleList (called by index);
- a forward step: `name = expression` or `return expression`, where an expression is a name,
  a call of a member (`conv1(x)`, or `convs[0](x)` for a listed one) or of a forward function
  (archspec.blocks.language.FUNCTIONS) on expressions, or `a + b`, `a * b`.

`ast.parse` is only the parser; every node is checked against a whitelist and converted into the
frozen values below, so no user text ever reaches eval, exec or compile. Parses are cached by
text (the values are immutable): a definition is lowered once per block of a network.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass

MAX_TEXT = 300
MAX_NESTING = 16
_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)\s*(.*)$", re.DOTALL)
_RETURN = re.compile(r"^\s*return\s+(.*)$", re.DOTALL)
_WORDS = {"true": True, "false": False, "True": True, "False": False}

Literal = int | bool | float


@dataclass(frozen=True)
class Ref:
    """A name of a param or `let` value, as a member argument."""

    name: str


Argument = Literal | Ref


@dataclass(frozen=True)
class Construct:
    """A member's constructor: `target(args..., key=value...)`."""

    target: str
    args: tuple[Argument, ...]
    kwargs: tuple[tuple[str, Argument], ...]


@dataclass(frozen=True)
class Listed:
    """A list member: items are constructs, nested lists (nn.Sequential inside), or items that
    exist only where a condition holds (absent ones drop out, the rest are numbered on)."""

    items: tuple[Module | OptionalItem, ...]


@dataclass(frozen=True)
class OptionalItem:
    """`{op: ..., when: ...}` inside a list member."""

    module: Module
    when: str


@dataclass(frozen=True)
class Each:
    """`{each: construct}`: one item per element of the list params the construct reads (they
    are zipped: item i reads element i of each), an nn.ModuleList the caller builds."""

    construct: Construct


Module = Construct | Listed | Each


def leaves(module: Module | OptionalItem) -> list[Construct]:
    """Every constructor call in a member, in order."""
    if isinstance(module, OptionalItem):
        return leaves(module.module)
    if isinstance(module, Construct):
        return [module]
    if isinstance(module, Each):
        return [module.construct]
    return [leaf for item in module.items for leaf in leaves(item)]


def first_leaf(module: Module | OptionalItem) -> Construct:
    """The construct that may see a member's input first."""
    if isinstance(module, OptionalItem):
        return first_leaf(module.module)
    if isinstance(module, Each):
        return module.construct
    return module if isinstance(module, Construct) else first_leaf(module.items[0])


def item_conditions(module: Module) -> list[str]:
    """The `when` texts of a list member's optional items."""
    if not isinstance(module, Listed):
        return []
    return [
        text
        for item in module.items
        for text in (
            [item.when, *item_conditions(item.module)]
            if isinstance(item, OptionalItem)
            else item_conditions(item)
        )
    ]


@dataclass(frozen=True)
class Use:
    name: str


Count = int | str  # a whole number, or the name of an int param or let value


@dataclass(frozen=True)
class Apply:
    """A call of a member or forward function on values; `index` picks a listed member's item.
    Functions over a list member name it in `on` (`each(paths, x)`); those over channel
    groups take their sizes as `counts` (`group_sum(v, radix)`)."""

    func: str
    args: tuple[Expr, ...]
    index: int | None = None
    on: str | None = None
    counts: tuple[Count, ...] = ()


@dataclass(frozen=True)
class Binary:
    op: str  # "+" | "*"
    left: Expr
    right: Expr


Expr = Use | Apply | Binary


@dataclass(frozen=True)
class Step:
    """`target = expr`; target None is the final `return expr`. `when`: the bool param or let
    value under which the step runs (it is skipped where false, or runs `otherwise`, an
    expression for the same target, where one is given)."""

    target: str | None
    expr: Expr
    when: str | None = None
    otherwise: Expr | None = None

    def exprs(self) -> list[Expr]:
        """The step's expressions: both branches of an if/else step."""
        return [self.expr] if self.otherwise is None else [self.expr, self.otherwise]


class SyntaxProblem(ValueError):
    """Text the grammar refuses; the message says what and how to write it."""


def _tree(text: str, what: str) -> ast.expr:
    if len(text) > MAX_TEXT:
        raise SyntaxProblem(f"is over {MAX_TEXT} characters; split the {what}")
    if "\n" in text.strip():
        raise SyntaxProblem(f"a {what} is one line")
    if text.count("(") != text.count(")") and what == "member":
        raise SyntaxProblem(
            "has unbalanced parentheses: in a YAML [a, b] list the commas split items, so "
            "write one item per line (`- conv2d(...)`) or quote each item"
        )
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise SyntaxProblem(f"is not a valid {what}") from None


@functools.lru_cache(maxsize=4096)
def parse_construct(text: str) -> Construct:
    node = _tree(text, "member")
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise SyntaxProblem("a member is an op or block call, e.g. conv2d(channels, width, 1)")
    args = tuple(_argument(arg) for arg in node.args)
    kwargs = []
    for keyword in node.keywords:
        if keyword.arg is None:
            raise SyntaxProblem("`**` is not part of the language; name each argument")
        kwargs.append((keyword.arg, _argument(keyword.value)))
    return Construct(node.func.id, args, tuple(kwargs))


MAX_LIST = 16


def parse_module(value: object, depth: int = 0) -> Module:
    """A member: constructor text, a list of them (one level of nested lists), or
    `{each: text}`."""
    if isinstance(value, str):
        return parse_construct(value)
    if isinstance(value, dict) and set(value) == {"each"} and depth == 0:
        return Each(parse_construct(value["each"]))
    if isinstance(value, list | tuple):
        if not value or len(value) > MAX_LIST:
            raise SyntaxProblem(f"a list member holds 1 to {MAX_LIST} items")
        if depth > 1:
            raise SyntaxProblem("lists nest at most two deep")
        return Listed(tuple(_item(item, depth + 1) for item in value))
    raise SyntaxProblem("a member is an op or block call, or a list of them")


def _item(value: object, depth: int) -> Module | OptionalItem:
    if isinstance(value, dict):
        if set(value) != {"op", "when"} or not isinstance(value["when"], str):
            raise SyntaxProblem("an optional list item is {op: ..., when: <condition>}")
        return OptionalItem(parse_module(value["op"], depth), value["when"])
    return parse_module(value, depth)


def _argument(node: ast.expr) -> Argument:
    if isinstance(node, ast.Name):
        return _WORDS.get(node.id, Ref(node.id))
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    constant = node.operand if isinstance(node, ast.UnaryOp) else node
    value = constant.value if isinstance(constant, ast.Constant) else None
    if type(value) in (int, float) and (negative or not isinstance(node, ast.UnaryOp)):
        number = float(value) if isinstance(value, float) else int(value)  # type: ignore[arg-type]
        return -number if negative else number
    raise SyntaxProblem(
        "a member argument is a number, true/false, or the name of a param or let value "
        "(compute it under `let:`)"
    )


@functools.lru_cache(maxsize=4096)
def parse_step(text: str) -> Step:
    if not isinstance(text, str):
        raise SyntaxProblem("a forward step is text such as `out = conv1(x)`")
    returned = _RETURN.match(text)
    if returned:
        return Step(None, _expression(_tree(returned.group(1), "forward step"), 0))
    assigned = _ASSIGN.match(text)
    if not assigned:
        raise SyntaxProblem("write `name = expression` or, last, `return expression`")
    return Step(assigned.group(1), _expression(_tree(assigned.group(2), "forward step"), 0))


def _expression(node: ast.expr, depth: int) -> Expr:
    if depth > MAX_NESTING:
        raise SyntaxProblem(f"nests deeper than {MAX_NESTING}; use more steps")
    if isinstance(node, ast.Name):
        return Use(node.id)
    if isinstance(node, ast.Call) and not node.keywords:
        if isinstance(node.func, ast.Name) and node.func.id in SIGNATURES:
            return _special(node.func.id, node.args, depth)
        args = tuple(_expression(arg, depth + 1) for arg in node.args)
        if isinstance(node.func, ast.Name):
            return Apply(node.func.id, args)
        func = node.func
        if (
            isinstance(func, ast.Subscript)
            and isinstance(func.value, ast.Name)
            and isinstance(func.slice, ast.Constant)
            and type(func.slice.value) is int
            and 0 <= func.slice.value < MAX_LIST
        ):
            return Apply(func.value.id, args, func.slice.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mult):
        op = "+" if isinstance(node.op, ast.Add) else "*"
        return Binary(op, _expression(node.left, depth + 1), _expression(node.right, depth + 1))
    raise SyntaxProblem(
        "a step uses names, calls of members (`convs[0](x)` for a listed one) or of forward "
        "functions, `+` and `*` only "
        "(compute numbers under `let:`)"
    )


# Forward functions with arguments that are not values: (names a list member first, the
# number of values, (fewest, most) counts after them).
SIGNATURES: dict[str, tuple[bool, int, tuple[int, int]]] = {
    "each": (True, 1, (0, 0)),
    "each_split": (True, 1, (0, 0)),
    "group_sum": (False, 1, (1, 1)),
    "group_softmax": (False, 1, (1, 2)),
    "group_mix": (False, 2, (1, 1)),
    "chunk": (False, 1, (2, 2)),
}


def _special(func: str, nodes: list[ast.expr], depth: int) -> Apply:
    """`each(paths, x)`, `group_sum(v, radix)`, ...: a member name, values, then counts."""
    on_member, count, (low, high) = SIGNATURES[func]
    start = 1 if on_member else 0
    if not start + count + low <= len(nodes) <= start + count + high:
        words = ["member"] * start + ["value"] * count + ["count"] * low
        words += ["[count]"] * (high - low)
        raise SyntaxProblem(f"write {func}({', '.join(words)})")
    on = None
    if on_member:
        if not isinstance(nodes[0], ast.Name):
            raise SyntaxProblem(f"{func}'s first argument names a list member: {func}(paths, x)")
        on = nodes[0].id
    args = tuple(_expression(n, depth + 1) for n in nodes[start : start + count])
    if on_member and not isinstance(args[0], Use):
        raise SyntaxProblem(f"{func}'s value is a name: compute it in a step before")
    return Apply(func, args, on=on, counts=tuple(_count(n) for n in nodes[start + count :]))


def _count(node: ast.expr) -> Count:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 0:
        return node.value
    raise SyntaxProblem("a count is a whole number or the name of an int param or let value")


def names_in(expr: Expr) -> list[str]:
    """Every value name an expression reads."""
    if isinstance(expr, Use):
        return [expr.name]
    if isinstance(expr, Apply):
        return [name for arg in expr.args for name in names_in(arg)]
    return names_in(expr.left) + names_in(expr.right)


def calls_in(expr: Expr) -> list[Apply]:
    if isinstance(expr, Use):
        return []
    if isinstance(expr, Apply):
        return [expr, *(call for arg in expr.args for call in calls_in(arg))]
    return calls_in(expr.left) + calls_in(expr.right)
