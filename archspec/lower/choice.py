"""The network's activation and norm (timm's `act_layer` / `norm_layer`), chosen in the spec.

A definition writes `act()` where its activation is the network's and `norm(channels)` where its
norm is (the standard library's residual, SK, ResNeSt, Res2Net and dense kinds do; an attention
module's own gate does not, as in timm). The spec's `act:` / `norm:` (top level, or per stage)
choose what they are; by default ReLU and BatchNorm. Lowering rewrites a definition's words into
the chosen op words before it is used, so every pass and the emitted class see plain ops, and a
block built with two choices is two classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archspec.blocks.definition import BlockDef
from archspec.blocks.language import CHOICE_WORDS
from archspec.blocks.syntax import Construct, Ref, leaves, parse_construct
from archspec.ir.ops import Op
from archspec.spec.models import Spec, StageRow

# `act:` names -> the op word built where a definition writes act().
ACTIVATIONS = ("relu", "relu6", "silu", "gelu", "hardswish", "hardsigmoid", "leaky_relu")


@dataclass(frozen=True)
class Choice:
    act: str = "relu"
    norm: str = "batch"
    groups: int = 32


DEFAULT = Choice()


def choice_of(spec: Spec, row: StageRow | None = None) -> Choice:
    """The choice in force: the stage row's fields over the spec's, over ReLU and BatchNorm."""
    act = (row.act if row is not None else None) or spec.act or DEFAULT.act
    norm = (row.norm if row is not None else None) or spec.norm
    if norm is None:
        return Choice(act)
    if isinstance(norm, str):
        return Choice(act, norm)
    return Choice(act, norm.type, norm.groups or DEFAULT.groups)


def uses_choice(block: BlockDef) -> frozenset[str]:
    """The choice words (act, norm) a definition writes."""
    words = _WORDS.get(block.digest)
    if words is None:
        targets = {c.target for module in block.constructs().values() for c in leaves(module)}
        words = _WORDS[block.digest] = frozenset(targets & set(CHOICE_WORDS))
    return words


# Definitions are immutable and identified by their digest: each is worked out once.
_WORDS: dict[str, frozenset[str]] = {}
_CHOSEN: dict[tuple[str, Choice], BlockDef] = {}


def chosen(block: BlockDef, choice: Choice) -> BlockDef:
    """The definition with act() and norm(...) written as the chosen ops (itself where it
    writes neither)."""
    if not uses_choice(block):
        return block
    found = _CHOSEN.get((block.digest, choice))
    if found is None:
        data = block.model_dump(by_alias=True, exclude_none=True)
        for part in ("members", "sequence", "dense"):
            if part in data:
                data[part] = _rewrite(data[part], choice)
        found = _CHOSEN[(block.digest, choice)] = BlockDef.model_validate(data)
    return found


def chosen_resolver(
    resolve: Callable[[str], BlockDef | None], choice: Choice
) -> Callable[[str], BlockDef | None]:
    """A resolver whose definitions (blocks built inside blocks) take the choice too."""

    def find(kind: str) -> BlockDef | None:
        block = resolve(kind)
        return chosen(block, choice) if block is not None else None

    return find


def _rewrite(value: Any, choice: Choice) -> Any:
    """Member texts with each choice word rewritten (not slot roles, conditions, names)."""
    if isinstance(value, dict):
        return {
            k: v if k in ("when", "slot", "name") else _rewrite(v, choice) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(v, choice) for v in value]
    if isinstance(value, str) and _is_construct(value):
        return _word(value, choice)
    return value


def _is_construct(text: str) -> bool:
    head = text.split("(", 1)[0].strip()
    return head in CHOICE_WORDS and text.rstrip().endswith(")")


def _word(text: str, choice: Choice) -> str:
    construct = parse_construct(text)
    if construct.target == "act":
        return f"{choice.act}()"
    args = dict(zip(("num_features", "eps"), construct.args, strict=False))
    args.update(construct.kwargs)
    features = _argument(args["num_features"])
    eps = f", eps={_argument(args['eps'])}" if "eps" in args else ""
    return {
        "batch": f"batchnorm({features}{eps})",
        "frozen_batch": f"frozen_batchnorm({features}{eps})",
        "group": f"groupnorm({choice.groups}, {features}{eps})",
        "layer": f"layernorm2d({features}{eps})",
    }[choice.norm]


def _argument(value: Any) -> str:
    if isinstance(value, Ref):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def mark(memo: dict[Any, Any], stage: str, word: str) -> None:
    """Record that `stage` (stem, stage2, head, ...) built the network's `word` (act, norm)."""
    memo[("choice used", f"{stage}:{word}")] = True


def norm_op(choice: Choice, channels: int) -> Op:
    """The chosen norm as an op (for what lowering builds in Python: stems, projections)."""
    from archspec.lower.blocks import built_op  # noqa: PLC0415 - one cache for all ops

    return built_op(parse_construct(_word(f"norm({channels})", choice)))


def act_op(choice: Choice) -> Op:
    from archspec.lower.blocks import built_op  # noqa: PLC0415

    return built_op(Construct(choice.act, (), ()))
