"""Python source rendering: literals, escaped text and calls wrapped the way `ruff format` does.

Calls that fit on their line stay on it; longer ones are exploded one argument per line with a
magic trailing comma, so the output is a fixed point of the formatter without running it.
"""

from __future__ import annotations

import json
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archspec.ir.graph import BlockClass, Call, Name, Seq
from archspec.ir.ops import Op

LINE_LENGTH = 100
# Helper defined in generated files that use nn.Sequential with named children.
NAMED_SEQUENTIAL = "named_sequential"
INDENT = "    "


def doc_text(text: str) -> str:
    """Make any text safe inside a docstring: printable ASCII, single spaces, no `"` or `\\`.

    Generated files are ASCII so that no spec text can hide code behind bidi controls or
    look-alike letters (ruff RUF002) or overflow a line with double-width characters: look-alike
    forms become ASCII (NFKC, dashes, quotes, x), accents are dropped, and any other character
    is written as <U+XXXX>.
    """
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    cleaned = " ".join("".join(_ascii(ch) for ch in text).split())
    return cleaned.replace("\\", "/").replace('"', "'")


def _ascii(ch: str) -> str:
    if unicodedata.category(ch)[0] in "CZ":
        return " "
    return ch if ch.isascii() else f"<U+{ord(ch):04X}>"


_TYPOGRAPHY = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u201c\u201d\u201e\u201f\u2033", "'"),
        "\u00d7": "x",
        "\u2026": "...",
    }
)


def docstring(text: str, indent: int) -> str:
    """A docstring (quotes included) for already-cleaned text, wrapped to the line length."""
    width = LINE_LENGTH - indent
    if len(text) + 6 <= width:
        return f'"""{text}"""'
    pad = " " * indent
    body = textwrap.fill(text, width, initial_indent=pad, subsequent_indent=pad)
    return '"""\n' + body + "\n" + pad + '"""'


def wrapped(text: str, width: int = LINE_LENGTH) -> list[str]:
    return textwrap.wrap(text, width) if text else []


def literal(value: Any, names: Callable[[BlockClass], str]) -> str:
    """Python source for a value: ints, bools, None, identifiers, ops, calls, sequentials."""
    return _render(value, names, 0, 0, 0)


def _render(
    value: Any, names: Callable[[BlockClass], str], indent: int, column: int, trail: int
) -> str:
    """Render at `column` on a line indented by `indent`; `trail` chars follow on the line."""
    atom = _atom(value, names)
    if atom is not None:
        return atom
    if isinstance(value, _Repeat):
        return _render_repeat(value, names, (indent, column, trail))
    if isinstance(value, _List):
        parts = [_Arg(None, v) for v in value.items]
        return _wrap("", parts, names, (indent, column, trail), "[]")
    call = _as_call(value)
    target = call.target if isinstance(call.target, str) else names(call.target)
    # A Call with an empty target is a tuple: ("name", module) pairs of named_sequential.
    parts = [_Arg(None, v) for v in call.args] + [_Arg(k, v) for k, v in call.kwargs]
    return _wrap(target, parts, names, (indent, column, trail))


def _atom(value: Any, names: Callable[[BlockClass], str]) -> str | None:
    """Source for a value that never wraps (literals, identifiers, short tuples), else None."""
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)
    if isinstance(value, Name):
        return value.text
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_render(v, names, 0, 0, 0) for v in value) + ")"
    return None


class _Arg:
    def __init__(self, key: str | None, value: Any) -> None:
        self.key = key
        self.value = value

    def prefix(self) -> str:
        return f"{self.key}=" if self.key else ""


def _wrap(
    target: str,
    parts: list[_Arg],
    names: Callable[[BlockClass], str],
    where: tuple[int, int, int],
    brackets: str = "()",
) -> str:
    indent, column, trail = where
    opening, closing = brackets[0], brackets[1]
    inline = ", ".join(a.prefix() + _render(a.value, names, 0, 0, 0) for a in parts)
    flat = target + opening + inline + closing
    if column + len(flat) + trail <= LINE_LENGTH:
        return flat
    inner = indent + len(INDENT)
    lines = [
        " " * inner + a.prefix() + _render(a.value, names, inner, inner + len(a.prefix()), 1) + ","
        for a in parts
    ]
    return target + opening + "\n" + "\n".join(lines) + "\n" + " " * indent + closing


@dataclass(frozen=True)
class _List:
    """A list display: the argument of nn.ModuleList."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class _Repeat:
    """`count` identical constructor calls: `*[value for _ in range(count)]` in a sequential."""

    value: Any
    count: int


def _runs(items: tuple[Any, ...]) -> tuple[Any, ...]:
    """Items with each run of equal consecutive items (2 or more) folded into one _Repeat.

    The expansion keeps every child's index, so the state_dict keys are unchanged.
    """
    out: list[Any] = []
    for item in items:
        last = out[-1] if out else None
        if isinstance(last, _Repeat) and last.value == item:
            out[-1] = _Repeat(item, last.count + 1)
        elif last is not None and not isinstance(last, _Repeat) and last == item:
            out[-1] = _Repeat(item, 2)
        else:
            out.append(item)
    return tuple(out)


def _render_repeat(
    repeat: _Repeat, names: Callable[[BlockClass], str], where: tuple[int, int, int]
) -> str:
    """A starred comprehension, split before `for` when too long (as `ruff format` does)."""
    indent, column, trail = where
    loop = f"for _ in range({repeat.count})"
    flat = f"*[{_render(repeat.value, names, 0, 0, 0)} {loop}]"
    if column + len(flat) + trail <= LINE_LENGTH:
        return flat
    inner = " " * (indent + len(INDENT))
    element = _render(repeat.value, names, len(inner), len(inner), 0)
    return f"*[\n{inner}{element}\n{inner}{loop}\n{' ' * indent}]"


def _as_call(value: Any) -> Call:
    if isinstance(value, Call):
        return value
    if isinstance(value, Seq) and value.names is not None:
        pairs = tuple(Call("", (n, v)) for n, v in zip(value.names, value.items, strict=True))
        return Call(NAMED_SEQUENTIAL, pairs)
    if isinstance(value, Seq) and value.module_list:
        return Call("nn.ModuleList", (_List(value.items),))
    if isinstance(value, Seq):
        return Call("nn.Sequential", _runs(value.items))
    if isinstance(value, Op):
        return torch_call(value)
    raise TypeError(f"cannot render {value!r} as Python source")


def torch_call(op: Op) -> Call:
    """The torch.nn constructor of an op that is a module (Op.module_call), defaults left out."""
    call = op.module_call()
    if call is None:
        raise TypeError(f"{op.kind} is computed in an expression, not built as a module")
    return call


def statement(prefix: str, value: Any, names: Callable[[BlockClass], str], indent: int) -> str:
    """`prefix + value` at an indent, wrapped; continuation lines carry their own indent."""
    return prefix + _render(value, names, indent, indent + len(prefix), 0)
