"""One generic lowering for every block written as data (archspec.blocks).

A definition plus its arguments gives the IR ops, under the module path each member names (so
state_dict keys, stats, conventions, memory, receptive field and diagrams need nothing
block-specific), and the constructor call of its generated class (archspec/emit/block_class.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archspec.blocks.definition import DENSE_MEMBER, BlockDef, fits
from archspec.blocks.inplace import accumulating_steps
from archspec.blocks.language import OPS, Value
from archspec.blocks.syntax import (
    Apply,
    Binary,
    Construct,
    Each,
    Expr,
    Listed,
    Module,
    OptionalItem,
    Ref,
    Step,
    Use,
    calls_in,
    leaves,
)
from archspec.errors import Loc
from archspec.expr import ExprError, Expression
from archspec.ir.graph import BlockClass, Builder, Call, Scope, Seq
from archspec.ir.ops import (
    Add,
    BatchNorm2d,
    ChannelChunk,
    Concat,
    Conv2d,
    Flatten,
    GlobalAvgPool,
    GlobalMaxPool,
    GroupSoftmax,
    GroupSum,
    GroupWeightedSum,
    Mul,
    Op,
)
from archspec.lower.choice import DEFAULT, Choice, chosen, chosen_resolver, mark, uses_choice
from archspec.lower.errors import LowerError


@dataclass(frozen=True)
class BlockCode:
    """What the emitter needs of a definition: the definition and one instance's member ops
    (ops state how the generated forward calls them)."""

    kind: str
    block: BlockDef
    ops: tuple[tuple[str, Op], ...]
    # (conv, norm) member paths the class's `fuse` folds (archspec.emit.fusion).
    fusible: tuple[tuple[str, str], ...] = ()
    # The Python type of each let value ("int", "bool", "float"), for the signature.
    let_types: tuple[tuple[str, str], ...] = ()


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> Expression:
    """The parsed expression (immutable; a definition is lowered once per block)."""
    return Expression.parse(text)


def block_class(
    kind: str,
    block: BlockDef,
    ops: Mapping[str, Op],
    fusible: tuple[tuple[str, str], ...] = (),
    values: Mapping[str, Value] | None = None,
) -> BlockClass:
    types = tuple((n, type(v).__name__) for n, v in (values or {}).items() if n in block.let)
    return BlockClass(
        "definition",
        block.class_name,
        (("kind", kind), ("digest", block.digest)),
        last_norm=block.zero_init,
        doc=block.doc,
        code=BlockCode(kind, block, tuple(ops.items()), fusible, types),
    )


# Blocks built inside blocks, at most this deep (cycles are refused on load).
MAX_DEPTH = 8
Resolve = Callable[[str], BlockDef | None]
# What fills a slot member: adds its ops under the scope, reading the value; returns its output
# and its value in generated code (what the caller passes to the constructor).
SlotFill = Callable[[Builder, Scope, str], tuple[str, Any]]


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


@functools.lru_cache(maxsize=4096)
def built_inside(module: Module) -> bool:
    """Whether the generated class builds the member itself (ops only); blocks, and lists
    holding one, arrive built as constructor arguments."""
    if isinstance(module, Each):
        return False  # how many items there are is the arguments' business
    if isinstance(module, Listed) and any(isinstance(i, OptionalItem) for i in module.items):
        return False  # which items exist is the arguments' business: built by the caller
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
    fills: Mapping[str, SlotFill] | None = None,
    *,
    tagged: bool = True,
    choice: Choice = DEFAULT,
) -> tuple[str, Call]:
    """Add the block's ops under `scope` (reading `x`); return its output node and its call.
    `loc` is where the spec uses the block: argument errors point there. `resolve` finds the
    block kinds that members build; `fills` fills slot members (the others are left out).
    `tagged`: the ops belong to an add-on named by the kind (attention, a nested block), for
    breakdowns and diagrams; a stage's own blocks are not. `choice`: the network's activation
    and norm, for the definition's act() and norm() (archspec.lower.choice); blocks built
    inside take the same."""
    if depth > MAX_DEPTH:
        raise LowerError(loc, f"blocks nest deeper than {MAX_DEPTH}", "flatten the definitions")
    if depth == 0:
        block, resolve = _chosen(b, scope, block, resolve, choice)
    fills = fills or {}
    values, absent, members = block_plan(kind, block, args, loc, resolve)
    slots = block.slots()
    if slots:
        absent = absent | {n for n in slots if n not in fills}
    # Ops inside a nested block belong to the outermost add-on (an SK conv's paths are "sk").
    inner = scope.tagged(kind) if tagged and not scope.tag else scope
    run = _Run(b, inner, {"x": x}, members, loc, resolve, depth, kind, fills, values)
    if block.sequence is not None:
        for index, member in enumerate(members):
            run.step = index
            run.env["x"] = run.call(member, None, [run.env["x"]])
    if block.dense is not None:
        run.env["x"] = run.dense(block.dense.name)
    name = _run_steps(run, _static(block), absent) if block.steps() else "x"
    # The class is one per definition (BlockClass equality ignores `code`): its member ops and
    # fuse pairs are read off the first instance a network lowers.
    cls = b.memo.get(("class", kind + block.digest))
    if cls is None:
        ops = {n: m for n, m in members.items() if isinstance(m, Op)}
        pairs = _fusible(b, scope.prefix, run.nodes, block)
        cls = block_class(kind, block, ops, pairs, values)
        b.memo[("class", kind + block.digest)] = cls
    return run.env[name], Call(cls, *_arguments(block, values, run))


def _chosen(
    b: Builder, scope: Scope, block: BlockDef, resolve: Resolve, choice: Choice
) -> tuple[BlockDef, Resolve]:
    """The definition and resolver with act()/norm() rewritten; records which words a stage
    (or the stem, ...) used, so a choice nothing takes is refused (archspec.lower.model)."""
    # One chosen resolver per (resolver, choice): plans of blocks that nest others are cached
    # by their resolver's identity (block_plan), so a fresh one per block would defeat that.
    key = ("chosen", f"{id(resolve)}:{choice}")
    found = b.memo.get(key)
    if found is None or found[0] is not resolve:
        found = b.memo[key] = (resolve, chosen_resolver(resolve, choice))
    for word in uses_choice(block):
        mark(b.memo, scope.stage, word)
    return chosen(block, choice), found[1]


def choice_used(b: Builder, stage: str, word: str) -> bool:
    """Whether a block of `stage` (or any, for "") wrote act() or norm()."""
    if stage:
        return bool(b.memo.get(("choice used", f"{stage}:{word}")))
    return any(k[0] == "choice used" and k[1].endswith(f":{word}") for k in b.memo)


def _run_steps(run: _Run, facts: _Facts, absent: set[str]) -> str:
    """Lower the forward steps; return the name of the value returned."""
    env, name = run.env, "x"
    for index, name, step in facts.program:
        run.step = index
        when = facts.conditions.get(index)
        if when is not None and not _holds(run.kind, when, run.values, run.loc):
            otherwise = facts.otherwise.get(index)
            if otherwise is not None:
                env[name] = run.lower(otherwise)
            continue  # a conditional step whose condition is false: v keeps its value
        if isinstance(step, tuple):  # `v = member(w)`
            func, source = step
            if func in absent:
                continue  # an absent optional member: v keeps its value
            member = run.members.get(func)
            if isinstance(member, Op):
                node = run.b.add(member, [env[source]], run.scope, func, origin=(run.kind, index))
                run.nodes.append(node)
                env[name] = node
                run.calls[func] = member
                continue
            expr: Expr = Apply(func, (Use(source),))
        else:
            expr = step
        env[name] = run.lower(expr, index in facts.accumulating)
    return name


@dataclass(frozen=True)
class _Facts:
    """What lowering needs of a definition whatever its arguments, worked out once."""

    accumulating: frozenset[int]
    passed: frozenset[str]  # members the class takes built (optional, slots, holding blocks)
    ctor: tuple[str, ...]
    required: tuple[str, ...]
    # (step index, target, step): `(member, source)` for the common `v = member(w)`, else the
    # expression.
    program: tuple[tuple[int, str, tuple[str, str] | Expr], ...]
    nests: bool  # some member builds another block kind
    conditions: dict[int, str]  # step index -> the bool it runs under
    otherwise: dict[int, Expr]  # step index -> what it runs where that bool is false


_FACTS: dict[str, _Facts] = {}


def _static(block: BlockDef) -> _Facts:
    facts = _FACTS.get(block.digest)
    if facts is None:
        constructs = block.constructs()
        passed = {
            *block.passed_optional(),
            *(n for n, m in constructs.items() if not built_inside(m)),
        }
        ctor = ctor_names(block, constructs)
        required = [n for n in ctor if n in block.params and block.params[n].default is None]
        facts = _Facts(
            frozenset(accumulating_steps(block.steps())),
            frozenset(passed),
            tuple(ctor),
            tuple(required),
            tuple(_instruction(i, step) for i, step in enumerate(block.steps())),
            any(not built_inside(m) for m in constructs.values()),
            {i: step.when for i, step in enumerate(block.steps()) if step.when is not None},
            {i: s.otherwise for i, s in enumerate(block.steps()) if s.otherwise is not None},
        )
        _FACTS[block.digest] = facts
    return facts


def _holds(kind: str, when: str, values: Mapping[str, Value], loc: Loc) -> bool:
    value = values[when]
    if not isinstance(value, bool):
        message = f"block {kind!r}: a step runs when {when!r}, which is {value!r}, not true/false"
        raise LowerError(loc, message, "make it a comparison, e.g. stride == 1")
    return value


def _instruction(index: int, step: Step) -> tuple[int, str, tuple[str, str] | Expr]:
    expr, target = step.expr, step.target or "out"
    if (
        isinstance(expr, Apply)
        and expr.on is None
        and not expr.counts
        and expr.index is None
        and len(expr.args) == 1
    ):
        arg = expr.args[0]
        if isinstance(arg, Use):
            return index, target, (expr.func, arg.name)
    return index, target, expr


_PLANS: dict[tuple[Any, ...], tuple[dict[str, Value], set[str], dict[str, Built]]] = {}
MAX_PLANS = 4096


def block_plan(
    kind: str, block: BlockDef, args: Mapping[str, Value], loc: Loc, resolve: Resolve
) -> tuple[dict[str, Value], set[str], dict[str, Built]]:
    """Bound values, absent optional members and built members for these arguments. A
    network repeats the same blocks: each distinct (definition, arguments) is worked out once
    (the results are immutable and never changed by the caller)."""
    key = (
        kind,
        block.digest,
        tuple(sorted((k, hashable(v), type(v) is bool) for k, v in args.items())),
        id(resolve) if _static(block).nests else 0,
    )
    plan = _PLANS.get(key)
    if plan is None:
        values = block_values(kind, block, args, loc)
        absent = _absent(kind, block, values, loc)
        members = {
            name: _member(kind, name, module, values, loc, resolve)
            for name, module in block.constructs().items()
            if name not in absent
        }
        if len(_PLANS) >= MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[key] = (values, absent, members)
    return plan


def _fusible(
    b: Builder, prefix: str, nodes: list[str], block: BlockDef
) -> tuple[tuple[str, str], ...]:
    """(conv, norm) member paths, relative to the block, where the norm reads only that conv's
    output and nothing else does, both built by the class itself (what its `fuse` folds)."""
    graph = b.arch.graph
    passed = {
        *block.passed_optional(),
        *(n for n, m in block.constructs().items() if not built_inside(m)),
    }
    pairs = []
    for node in nodes:
        data = graph.nodes[node]
        if not isinstance(data["op"], BatchNorm2d) or len(data["inputs"]) != 1:
            continue
        source = data["inputs"][0]
        conv = graph.nodes[source]
        if type(conv["op"]) is Conv2d and list(graph.successors(source)) == [node]:
            pair = (conv["path"][len(prefix) + 1 :], data["path"][len(prefix) + 1 :])
            if pair[0].split(".")[0] not in passed and pair[1].split(".")[0] not in passed:
                pairs.append(pair)
    return tuple(pairs)


def _arguments(
    block: BlockDef, values: Mapping[str, Value], run: _Run
) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    """The generated constructor call: required params by position, the other params where
    they differ from their defaults, let values by keyword, then the members passed built
    (blocks, lists holding blocks, optional members), as torchvision passes `downsample`."""
    facts = _static(block)
    args = tuple(values[n] for n in facts.required)
    kwargs: list[tuple[str, Any]] = [
        (n, values[n])
        for n in facts.ctor
        if n not in facts.required
        and (n not in block.params or values[n] != block.params[n].default)
    ]
    for name in (*block.members, *(n for n in block.constructs() if n not in block.members)):
        if name in facts.passed and (name in run.members or name in run.fills):
            kwargs.append((name, run.built(name)))
    return args, tuple(kwargs)


def _absent(kind: str, block: BlockDef, values: Mapping[str, Value], loc: Loc) -> set[str]:
    """The optional members whose `when` is false for these arguments."""
    return {
        name
        for name, text in block.conditions().items()
        if not holds(text, values, loc, f"block {kind!r}, member {name} `when`")
    }


def holds(text: str, values: Mapping[str, Value], loc: Loc, where: str) -> bool:
    """A `when` condition for these arguments; `where` names it in errors."""
    try:
        result = _parsed(text).evaluate(values)
    except ExprError as exc:
        raise LowerError(loc, f"{where}: {exc}", "check the arguments") from None
    if not isinstance(result, bool):
        message = f"{where} gives {result!r}, not true/false"
        raise LowerError(loc, message, "write a comparison, e.g. use_se or stride != 1")
    return result


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
    read.update(block.stored_values())  # stored on the module, read in forward
    required = [n for n, p in block.params.items() if n in read and p.default is None]
    lets = [n for n in block.let if n in read]
    return [*required, *lets, *(n for n in block.params if n in read and n not in required)]


def block_values(
    kind: str, block: BlockDef, args: Mapping[str, Value], loc: Loc
) -> dict[str, Value]:
    """The params and let values of one use of a block."""
    values: dict[str, Value] = {}
    for name, param in block.params.items():
        value = args.get(name, param.default)
        if value is None:
            raise LowerError(loc, f"block {kind!r} needs param {name!r}", f"give {name}: <value>")
        if not fits(param.type, value):
            raise LowerError(loc, f"block {kind!r}: {name} must be {param.type}", "fix the value")
        if param.type == "float":
            assert isinstance(value, int | float)
            value = float(value)
        for item in value if isinstance(value, list | tuple) else [value]:
            if param.min is not None and item < param.min:
                raise LowerError(loc, f"block {kind!r}: {name} = {item} is below {param.min}", "")
            if param.max is not None and item > param.max:
                raise LowerError(loc, f"block {kind!r}: {name} = {item} is above {param.max}", "")
        values[name] = tuple(value) if isinstance(value, list) else value
    readable = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
    for name, text in block.let.items():
        try:
            result = _parsed(text).evaluate(readable)
        except ExprError as exc:
            raise LowerError(
                loc, f"block {kind!r}, let {name}: {exc}", "check the arguments"
            ) from None
        if isinstance(result, list) and fits("ints", result):
            values[name], readable[name] = tuple(result), result
            continue
        if not isinstance(result, int | bool | float):
            message = f"block {kind!r}, let {name} = {result!r} is not a number, bool or list"
            raise LowerError(loc, message, "round it with int(), round() or floor()")
        values[name] = readable[name] = result
    return values


def hashable(value: Any) -> Any:
    """An argument as a set or cache key can hold it: a list param's list as a tuple."""
    return tuple(value) if isinstance(value, list) else value


