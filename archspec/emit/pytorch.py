"""ArchGraph -> a standalone PyTorch module file (Jinja templates lay out prepared values)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from archspec.emit.block_class import CHUNK_HELPER, block_source, folding, uses_chunk_helper
from archspec.emit.fusion import model_pairs, pairs_statement
from archspec.emit.source import doc_text, docstring, statement, wrapped
from archspec.ir.graph import ArchGraph, BlockClass, Call, Member, Seq
from archspec.ir.ops import Op, StochasticDepth
from archspec.names import RESERVED_NAMES

# Names the generated module itself uses; a spec-derived class name may not take them.
RESERVED = {"x", "self", *RESERVED_NAMES}


def template_dir() -> Path:
    """templates/ ships inside the wheel as archspec/templates; a checkout has it at the top."""
    packaged = Path(__file__).resolve().parent.parent / "templates"
    return packaged if packaged.is_dir() else packaged.parent.parent / "templates"


@cache
def environment() -> Any:
    """The Jinja environment (imported on first use: stats and validate never need it)."""
    import jinja2  # noqa: PLC0415

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


@dataclass(frozen=True)
class ClassView:
    name: str
    doc: str
    last_norm: str | None
    source: str = ""


class Namespace:
    """Owns every class identifier in the generated file: legal, unique, never a builtin."""

    def __init__(self, reserved: set[str]) -> None:
        self.used = set(reserved)
        self.names: dict[BlockClass, str] = {}

    def name(self, cls: BlockClass) -> str:
        if cls not in self.names:
            base, n = cls.base_name, 2
            candidate = base
            while candidate in self.used:
                candidate, n = f"{base}{n}", n + 1
            self.used.add(candidate)
            self.names[cls] = candidate
        return self.names[cls]


def emit_pytorch(arch: ArchGraph, source: str, header: dict[str, Any]) -> str:
    """The model file's text; `source` is the spec path shown in the header."""
    names = Namespace(RESERVED | {arch.class_name})
    folded = _folded(arch.model.members)
    members = [Member(m.attr, _refold(m.value, folded)) for m in arch.model.members]
    classes = list(_classes(members))
    for cls in classes:
        names.name(cls)
    views = [_class_view(cls, names, folded.get(cls, {})) for cls in classes]
    model = _model_view(arch, names, members)
    header = {
        **header,
        "source": doc_text(source),
        "title": "\n".join(wrapped(doc_text(header["title"]), 97)),
        "reference": wrapped("Reference: " + doc_text(header["reference"]))
        if header["reference"]
        else [],
    }
    template = environment().get_template("model.py.jinja")
    return str(
        template.render(
            header=header,
            classes=views,
            model=model,
            named_sequential=_uses_named_sequential(arch.model.members),
            stochastic_depth=any(
                isinstance(data["op"], StochasticDepth) for _, data in arch.nodes()
            ),
            helpers=_helpers(arch, classes, folded),
        )
    )


def _helpers(
    arch: ArchGraph, classes: list[BlockClass], folded: dict[BlockClass, dict[str, Any]]
) -> list[str]:
    """The sources of the helpers the model's ops call (LayerNorm2d, Permute) and its blocks'
    forwards call (apply_to_chunks)."""
    used = {type(data["op"]).helper for _, data in arch.nodes()} - {""}
    # In the order of the classes' names (byte-identical reruns).
    sources = sorted(used, key=lambda source: source.split("(", 1)[0])
    if any(uses_chunk_helper(cls.code, folded.get(cls, {})) for cls in classes):
        sources.append(CHUNK_HELPER)
    return sources


def _folded(members: list[Member]) -> dict[BlockClass, dict[str, Any]]:
    """Per class written as data, the params every one of its calls passes alike."""
    calls: dict[BlockClass, list[Call]] = {}
    for value in _walk(members):
        if isinstance(value, Call) and isinstance(value.target, BlockClass) and value.target.code:
            calls.setdefault(value.target, []).append(value)
    return {cls: folding(group) for cls, group in calls.items()}


def _refold(value: Any, folded: dict[BlockClass, dict[str, Any]]) -> Any:
    """Member values with the folded arguments left out of each call."""
    if isinstance(value, Seq):
        return Seq(tuple(_refold(v, folded) for v in value.items), value.names, value.module_list)
    if not isinstance(value, Call):
        return value
    skip = folded.get(value.target, {}) if isinstance(value.target, BlockClass) else {}
    args = tuple(_refold(v, folded) for v in value.args)
    kwargs = tuple((k, _refold(v, folded)) for k, v in value.kwargs if k not in skip)
    return Call(value.target, args, kwargs)


def _class_view(cls: BlockClass, names: Namespace, folded: dict[str, Any]) -> ClassView:
    """A block class's source, from its definition (archspec.emit.block_class)."""
    name = names.name(cls)
    view = ClassView(name, docstring(doc_text(cls.doc), 4), cls.last_norm)
    text = block_source(cls.code, name, view.doc, names.name, folded)
    return ClassView(name, view.doc, cls.last_norm, text)


def _walk(value: Any) -> Iterator[Any]:
    """Every value nested in members, sequentials and call arguments, outermost first."""
    yield value
    children: tuple[Any, ...] = ()
    if isinstance(value, Member):
        children = (value.value,)
    elif isinstance(value, Seq):
        children = value.items
    elif isinstance(value, Call):
        children = (*value.args, *(v for _, v in value.kwargs))
    elif isinstance(value, list):
        children = tuple(value)
    for child in children:
        yield from _walk(child)


def _classes(values: Any) -> Iterator[BlockClass]:
    """Block classes in order of first use (a block's members are built by the model and
    passed to it, so the classes it needs are used after it: any order runs)."""
    seen: list[BlockClass] = []
    for value in _walk(values):
        if isinstance(value, Call) and isinstance(value.target, BlockClass):
            if value.target not in seen:
                seen.append(value.target)
    yield from seen


def _uses_named_sequential(values: Any) -> bool:
    return any(isinstance(v, Seq) and v.names is not None for v in _walk(values))


def _model_view(arch: ArchGraph, names: Namespace, values: list[Member]) -> dict[str, Any]:
    model = arch.model
    members = [statement(f"self.{m.attr} = ", m.value, names.name, 8) for m in values]
    residual = [
        ClassView(names.name(cls), "", cls.last_norm) for cls in _classes(values) if cls.last_norm
    ]
    title = doc_text(arch.title) or arch.name
    pairs = model_pairs(arch)
    return {
        "fusible": pairs_statement(pairs, 4) if pairs else "",
        "name": arch.class_name,
        "doc": docstring(title if title.endswith(".") else f"{title}.", 4),
        "params": [f"{n}: {t} = {d!r}" for n, t, d in model.ctor_params],
        "members": members,
        "features": [_step_view(step) for step in model.features],
        "head": model.head,
        "has_head": bool(model.head),
        "taps": model.taps,
        "tap_list": ", ".join(model.taps),
        "residual_blocks": residual,
        "zero_init": model.zero_init_residual,
    }


def _step_view(step: Any) -> dict[str, str]:
    return {"kind": step.kind, "target": step.target, "key": json.dumps(step.target)}


__all__ = ["Op", "emit_pytorch", "template_dir"]
