"""Writing an imported spec as a person would: the zoo's key order, flow-style stem, head and
attention, a columnar stage table with one value where every stage agrees, defaults left out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

# Top-level keys in the order the zoo specs use.
ORDER = (
    "archspec", "name", "reference", "input", "layout", "drop_path_rate", "act", "norm",
    "blocks", "stem",
    "stages", "tail", "head",
)  # fmt: skip
MAX_NAME = 64
# Stage columns written as a list even where every stage agrees: the table's shape.
LIST_COLUMNS = ("depth", "width")


def columnar(rows: list[dict[str, Any]], default: Callable[[str, int], Any]) -> dict[str, Any]:
    """Row dicts as one column per field: a scalar where all stages agree, a list otherwise
    (missing entries filled with that stage's default); a column that is all default goes."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    table: dict[str, Any] = {}
    for key in keys:
        values = [row.get(key, default(key, i)) for i, row in enumerate(rows)]
        if all(v == default(key, i) for i, v in enumerate(values)):
            continue
        same = all(v == values[0] for v in values)
        table[key] = values[0] if same and key not in LIST_COLUMNS else values
    return table


def spec_name(text: str) -> str:
    """A valid spec name from a model name: `resnet50.a1_in1k` -> resnet50, `My-Net` -> my_net."""
    base = text.split(".", maxsplit=1)[0] if ":" not in text else text
    name = re.sub(r"[^a-z0-9_]+", "_", base.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"model_{name}".rstrip("_")
    return name[:MAX_NAME]


def spec_text(data: dict[str, Any], comment: str = "") -> str:
    """The spec YAML; `comment` lines go at the top as `# ...`."""
    ordered = {k: data[k] for k in ORDER if k in data}
    ordered.update((k, v) for k, v in data.items() if k not in ordered)
    head = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    return head + "".join(
        # Block definitions read as the stdlib's files: one member and one step a line.
        yaml.safe_dump({k: v}, sort_keys=False, default_flow_style=_flow(k, v), width=100)
        for k, v in ordered.items()
    )


def _flow(key: str, value: Any) -> bool | None:
    """Flow style for the leaves (`input: [3, 224, 224]`), never for a definition's members."""
    return False if key == "blocks" or not isinstance(value, dict | list) else None
