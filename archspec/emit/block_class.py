"""One generic emitter: a block definition (archspec.blocks) -> a readable nn.Module class.

The constructor takes the params and let values the members read (typed, evaluated by the
lowering, never computed from spec text here); `__init__` builds each member with its torch
constructor; `forward` is the definition's straight-line steps, with `out = out + identity`
written `out += identity`. Every identifier was checked by archspec.blocks.definition.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from typing import Any

from archspec.blocks.inplace import accumulating_steps
from archspec.blocks.language import FUNCTIONS, OPS, OpWord
from archspec.blocks.syntax import (
    Apply,
    Binary,
    Construct,
    Expr,
    Listed,
    Module,
    OptionalItem,
    Ref,
    Step,
    Use,
    calls_in,
    names_in,
)
from archspec.emit.fusion import pairs_statement
from archspec.emit.source import statement
from archspec.ir.code import BlockClass, Call, Name, Seq
from archspec.ir.ops import Op
from archspec.lower.blocks import BlockCode, built_inside, ctor_names, hashable, indexed_members

_INDENT = "        "


Folded = Mapping[str, Any]
# A folded optional or slot member that no call in the model passes: left out of the class.
ABSENT = object()


def block_source(
    code: BlockCode,
    name: str,
    doc: str,
    names: Callable[[BlockClass], str],
    folded: Folded | None = None,
) -> str:
    """The class's source. `folded`: params every call in this model passes the same value
    (see `folding`): written as literals, left out of the signature."""
    block, folded = code.block, folded or {}
    if block.sequence is not None:
        return _sequence_source(code, name, doc, names, folded)
    if block.dense is not None:
        return _dense_source(block.dense.name, name, doc)
    constructs = block.constructs()
    optional = [m for m in block.passed_optional() if folded.get(m) is not ABSENT]
    lines = [f"class {name}(nn.Module):", f"    {doc}", ""]
    if code.fusible:
        lines += ["    " + pairs_statement(list(code.fusible), 4), ""]
    lines += _init(code, constructs, (optional, folded), names)
    lines += ["", "    def forward(self, x: Tensor) -> Tensor:"]
    ops = dict(code.ops)
    steps = block.steps()
    accumulating = accumulating_steps(steps)
    kept = _kept_steps(steps, folded)
    for index, step in enumerate(steps):
        if index not in kept:
            continue
        text = _step(step.target, _folded(step.expr, folded), ops, index in accumulating)
        called = step.expr.func if isinstance(step.expr, Apply) else ""
        if step.otherwise is not None:
            lines += _if_else(step, text, folded, ops)
            continue
        if step.when is not None and step.when not in folded:
            lines.append(f"{_INDENT}if self.{step.when}:")
            lines.append(f"{_INDENT}    {text}")
        elif called in optional:
            lines.append(f"{_INDENT}if self.{called} is not None:")
            lines.append(f"{_INDENT}    {text}")
        else:
            lines.append(_INDENT + text)
    return "\n".join(lines)


def _kept_steps(steps: list[Step], folded: Folded) -> set[int]:
    """The steps the class writes: not those calling a member no block has or under a
    condition no block meets (v keeps its value), nor a copy `v = w` nothing then reads
    (timm's `shortcut = x` where no block of the model has a skip)."""
    kept = set()
    for index, step in enumerate(steps):
        called = step.expr.func if isinstance(step.expr, Apply) else ""
        skipped = folded.get(called) is ABSENT or folded.get(step.when or "") is False
        if step.otherwise is not None or not skipped:
            kept.add(index)
    for index in sorted(kept, reverse=True):
        step = steps[index]
        if isinstance(step.expr, Use) and step.target is not None and step.otherwise is None:
            later = [steps[i] for i in kept if i > index]
            if not any(step.target in names_in(e) for s in later for e in s.exprs()):
                kept.discard(index)
    return kept


def _if_else(step: Step, text: str, folded: Folded, ops: Mapping[str, Op]) -> list[str]:
    """An if/else step: both branches, or the one a folded condition picks."""
    assert step.otherwise is not None and step.when is not None
    other = _step(step.target, _folded(step.otherwise, folded), ops, False)
    if step.when in folded:
        return [_INDENT + (text if folded[step.when] else other)]
    branches = [f"if self.{step.when}:", f"    {text}", "else:", f"    {other}"]
    return [_INDENT + line for line in branches]


def _folded(expr: Expr, folded: Folded) -> Expr:
    """The expression with the group counts every call passes alike written as numbers."""
    if isinstance(expr, Binary):
        return Binary(expr.op, _folded(expr.left, folded), _folded(expr.right, folded))
    if not isinstance(expr, Apply):
        return expr
    counts = tuple(
        folded[c] if isinstance(c, str) and isinstance(folded.get(c), int) else c
        for c in expr.counts
    )
    args = tuple(_folded(arg, folded) for arg in expr.args)
    return Apply(expr.func, args, expr.index, expr.on, counts)


def _dense_source(pattern: str, name: str, doc: str) -> str:
    """An nn.ModuleDict subclass, as torchvision's _DenseBlock: its items are numbered by the
    pattern (checked on load: a name ending in {n}), each fed every output before it."""
    prefix = pattern.removesuffix("{n}")
    items = f'{{f"{prefix}{{i + 1}}": layer for i, layer in enumerate(layers)}}'
    return "\n".join(
        [
            f"class {name}(nn.ModuleDict):",
            f"    {doc}",
            "",
            "    def __init__(self, layers: nn.Module) -> None:",
            f"        super().__init__({items})",
            "",
            "    def forward(self, x: Tensor) -> Tensor:",
            "        for layer in self.values():",
            "            x = torch.cat([x, layer(x)], 1)",
            "        return x",
        ]
    )


def _sequence_source(
    code: BlockCode, name: str, doc: str, names: Callable[[BlockClass], str], folded: Folded
) -> str:
    """An nn.Sequential subclass: its children are numbered, as the definition lists them."""
    block = code.block
    items = [_module_value(m, False, folded) for m in block.constructs().values()]
    lines = [f"class {name}(nn.Sequential):", f"    {doc}", ""]
    if code.fusible:
        lines += ["    " + pairs_statement(list(code.fusible), 4), ""]
    lines.append(_signature(code, block.constructs(), [], folded))
    lines.append(_INDENT + statement("", Call("super().__init__", tuple(items)), names, 8))
    return "\n".join(lines)


def _signature(
    code: BlockCode, constructs: Mapping[str, Module], passed: list[str], folded: Folded
) -> str:
    """`def __init__(...)`: required params, let values, members passed built, params with
    defaults, then optional members (None when absent)."""
    block, lets = code.block, dict(code.let_types)
    params = [n for n in ctor_names(block, constructs) if n not in folded]
    optional = [m for m in block.passed_optional() if folded.get(m) is not ABSENT]
    arguments = []
    for param in params:
        spec = block.params.get(param)
        kind = spec.type if spec is not None else lets.get(param, "int")
        default = f" = {spec.default!r}" if spec is not None and spec.default is not None else ""
        arguments.append(f"{param}: {kind}{default}")
    split = next((i for i, a in enumerate(arguments) if " = " in a), len(arguments))
    arguments[split:split] = [f"{m}: nn.Module" for m in passed if m not in optional]
    arguments += [f"{m}: nn.Module | None = None" for m in optional]
    head = f"    def __init__({', '.join(['self', *arguments])}) -> None:"
    if len(head) <= 100:
        return head
    return (
        "    def __init__(\n        self,\n"
        + "".join(f"        {a},\n" for a in arguments)
        + "    ) -> None:"
    )


def _init(
    code: BlockCode,
    constructs: Mapping[str, Module],
    passing: tuple[list[str], Folded],
    names: Callable[[BlockClass], str],
) -> list[str]:
    block = code.block
    optional, folded = passing
    passed = [
        m
        for m in block.members
        if folded.get(m) is not ABSENT and (m in optional or not built_inside(constructs[m]))
    ]
    lines = [_signature(code, constructs, passed, folded), _INDENT + "super().__init__()"]
    lines += [f"{_INDENT}self.{w} = {w}" for w in block.stored_values() if w not in folded]
    indexed = indexed_members(block)
    for attr in block.members:
        if folded.get(attr) is ABSENT:
            continue
        if attr in passed:
            lines.append(f"{_INDENT}self.{attr} = {attr}")
            continue
        value = _module_value(constructs[attr], attr in indexed, folded)
        lines.append(_INDENT + statement(f"self.{attr} = ", value, names, 8))
    return lines


def _module_value(module: Module, indexed: bool, folded: Folded) -> Call | Seq:
    """The constructor of a member the class builds: an op, or a list of them."""
    if isinstance(module, Listed):
        # Lists with optional items arrive built (lower.blocks.built_inside): none here.
        items = tuple(
            _module_value(item, False, folded)
            for item in module.items
            if not isinstance(item, OptionalItem)
        )
        return Seq(items, module_list=indexed)
    assert isinstance(module, Construct)  # `each` members arrive built
    return member_call(OPS[module.target], module, folded)


def member_call(word: OpWord, construct: Construct, folded: Folded | None = None) -> Call:
    """The torch constructor: leading args by position, the rest by keyword where they differ
    from torch's default (a name is always written; a folded one is its value)."""
    folded = folded or {}
    values: dict[str, Any] = {arg.name: arg.default for arg in word.args}
    values.update(zip((a.name for a in word.args), construct.args, strict=False))
    values.update(construct.kwargs)
    shown = {
        key: (folded[v.name] if v.name in folded else Name(v.name)) if isinstance(v, Ref) else v
        for key, v in values.items()
    }
    if word.render is not None:
        call: Call = word.render(shown)
        return call
    positional = [shown[a.name] for a in word.args[: word.positional]]
    keywords = tuple(
        (arg.name, shown[arg.name])
        for arg in word.args[word.positional :]
        if isinstance(shown[arg.name], Name) or shown[arg.name] != arg.torch_default
    )
    return Call(word.torch, (*word.fixed, *positional, *word.fixed_tail), (*keywords, *word.always))


def _step(target: str | None, expr: Expr, ops: Mapping[str, Op], accumulates: bool) -> str:
    if target is None:
        return "return " + _text(expr, ops, top=True)
    if accumulates and isinstance(expr, Binary):
        return f"{target} += {_text(expr.right, ops, top=True)}"
    return f"{target} = {_text(expr, ops, top=True)}"


def _text(expr: Expr, ops: Mapping[str, Op], *, top: bool = False) -> str:
    if isinstance(expr, Use):
        return expr.name
    if isinstance(expr, Binary):
        left = _operand(expr.left, expr.op, ops, right=False)
        right = _operand(expr.right, expr.op, ops, right=True)
        text = f"{left} {expr.op} {right}"
        return text if top else f"({text})"
    return _apply(expr, ops)


def _operand(expr: Expr, parent: str, ops: Mapping[str, Op], *, right: bool) -> str:
    """An operand, in parentheses only where Python would group it otherwise (`*` binds
    tighter; a right operand of the same operator keeps its grouping, as rounding may differ)."""
    if not isinstance(expr, Binary):
        return _text(expr, ops)
    bare = (parent == "+" and expr.op == "*") or (parent == expr.op and not right)
    return _text(expr, ops, top=bare)


def _apply(expr: Apply, ops: Mapping[str, Op]) -> str:
    args = [_text(arg, ops, top=True) for arg in expr.args]
    if expr.index is not None:
        return f"self.{expr.func}[{expr.index}]({args[0]})"
    if expr.func in ops:
        op = ops[expr.func]
        return op.forward_call(expr.func, _text(expr.args[0], ops, top=not op.forward_receiver))
    if expr.func not in FUNCTIONS:  # a block or list member, or an absent optional one
        return f"self.{expr.func}({args[0]})"
    return _function(expr, args, ops)


def _function(expr: Apply, args: list[str], ops: Mapping[str, Op]) -> str:
    """A forward function's emitted form (archspec.blocks.language.FUNCTIONS)."""
    if expr.on is not None:
        return _each(expr, args[0])
    if expr.counts:
        return _grouped(expr, args, ops)
    receiver = {
        "mean": "mean((2, 3), keepdim=True)",
        "flatten": "flatten(1)",
        "sigmoid": "sigmoid()",
        "amax": "amax((2, 3), keepdim=True)",
    }.get(expr.func)
    if receiver is not None:
        return f"{_text(expr.args[0], ops)}.{receiver}"
    if expr.func == "softmax":
        return f"torch.stack([{', '.join(args)}], 1).softmax(1)"
    if expr.func == "mix":
        weights = _text(expr.args[0], ops)
        return f"(torch.stack([{', '.join(args[1:])}], 1) * {weights}[..., None, None]).sum(1)"
    return f"torch.cat([{', '.join(args)}], 1)"


def _each(expr: Apply, value: str) -> str:
    """each / each_split: a comprehension over the list member (each_split's chunks are its
    first iterable, evaluated outside it, so its loop names cannot hide the value; each's
    loop name differs from the value)."""
    on = expr.on or ""
    singular = "item"
    if on.endswith(("ches", "shes", "sses", "xes")):
        singular = on[:-2]
    elif on.endswith("s") and not on.endswith("ss") and len(on) > 1:
        singular = on[:-1]
    item = next(
        name
        for name in (singular, "item", "module")
        if name not in (value, "self", "torch") and not keyword.iskeyword(name)
    )
    if expr.func == "each":
        return f"torch.cat([{item}({value}) for {item} in self.{on}], 1)"
    return f"apply_to_chunks(self.{on}, {value})"


# The function each_split calls, defined by a generated file whose blocks use it.
CHUNK_HELPER = '''def apply_to_chunks(modules: nn.ModuleList, x: Tensor) -> Tensor:
    """Module i on the i-th of len(modules) equal channel chunks of x, concatenated."""
    chunks = x.chunk(len(modules), 1)
    return torch.cat([module(chunk) for module, chunk in zip(modules, chunks, strict=True)], 1)'''


def uses_chunk_helper(code: BlockCode, folded: Folded) -> bool:
    """Whether a class's forward, written for this model, calls apply_to_chunks (an each_split
    step in a branch some block takes)."""
    for step in code.block.steps():
        taken = step.exprs()
        if step.when is not None and step.when in folded and step.otherwise is not None:
            taken = [step.expr if folded[step.when] else step.otherwise]
        if any(c.func == "each_split" for e in taken for c in calls_in(e)):
            return True
    return False


def _grouped(expr: Apply, args: list[str], ops: Mapping[str, Op]) -> str:
    """chunk / group_sum / group_softmax / group_mix over channel groups."""
    counts = [str(c) if isinstance(c, int) else f"self.{c}" for c in expr.counts]
    if expr.func == "group_mix":
        product = _text(Binary("*", expr.args[0], expr.args[1]), ops)
        return f"{product}.unflatten(1, ({counts[0]}, -1)).sum(1)"
    value = _text(expr.args[0], ops)
    if expr.func == "chunk":
        return f"{value}.chunk({counts[0]}, 1)[{counts[1]}]"
    if expr.func == "group_sum":
        return f"{value}.unflatten(1, ({counts[0]}, -1)).sum(1)"
    if len(counts) == 1:
        return f"{value}.unflatten(1, ({counts[0]}, -1)).softmax(1).flatten(1, 2)"
    # (g, k, C) -> softmax over k -> (k, g, C), as timm's RadixSoftmax.
    grouped = f"{value}.unflatten(1, ({counts[1]}, {counts[0]}, -1))"
    return f"{grouped}.softmax(2).movedim(2, 1).flatten(1, 3)"


def folding(calls: list[Call]) -> dict[str, Any]:
    """The params with defaults and the let values that every call of one definition class
    passes with the same value: the class is written for this model with them as literals (as
    the hand-written templates left out `groups` and `dilation` where no block used them); and
    the optional and slot members no call passes, which the class leaves out (ABSENT)."""
    cls = calls[0].target
    assert isinstance(cls, BlockClass) and isinstance(cls.code, BlockCode)
    block = cls.code.block
    folded: dict[str, Any] = {}
    for name in ctor_names(block, block.constructs()):
        param = block.params.get(name)
        if name in block.let:  # passed by keyword by every call
            values = {hashable(dict(call.kwargs).get(name)) for call in calls}
        elif param is None or param.default is None:
            continue
        else:
            values = {hashable(dict(call.kwargs).get(name, param.default)) for call in calls}
        if len(values) == 1:
            folded[name] = values.pop()
    for member in block.passed_optional():
        if not any(member in dict(call.kwargs) for call in calls):
            folded[member] = ABSENT
    return folded