def _member(
    kind: str,
    member: str,
    module: Module,
    values: Mapping[str, Value],
    loc: Loc,
    resolve: Resolve,
) -> Built:
    if isinstance(module, Listed):
        present = [
            item.module if isinstance(item, OptionalItem) else item
            for item in module.items
            if not isinstance(item, OptionalItem) or _item_holds(kind, member, item, values, loc)
        ]
        if not present:
            message = f"block {kind!r}, member {member!r}: every item's `when` is false"
            raise LowerError(loc, message, "keep at least one item present")
        return Items(tuple(_member(kind, member, item, values, loc, resolve) for item in present))
    if isinstance(module, Each):
        return Items(
            tuple(
                _member(kind, member, item, values, loc, resolve)
                for item in _each_items(kind, member, module.construct, values, loc)
            )
        )
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
    keyed = tuple((key, _value(a, values)) for key, a in construct.kwargs)
    # True == 1 for the cache: the types are part of the key, so `true` is never a 1.
    types = tuple(type(v) is bool for v in (*given, *(v for _, v in keyed)))
    try:
        return _op(construct.target, tuple(given), keyed, types)
    except _BadArgument as exc:
        message = f"block {kind!r}, member {member!r}: {exc}"
        raise LowerError(loc, message, "check the block's let values") from None


