"""ArchGraph -> a standalone PyTorch module file (Jinja templates lay out prepared values)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from archspec.emit.block_class import block_source, folding
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
    by_template = {cls.template: names.name(cls) for cls in classes}
    received = _received(members)
    views = [
        _class_view(cls, names.name(cls), by_template, received.get(cls, set()), folded)
        for cls in classes
    ]
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
        )
    )


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


def _class_view(
    cls: BlockClass,
    name: str,
    names: dict[str, str],
    received: set[str],
    folded: dict[BlockClass, dict[str, Any]],
) -> ClassView:
    """A block class's source. `received` holds the keyword arguments some call passes it:
    the template leaves out the parameters no call uses (se, dilation, groups)."""
    view = ClassView(name, docstring(doc_text(cls.doc), 4), cls.last_norm)
    if cls.code is not None:
        text = block_source(
            cls.code, name, view.doc, lambda c: names[c.template], folded.get(cls, {})
        )
        return ClassView(name, view.doc, cls.last_norm, text)
    text = (
        environment()
        .get_template(f"blocks/{cls.template}.py.jinja")
        .render(cls=view, o=_Options(cls), names=names, received=received)
    )
    return ClassView(name, view.doc, cls.last_norm, text.rstrip("\n"))


class _Options:
    """Block options as template attributes; literal Python for booleans."""

    def __init__(self, cls: BlockClass) -> None:
        self._options = dict(cls.options)

    def __getattr__(self, key: str) -> Any:
        value = self._options.get(key)
        if isinstance(value, tuple):
            return repr(list(value))
        return repr(value) if isinstance(value, bool) and key in _LITERAL_BOOLS else value


# Boolean options the templates print as Python literals (the rest steer {% if %}).
_LITERAL_BOOLS = {"bias", "split_input"}


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
    """Block classes in order of first use, helpers (SE, ...) before the blocks using them."""
    seen: list[BlockClass] = []

    def add(cls: BlockClass) -> None:
        for required in cls.requires:
            add(required)
        if cls not in seen:
            seen.append(cls)

    for value in _walk(values):
        if isinstance(value, Call) and isinstance(value.target, BlockClass):
            add(value.target)
    yield from seen


def _received(values: Any) -> dict[BlockClass, set[str]]:
    """The keyword arguments each class receives. A helper a block builds (SplitAttention,
    SelectiveKernel, ConvNormAct) receives what that block does: the block passes them on."""
    received: dict[BlockClass, set[str]] = {}

    def add(cls: BlockClass, keys: set[str]) -> None:
        received.setdefault(cls, set()).update(keys)
        for helper in cls.requires:
            add(helper, keys)

    for value in _walk(values):
        if isinstance(value, Call) and isinstance(value.target, BlockClass):
            keys = {key for key, _ in value.kwargs}
            if "first_dilation" in keys:  # its default reads `dilation`
                keys.add("dilation")
            add(value.target, keys)
    return received


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
