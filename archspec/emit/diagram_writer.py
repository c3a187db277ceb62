"""A small DOT writer: quoted ids, HTML-like labels and nested clusters, in insertion order.

Written by hand rather than with the `graphviz` package so that every byte of the output is
ours to keep stable (the DOT files are golden files) and HTML labels are escaped in one place.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

INDENT = "  "


@dataclass(frozen=True)
class Html:
    """The markup of an HTML-like label, already escaped; written as <...>."""

    markup: str


Value = str | Html
Attrs = Mapping[str, Value]


def escape(text: str) -> str:
    """Text safe inside an HTML-like label, folded to ASCII (the bundled fonts' safe range)."""
    return html.escape(ascii_text(text), quote=False)


def ascii_text(text: str) -> str:
    """Dashes, quotes and the multiplication sign to ASCII, accents dropped, the rest "?"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TYPOGRAPHY))
    # Control characters (BEL, ESC, ...) make the renderer reject the label: spaces instead.
    kept = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch
        for ch in decomposed
        if not unicodedata.combining(ch)
    )
    return kept.encode("ascii", "replace").decode("ascii")


_TYPOGRAPHY = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f", "'"),
        "\u00d7": "x",
        "\u2026": "...",
    }
)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def attrs(values: Attrs) -> str:
    return ", ".join(f"{key}={_value(value)}" for key, value in values.items())


def assignment(key: str, value: Value) -> str:
    """A `key=value` statement (graph or cluster attribute)."""
    return f"{key}={_value(value)}"


def _value(value: Value) -> str:
    return f"<{value.markup}>" if isinstance(value, Html) else quote(value)


def node(key: str, values: Attrs) -> str:
    return f"{quote(key)} [{attrs(values)}]"


def edge(tail: str, head: str, values: Attrs) -> str:
    return f"{quote(tail)} -> {quote(head)} [{attrs(values)}]"


def same_rank(keys: Iterable[str]) -> str:
    return "{rank=same; " + " ".join(f"{quote(key)};" for key in keys) + "}"


def nest(
    items: Iterable[tuple[tuple[str, ...], str]], opening: Callable[[str], list[str]]
) -> list[str]:
    """Statements placed in nested clusters: each item is (cluster keys outermost first, line).

    `opening(key)` gives a cluster's attribute lines. Consecutive items share open clusters,
    so items must arrive grouped by cluster (execution order does that).
    """
    out: list[str] = []
    stack: list[str] = []
    for path, statement in items:
        common = _common_prefix(stack, path)
        _close(out, stack, common)
        for key in path[common:]:
            depth = INDENT * (len(stack) + 1)
            out.append(f"{depth}subgraph {quote('cluster_' + key)} {{")
            out.extend(f"{depth}{INDENT}{line}" for line in opening(key))
            stack.append(key)
        out.append(INDENT * (len(stack) + 1) + statement)
    _close(out, stack, 0)
    return out


def _common_prefix(stack: list[str], path: tuple[str, ...]) -> int:
    count = 0
    while count < min(len(stack), len(path)) and stack[count] == path[count]:
        count += 1
    return count


def _close(out: list[str], stack: list[str], keep: int) -> None:
    while len(stack) > keep:
        stack.pop()
        out.append(INDENT * (len(stack) + 1) + "}")


def digraph(name: str, defaults: Mapping[str, Attrs], body: list[str]) -> str:
    """The whole file: `defaults` maps graph/node/edge to their default attributes."""
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)
    head = [f"digraph {name if plain else quote(name)} {{"]
    head += [f"{INDENT}{kind} [{attrs(values)}]" for kind, values in defaults.items()]
    return "\n".join([*head, *body, "}"]) + "\n"