def _each_items(
    kind: str, member: str, construct: Construct, values: Mapping[str, Value], loc: Loc
) -> list[Construct]:
    """An `each` member's items: the construct with every list it reads replaced by that
    list's i-th element (the lists are zipped, so they must be equally long)."""
    arguments = (*construct.args, *(v for _, v in construct.kwargs))
    lists = {
        a.name: values[a.name]
        for a in arguments
        if isinstance(a, Ref) and isinstance(values[a.name], tuple)
    }
    lengths = {name: len(items) for name, items in lists.items()}  # type: ignore[arg-type]
    if not lengths:
        message = f"block {kind!r}, member {member!r} reads no list here (one item per element)"
        raise LowerError(loc, message, "pass it an `ints` param or a let value that is a list")
    if len(set(lengths.values())) > 1:
        given = ", ".join(f"{n} has {c}" for n, c in lengths.items())
        message = f"block {kind!r}, member {member!r}: its lists differ in length ({given})"
        raise LowerError(loc, message, "give one element per item in every list")

    def pick(argument: Any, i: int) -> Any:
        if isinstance(argument, Ref) and argument.name in lists:
            return lists[argument.name][i]  # type: ignore[index]
        return argument

    return [
        Construct(
            construct.target,
            tuple(pick(a, i) for a in construct.args),
            tuple((k, pick(a, i)) for k, a in construct.kwargs),
        )
        for i in range(next(iter(lengths.values())))
    ]


