"""One generic emitter: a block definition (archspec.blocks) -> a readable nn.Module class.

The constructor takes the params and let values the members read (typed, evaluated by the
lowering, never computed from spec text here); `__init__` builds each member with its torch
constructor; `forward` is the definition's straight-line steps, with `out = out + identity`
written `out += identity`. Every identifier was checked by archspec.blocks.definition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from archspec.blocks.inplace import accumulating_steps
from archspec.blocks.language import OPS, OpWord
from archspec.blocks.syntax import Apply, Binary, Construct, Expr, Ref, Use
from archspec.emit.source import statement
from archspec.ir.code import BlockClass, Call, Name
from archspec.ir.ops import Op
from archspec.lower.blocks import BlockCode, ctor_names

_INDENT = "        "


def block_source(code: BlockCode, name: str, doc: str, names: Callable[[BlockClass], str]) -> str:
    block = code.block
    constructs = block.constructs()
    params = ctor_names(block, constructs)
    types = {n: block.params[n].type if n in block.params else "int" for n in params}
    optional = list(block.conditions())
    lines = [f"class {name}(nn.Module):", f"    {doc}", ""]
    lines += _init(params, types, constructs, optional, names)
    lines += ["", "    def forward(self, x: Tensor) -> Tensor:"]
    ops = dict(code.ops)
    steps = block.steps()
    accumulating = accumulating_steps(steps)
    for index, step in enumerate(steps):
        text = _step(step.target, step.expr, ops, index in accumulating)
        called = step.expr.func if isinstance(step.expr, Apply) else ""
        if called in optional:
            lines.append(f"{_INDENT}if self.{called} is not None:")
            lines.append(f"{_INDENT}    {text}")
        else:
            lines.append(_INDENT + text)
    return "\n".join(lines)


def _init(
    params: list[str],
    types: Mapping[str, str],
    constructs: Mapping[str, Construct],
    optional: list[str],
    names: Callable[[BlockClass], str],
) -> list[str]:
    built = [m for m, c in constructs.items() if c.target not in OPS and m not in optional]
    arguments = [
        *(f"{p}: {types[p]}" for p in params),
        *(f"{m}: nn.Module" for m in built),
        *(f"{m}: nn.Module | None = None" for m in optional),
    ]
    head = f"    def __init__({', '.join(['self', *arguments])}) -> None:"
    if len(head) > 100:
        head = (
            "    def __init__(\n        self,\n"
            + "".join(f"        {a},\n" for a in arguments)
            + "    ) -> None:"
        )
    lines = [head, _INDENT + "super().__init__()"]
    for attr, construct in constructs.items():
        if attr in optional or attr in built:
            lines.append(f"{_INDENT}self.{attr} = {attr}")
            continue
        call = member_call(OPS[construct.target], construct)
        lines.append(_INDENT + statement(f"self.{attr} = ", call, names, 8))
    return lines


def member_call(word: OpWord, construct: Construct) -> Call:
    """The torch constructor: leading args by position, the rest by keyword where they differ
    from torch's default (a name is always written)."""
    values: dict[str, Any] = {arg.name: arg.default for arg in word.args}
    values.update(zip((a.name for a in word.args), construct.args, strict=False))
    values.update(construct.kwargs)
    shown = {key: Name(v.name) if isinstance(v, Ref) else v for key, v in values.items()}
    positional = [shown[a.name] for a in word.args[: word.positional]]
    keywords = tuple(
        (arg.name, shown[arg.name])
        for arg in word.args[word.positional :]
        if isinstance(shown[arg.name], Name) or shown[arg.name] != arg.torch_default
    )
    return Call(word.torch, (*word.fixed, *positional), (*keywords, *word.always))


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
    if expr.func in ops:
        op = ops[expr.func]
        return op.forward_call(expr.func, _text(expr.args[0], ops, top=not op.forward_receiver))
    if expr.func not in ("mean", "cat"):  # an optional member absent where first lowered
        return f"self.{expr.func}({args[0]})"
    if expr.func == "mean":
        return f"{_text(expr.args[0], ops)}.mean((2, 3), keepdim=True)"
    return f"torch.cat([{', '.join(args)}], 1)"
