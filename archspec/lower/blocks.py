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
from archspec.blocks.syntax import (
    Apply,
    Binary,
    Expr,
    Listed,
    Module,
    Ref,
    Use,
    calls_in,
    leaves,
)
from archspec.errors import Loc
from archspec.expr import ExprError, Expression
from archspec.ir.graph import BlockClass, Builder, Call, Scope, Seq
from archspec.ir.ops import (
    Add,
    Concat,
    Flatten,
    GlobalAvgPool,
    GroupSoftmax,
    GroupWeightedSum,
    Mul,
    Op,
)
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


@dataclass(frozen=True)
class Items:
    """A list member: its items, each an op, a block or a nested list."""

    items: tuple[Op | Nested | Items, ...]


Built = Op | Nested | Items


def built_inside(module: Module) -> bool:
    """Whether the generated class builds the member itself (ops only); blocks, and lists
    holding one, arrive built as constructor arguments."""
    return all(construct.target in OPS for construct in leaves(module))


def indexed_members(block: BlockDef) -> set[str]:
    """List members forward calls by index: nn.ModuleList, not nn.Sequential."""
    return {c.func for step in block.steps() for c in calls_in(step.expr) if c.index is not None}


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
        name: _member(kind, name, module, values, loc, resolve)
        for name, module in constructs.items()
        if name not in absent
    }
    run = _Run(b, scope.tagged(kind), {"x": x}, members, loc, resolve, depth, kind)
    if block.sequence is not None:
        for name in members:
            run.env["x"] = run.call(name, None, [run.env["x"]])
        name = "x"
    steps = block.steps()
    accumulating = accumulating_steps(steps)
    for index, step in enumerate(steps):
        name = step.target or "out"
        if isinstance(step.expr, Apply) and step.expr.func in absent:
            continue  # `v = member(...)` of an absent optional member: v keeps its value
        run.step = index
        run.env[name] = run.lower(step.expr, index in accumulating)
    ops = {n: m for n, m in members.items() if isinstance(m, Op)}
    return run.env[name], Call(block_class(kind, block, ops), *_arguments(block, values, run))


def _arguments(
    block: BlockDef, values: Mapping[str, Value], run: _Run
) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    """The generated constructor call: required params by position, the other params where
    they differ from their defaults, let values by keyword, then the members passed built
    (blocks, lists holding blocks, optional members), as torchvision passes `downsample`."""
    constructs = block.constructs()
    names = ctor_names(block, constructs)
    required = [n for n in names if n in block.params and block.params[n].default is None]
    args = tuple(values[n] for n in required)
    kwargs: list[tuple[str, Any]] = [
        (n, values[n])
        for n in names
        if n not in required and (n not in block.params or values[n] != block.params[n].default)
    ]
    optional = block.conditions()
    for name, module in constructs.items():
        if name in run.members and (name in optional or not built_inside(module)):
            kwargs.append((name, run.built(name)))
    return args, tuple(kwargs)


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


def ctor_names(block: BlockDef, constructs: Mapping[str, Module]) -> list[str]:
    """The params and let values the members the class builds itself read: the generated
    class's constructor (optional members and blocks arrive built). Required params come
    first, then let values, then params with defaults (Python's order)."""
    optional = block.conditions()
    read = {
        arg.name
        for name, module in constructs.items()
        if name not in optional and built_inside(module)
        for construct in leaves(module)
        for arg in (*construct.args, *(v for _, v in construct.kwargs))
        if isinstance(arg, Ref)
    }
    required = [n for n, p in block.params.items() if n in read and p.default is None]
    lets = [n for n in block.let if n in read]
    return [*required, *lets, *(n for n in block.params if n in read and n not in required)]


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
    module: Module,
    values: Mapping[str, Value],
    loc: Loc,
    resolve: Resolve,
) -> Built:
    if isinstance(module, Listed):
        items = (_member(kind, member, item, values, loc, resolve) for item in module.items)
        return Items(tuple(items))
    construct = module
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
    """The forward of one block instance being lowered: values by name, members, and what
    its members lowered to (for the constructor call)."""

    b: Builder
    scope: Scope
    env: dict[str, str]
    members: Mapping[str, Built]
    loc: Loc
    resolve: Resolve
    depth: int
    kind: str
    step: int = -1
    calls: dict[str, Any] = field(default_factory=dict)

    def add(self, op: Op, inputs: list[str], name: str, *, module: bool = True) -> str:
        node = self.b.add(op, inputs, self.scope, name, module=module)
        # Where the op comes from, to locate a shape error at the definition's step.
        self.b.arch.graph.nodes[node]["origin"] = (self.kind, self.step)
        return node

    def lower(self, expr: Expr, inplace: bool = False) -> str:
        if isinstance(expr, Use):
            return self.env[expr.name]
        if isinstance(expr, Binary):
            left, right = self.lower(expr.left), self.lower(expr.right)
            op: Op = Add(inplace=inplace) if expr.op == "+" else Mul()
            return self.add(op, [left, right], "add" if expr.op == "+" else "mul", module=False)
        inputs = [self.lower(arg) for arg in expr.args]
        if expr.func in self.members:
            return self.call(expr.func, expr.index, inputs)
        return self._function(expr.func, inputs)

    def call(self, name: str, index: int | None, inputs: list[str]) -> str:
        """Lower a member call (`name[index]` for a listed member)."""
        member = self.members[name]
        path = name
        if index is not None:
            assert isinstance(member, Items)
            member, path = member.items[index], f"{name}.{index}"
        y, value = self._module(member, path, inputs[0])
        self.calls[path] = value
        return y

    def _module(self, member: Built, path: str, x: str) -> tuple[str, Any]:
        """Add a member's ops at `path`; return its output and its value in generated code."""
        if isinstance(member, Op):
            return self.add(member, [x], path), member
        if isinstance(member, Items):
            values = []
            for i, item in enumerate(member.items):
                x, value = self._module(item, f"{path}.{i}", x)
                values.append(value)
            return x, Seq(tuple(values))
        return lower_block(
            self.b,
            self.scope.child(path),
            x,
            member.kind,
            member.block,
            member.args,
            self.loc,
            self.resolve,
            self.depth + 1,
        )

    def built(self, name: str) -> Any:
        """A member's value for the constructor call: what it lowered to; a ModuleList's
        items were lowered one by one."""
        if name in self.calls:
            return self.calls[name]
        member = self.members[name]
        assert isinstance(member, Items)
        items = tuple(self.calls[f"{name}.{i}"] for i in range(len(member.items)))
        return Seq(items, module_list=True)

    def _function(self, func: str, inputs: list[str]) -> str:
        if func == "mean":
            return self.add(GlobalAvgPool(functional=True), inputs, func, module=False)
        if func == "flatten":
            return self.add(Flatten(), inputs, func, module=False)
        if func == "cat":
            return self.add(Concat(), inputs, func, module=False)
        if func == "softmax":
            stacked = self.add(Concat(), inputs, "stack", module=False)
            return self.add(GroupSoftmax(len(inputs)), [stacked], func, module=False)
        weights, maps = inputs[0], inputs[1:]
        stacked = self.add(Concat(), maps, "stack", module=False)
        return self.add(GroupWeightedSum(len(maps)), [stacked, weights], func, module=False)
