"""One generic lowering for every block written as data (archspec.blocks).

A definition plus its arguments gives the IR ops, under the module path each member names (so
state_dict keys, stats, conventions, memory, receptive field and diagrams need nothing
block-specific), and the constructor call of its generated class (archspec/emit/block_class.py).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archspec.blocks.definition import BlockDef
from archspec.blocks.inplace import accumulating_steps
from archspec.blocks.language import OPS, Value
from archspec.blocks.syntax import Apply, Binary, Construct, Expr, Ref, Use
from archspec.errors import Loc
from archspec.expr import ExprError, Expression
from archspec.ir.graph import BlockClass, Builder, Call, Scope
from archspec.ir.ops import Add, Concat, GlobalAvgPool, Mul, Op
from archspec.lower.errors import LowerError


@dataclass(frozen=True)
class BlockCode:
    """What the emitter needs of a definition: the definition and one instance's member ops
    (ops state how the generated forward calls them)."""

    kind: str
    block: BlockDef
    ops: tuple[tuple[str, Op], ...]


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> Expression:
    """The parsed expression (immutable; a definition is lowered once per block)."""
    return Expression.parse(text)


def block_class(kind: str, block: BlockDef, ops: Mapping[str, Op]) -> BlockClass:
    digest = hashlib.sha256(block.model_dump_json().encode()).hexdigest()[:16]
    return BlockClass(
        "definition",
        block.class_name,
        (("kind", kind), ("digest", digest)),
        doc=block.doc,
        code=BlockCode(kind, block, tuple(ops.items())),
    )


# Blocks built inside blocks, at most this deep (cycles are refused on load).
MAX_DEPTH = 8
Resolve = Callable[[str], BlockDef | None]


@dataclass(frozen=True)
class Nested:
    """A member that is another block kind, with its evaluated arguments."""

    kind: str
    block: BlockDef
    args: dict[str, Value]


def lower_block(
    b: Builder,
    scope: Scope,
    x: str,
    kind: str,
    block: BlockDef,
    args: Mapping[str, Value],
    loc: Loc,
    resolve: Resolve,
    depth: int = 0,
) -> tuple[str, Call]:
    """Add the block's ops under `scope` (reading `x`); return its output node and its call.
    `loc` is where the spec uses the block: argument errors point there. `resolve` finds the
    block kinds that members build."""
    if depth > MAX_DEPTH:
        raise LowerError(loc, f"blocks nest deeper than {MAX_DEPTH}", "flatten the definitions")
    values = _bind(kind, block, args, loc)
    constructs = block.constructs()
    absent = _absent(kind, block, values, loc)
    members = {
        name: _member(kind, name, construct, values, loc, resolve)
        for name, construct in constructs.items()
        if name not in absent
    }
    run = _Run(b, scope.tagged(kind), {"x": x}, members, loc, resolve, depth)
    steps = block.steps()
    accumulating = accumulating_steps(steps)
    for index, step in enumerate(steps):
        name = step.target or "out"
        if isinstance(step.expr, Apply) and step.expr.func in absent:
            continue  # `v = member(...)` of an absent optional member: v keeps its value
        run.env[name] = run.lower(step.expr, index in accumulating)
    ops = {n: m for n, m in members.items() if isinstance(m, Op)}
    kwargs: list[tuple[str, Any]] = [(n, values[n]) for n in ctor_names(block, constructs)]
    # Blocks and optional members are built by the caller and passed in (as torchvision
    # passes `downsample`).
    kwargs += [(n, run.calls[n]) for n in members if n in run.calls]
    kwargs += [(n, ops[n]) for n in block.conditions() if n in ops]
    return run.env[name], Call(block_class(kind, block, ops), (), tuple(kwargs))


def _absent(kind: str, block: BlockDef, values: Mapping[str, Value], loc: Loc) -> set[str]:
    """The optional members whose `when` is false for these arguments."""
    absent = set()
    for name, text in block.conditions().items():
        try:
            holds = _parsed(text).evaluate(values)
        except ExprError as exc:
            message = f"block {kind!r}, member {name} `when`: {exc}"
            raise LowerError(loc, message, "check the arguments") from None
        if not isinstance(holds, bool):
            message = f"block {kind!r}, member {name} `when` gives {holds!r}, not true/false"
            raise LowerError(loc, message, "write a comparison, e.g. stride != 1")
        if not holds:
            absent.add(name)
    return absent


def ctor_names(block: BlockDef, constructs: Mapping[str, Construct]) -> list[str]:
    """The params and let values the always-built op members read: the generated class's
    constructor (optional members and blocks arrive built)."""
    optional = block.conditions()
    read = {
        arg.name
        for name, construct in constructs.items()
        if name not in optional and construct.target in OPS
        for arg in (*construct.args, *(v for _, v in construct.kwargs))
        if isinstance(arg, Ref)
    }
    return [name for name in (*block.params, *block.let) if name in read]


def _bind(kind: str, block: BlockDef, args: Mapping[str, Value], loc: Loc) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for name, param in block.params.items():
        value = args.get(name, param.default)
        if value is None:
            raise LowerError(loc, f"block {kind!r} needs param {name!r}", f"give {name}: <value>")
        if (param.type == "bool") != isinstance(value, bool):
            raise LowerError(loc, f"block {kind!r}: {name} must be {param.type}", "fix the value")
        if param.min is not None and value < param.min:
            raise LowerError(loc, f"block {kind!r}: {name} = {value} is below {param.min}", "")
        if param.max is not None and value > param.max:
            raise LowerError(loc, f"block {kind!r}: {name} = {value} is above {param.max}", "")
        values[name] = value
    for name, text in block.let.items():
        try:
            result = _parsed(text).evaluate(values)
        except ExprError as exc:
            raise LowerError(
                loc, f"block {kind!r}, let {name}: {exc}", "check the arguments"
            ) from None
        if not isinstance(result, int | bool):
            message = f"block {kind!r}, let {name} = {result!r} is not a whole number or bool"
            raise LowerError(loc, message, "round it with int(), round() or floor()")
        values[name] = result
    return values


def _member(
    kind: str,
    member: str,
    construct: Construct,
    values: Mapping[str, Value],
    loc: Loc,
    resolve: Resolve,
) -> Op | Nested:
    word = OPS.get(construct.target)
    given = [_value(a, values) for a in construct.args]
    if word is None:  # another block kind (checked on load)
        nested = resolve(construct.target)
        if nested is None:
            raise LowerError(loc, f"block {kind!r}: unknown kind {construct.target!r}", "")
        args = dict(zip(nested.params, given, strict=False))
        args.update((key, _value(a, values)) for key, a in construct.kwargs)
        return Nested(construct.target, nested, args)
    kwargs: dict[str, Value | None] = {arg.name: arg.default for arg in word.args}
    kwargs.update(zip((a.name for a in word.args), given, strict=False))
    kwargs.update((key, _value(a, values)) for key, a in construct.kwargs)
    for arg in word.args:
        value = kwargs[arg.name]
        bad_kind = value is None or (arg.kind is bool) != isinstance(value, bool)
        if bad_kind or (arg.kind is int and value is not None and value < 0):
            expected = "true or false" if arg.kind is bool else "a whole number >= 0"
            message = (
                f"block {kind!r}, member {member!r}: {arg.name} = {value!r} must be {expected}"
            )
            raise LowerError(loc, message, "check the block's let values")
    return word.build(**kwargs)


def _value(argument: Value | Ref, values: Mapping[str, Value]) -> Value:
    return values[argument.name] if isinstance(argument, Ref) else argument


@dataclass
class _Run:
    """The forward of one block instance being lowered: values by name, members, and the
    calls of the blocks its members build."""

    b: Builder
    scope: Scope
    env: dict[str, str]
    members: Mapping[str, Op | Nested]
    loc: Loc
    resolve: Resolve
    depth: int
    calls: dict[str, Call] = field(default_factory=dict)

    def lower(self, expr: Expr, inplace: bool = False) -> str:
        if isinstance(expr, Use):
            return self.env[expr.name]
        if isinstance(expr, Binary):
            left, right = self.lower(expr.left), self.lower(expr.right)
            op: Op = Add(inplace=inplace) if expr.op == "+" else Mul()
            name = "add" if expr.op == "+" else "mul"
            return self.b.add(op, [left, right], self.scope, name, module=False)
        return self._apply(expr)

    def _apply(self, expr: Apply) -> str:
        inputs = [self.lower(arg) for arg in expr.args]
        member = self.members.get(expr.func)
        if isinstance(member, Op):
            return self.b.add(member, inputs, self.scope, expr.func)
        if isinstance(member, Nested):
            scope = self.scope.child(expr.func)
            y, call = lower_block(
                self.b,
                scope,
                inputs[0],
                member.kind,
                member.block,
                member.args,
                self.loc,
                self.resolve,
                self.depth + 1,
            )
            self.calls[expr.func] = call
            return y
        op = GlobalAvgPool(functional=True) if expr.func == "mean" else Concat()
        return self.b.add(op, inputs, self.scope, expr.func, module=False)