def built_op(construct: Construct) -> Op:
    """The op of an op word called with literal arguments (lowering's own stems and
    projections, where the network's norm and activation are chosen)."""
    given = tuple(a for a in construct.args if not isinstance(a, Ref))
    keyed = tuple((k, v) for k, v in construct.kwargs if not isinstance(v, Ref))
    types = tuple(type(v) is bool for v in (*given, *(v for _, v in keyed)))
    return _op(construct.target, given, keyed, types)


class _BadArgument(ValueError):
    pass


@functools.lru_cache(maxsize=8192)
def _op(
    target: str,
    given: tuple[Value, ...],
    keyed: tuple[tuple[str, Value], ...],
    types: tuple[bool, ...],
) -> Op:
    """The op a member word builds from its argument values (ops are immutable: networks
    repeat the same few, so they are built once)."""
    word = OPS[target]
    kwargs: dict[str, Value | None] = {arg.name: arg.default for arg in word.args}
    kwargs.update(zip((a.name for a in word.args), given, strict=False))
    kwargs.update(keyed)
    for arg in word.args:
        value = kwargs[arg.name]
        kind = {bool: "bool", int: "int", float: "float"}[arg.kind]
        if not isinstance(value, int | float) or not fits(kind, value) or value < 0:
            expected = {"bool": "true or false", "int": "a whole number >= 0"}.get(
                kind, "a number >= 0"
            )
            raise _BadArgument(f"{arg.name} = {value!r} must be {expected}")
        if kind == "float":
            kwargs[arg.name] = float(value)
    return word.build(**kwargs)


