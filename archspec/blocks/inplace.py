"""Which forward steps may write in place, and which would corrupt a value still needed.

Generated code writes tensors in place twice: `out += identity` (a residual add) and an
in-place member (`relu()` is nn.ReLU(inplace=True), as torchvision's). Either overwrites the
tensor it is given, which is only safe when no name read later still refers to that tensor.
Names share a tensor after a copy (`identity = x`) or an in-place call (`y = act(v)`). The
lowering and the emitter both ask `accumulating_steps`, so the IR and the code agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from archspec.blocks.syntax import Apply, Binary, Expr, Step, Use, calls_in, names_in

INPUT = "x"
# The tensor the block was given (x may be rebound to values of the block's own).
_CALLERS = 0


def _read_after(steps: Sequence[Step], index: int) -> set[str]:
    return {name for step in steps[index + 1 :] for e in step.exprs() for name in names_in(e)}


def _shared(tensor: dict[str, int], name: str, live: set[str]) -> bool:
    """Whether another name read later (or the block's input) holds `name`'s tensor."""
    return any(other != name and tensor.get(other) == tensor.get(name) for other in live | {INPUT})


def accumulating_steps(steps: Sequence[Step]) -> set[int]:
    """Steps `v = v + w` emitted as `v += w`: v's tensor is nobody else's."""
    out = set()
    tensor = {INPUT: 0}
    for index, step in enumerate(steps):
        expr = step.expr
        if step.target is None:
            break
        adds = isinstance(expr, Binary) and expr.op == "+" and expr.left == Use(step.target)
        if adds and step.target != INPUT and step.target in tensor:
            if not _shared(tensor, step.target, _read_after(steps, index)):
                out.add(index)
                continue  # the target keeps its tensor
        tensor[step.target] = tensor[expr.name] if isinstance(expr, Use) else index + 1
    return out


def clobbered(steps: Sequence[Step], in_place: Callable[[str], bool]) -> tuple[int, str] | None:
    """The first step that hands an in-place member a value still needed: (step, name)."""
    tensor = {INPUT: _CALLERS}
    for index, step in enumerate(steps):
        read_later = _read_after(steps, index)
        for call in (c for e in step.exprs() for c in calls_in(e)):
            arg = call.args[0] if call.args else None
            if in_place(call.func) and isinstance(arg, Use):
                # The block's input belongs to the caller: never written. `v = act(v)` may
                # write v (later reads want the new value) unless the step reads v again.
                mine = tensor.get(arg.name) != _CALLERS
                renamed = step.target != arg.name or names_in(step.expr).count(arg.name) > 1
                needed = arg.name in read_later and renamed
                if not mine or needed or _shared(tensor, arg.name, read_later):
                    return index, arg.name
        if step.target is not None:
            expr = step.expr
            alias = expr.name if isinstance(expr, Use) else _in_place_source(expr, in_place)
            tensor[step.target] = tensor[alias] if alias in tensor else index + 1
    return None


def _in_place_source(expr: Expr, in_place: Callable[[str], bool]) -> str:
    """`v` when expr is `member(v)` for an in-place member (its result is v's tensor)."""
    if isinstance(expr, Apply) and in_place(expr.func) and expr.args:
        arg = expr.args[0]
        if isinstance(arg, Use):
            return arg.name
    return ""
