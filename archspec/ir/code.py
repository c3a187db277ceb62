"""The values of generated code: constructor calls, sequentials, identifiers, block classes.

Ops state their own torch.nn constructor as a `Call` (Op.module_call), and the module tree of
an ArchGraph is built from the same values, so this module depends on nothing else in the IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Name:
    """An identifier in generated code (a constructor parameter such as num_classes)."""

    text: str


@dataclass(frozen=True)
class BlockClass:
    """A generated nn.Module class: a block definition's, identified by its kind and the
    definition's digest (`options`); `code` holds what the emitter writes it from."""

    template: str
    base_name: str
    options: tuple[tuple[str, Any], ...] = ()
    # Attribute of the norm that zero_init_residual zeroes (bn2 / bn3).
    last_norm: str | None = None
    doc: str = ""
    code: Any = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Call:
    """A constructor call in generated code: nn.Conv2d(...), Bottleneck(...), helper(...)."""

    target: BlockClass | str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Seq:
    """nn.Sequential of unnamed (index-named) or named children."""

    items: tuple[Any, ...]
    names: tuple[str, ...] | None = None
    # nn.ModuleList instead (its items are called one by one, by index).
    module_list: bool = False

    @classmethod
    def named(cls, *children: tuple[str, Any]) -> Seq:
        """nn.Sequential whose children carry names (their state_dict prefixes)."""
        return cls(tuple(value for _, value in children), tuple(name for name, _ in children))