def _item_holds(
    kind: str, member: str, item: OptionalItem, values: Mapping[str, Value], loc: Loc
) -> bool:
    return holds(item.when, values, loc, f"block {kind!r}, member {member!r}, item `when`")


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
    fills: Mapping[str, SlotFill]
    values: Mapping[str, Value] = field(default_factory=dict)
    step: int = -1
    calls: dict[str, Any] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)  # the ops this instance added itself

    def add(self, op: Op, inputs: list[str], name: str, *, module: bool = True) -> str:
        # `origin` locates a shape error at the definition's step.
        origin = (self.kind, self.step)
        node = self.b.add(op, inputs, self.scope, name, module=module, origin=origin)
        self.nodes.append(node)
        return node

    def lower(self, expr: Expr, inplace: bool = False) -> str:
        if isinstance(expr, Use):
            return self.env[expr.name]
        if isinstance(expr, Binary):
            left, right = self.lower(expr.left), self.lower(expr.right)
            op: Op = Add(inplace=inplace) if expr.op == "+" else Mul()
            return self.add(op, [left, right], "add" if expr.op == "+" else "mul", module=False)
        member = self.members.get(expr.func)
        if isinstance(member, Op) and expr.index is None and len(expr.args) == 1:
            # The common step, `v = op_member(w)`: straight to the graph.
            node = self.add(member, [self.lower(expr.args[0])], expr.func)
            self.calls[expr.func] = member
            return node
        inputs = [self.lower(arg) for arg in expr.args]
        if expr.func in self.fills:
            y, self.calls[expr.func] = self.fills[expr.func](
                self.b, self.scope.child(expr.func), inputs[0]
            )
            return y
        if expr.func in self.members:
            return self.call(expr.func, expr.index, inputs)
        return self._function(expr, inputs)

    def dense(self, pattern: str) -> str:
        """A dense form's items: item j reads the concatenation of the input and the outputs
        before it, and is a block of the diagrams (torchvision's dense layers)."""
        member = self.members[DENSE_MEMBER]
        assert isinstance(member, Items)
        x = self.env["x"]
        for j, item in enumerate(member.items):
            path = pattern.replace("{n}", str(j + 1))
            assert isinstance(item, Nested)
            scope = self.scope.child(path, block=True)
            y, self.calls[f"{DENSE_MEMBER}.{j}"] = lower_block(
                self.b,
                scope,
                x,
                item.kind,
                item.block,
                item.args,
                self.loc,
                self.resolve,
                self.depth + 1,
                tagged=False,
            )
            x = self.b.add(Concat(), [x, y], scope, "cat", module=False)
        return x

    def _each(self, expr: Apply, x: str) -> str:
        """`each(list, v)` / `each_split(list, v)`: every item on v (on its chunk of v),
        their outputs concatenated over channels."""
        assert expr.on is not None
        member = self.members[expr.on]
        assert isinstance(member, Items)
        count = len(member.items)
        outputs = []
        for i, item in enumerate(member.items):
            source = x
            if expr.func == "each_split":
                cut = ChannelChunk(i, count)
                source = self.add(cut, [x], f"{expr.on}.{i}.split", module=False)
            y, self.calls[f"{expr.on}.{i}"] = self._module(item, f"{expr.on}.{i}", source)
            outputs.append(y)
        if count == 1:
            return outputs[0]
        return self.add(Concat(), outputs, "stack", module=False)

    def _grouped(self, expr: Apply, inputs: list[str]) -> str:
        """The channel-group functions: group_sum, group_softmax, group_mix."""
        counts = [
            self._count(expr.func, c, 0 if expr.func == "chunk" and i == 1 else 1)
            for i, c in enumerate(expr.counts)
        ]
        if expr.func == "chunk":
            count, index = counts
            if index >= count:
                message = f"block {self.kind!r}: chunk {index} of {count} (chunks count from 0)"
                raise LowerError(self.loc, message, f"pick a chunk from 0 to {count - 1}")
            return self.add(ChannelChunk(index, count), inputs, expr.func, module=False)
        if expr.func == "group_sum":
            return self.add(GroupSum(counts[0]), inputs, expr.func, module=False)
        if expr.func == "group_mix":
            return self.add(GroupWeightedSum(counts[0]), inputs, expr.func, module=False)
        softmax = GroupSoftmax(counts[0], counts[1] if len(counts) > 1 else 1)
        return self.add(softmax, inputs, expr.func, module=False)

    def _count(self, func: str, count: int | str, low: int) -> int:
        """A count's value (chunk's index may be 0; every other count is at least 1)."""
        value = count if isinstance(count, int) else self.values[count]
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            message = f"block {self.kind!r}: {func} counts by {count} = {value!r}"
            raise LowerError(self.loc, message, f"make it a whole number >= {low}")
        return value

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

    def _function(self, expr: Apply, inputs: list[str]) -> str:
        if expr.on is not None:
            return self._each(expr, inputs[0])
        if expr.counts:
            return self._grouped(expr, inputs)
        return self._plain(expr.func, inputs)

    def _plain(self, func: str, inputs: list[str]) -> str:
        # One op on the values; sigmoid is a function, not a module: no tool counts it.
        single: dict[str, Op] = {
            "mean": GlobalAvgPool(functional=True),
            "flatten": Flatten(),
            "amax": GlobalMaxPool(),
            "sigmoid": GroupSoftmax(1),
            "cat": Concat(),
        }
        if func in single:
            return self.add(single[func], inputs, func, module=False)
        if func == "softmax":
            stacked = self.add(Concat(), inputs, "stack", module=False)
            return self.add(GroupSoftmax(len(inputs)), [stacked], func, module=False)
        weights, maps = inputs[0], inputs[1:]
        stacked = self.add(Concat(), maps, "stack", module=False)
        return self.add(GroupWeightedSum(len(maps)), [stacked, weights], func, module=False)
