"""Pydantic's validation errors as messages a person can act on: what is wrong and a fix.

`describe` turns one error into (message, hint); `fields_at` lists the fields allowed where an
unknown key stands (for did-you-mean); `strip_tags` drops the discriminator tags pydantic puts
in locations, so they match the YAML as written.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel

from archspec.blocks.definition import BlockDef, Param
from archspec.errors import Loc
from archspec.spec.models import SelectiveKernel, Spec, SplitAttention, SqueezeExcite, StageRow


def strip_tags(loc: Loc) -> Loc:
    """Drop the discriminator tags pydantic puts in locations: after `attention` ('se', 'sk',
    'split'), a `blocks` entry ('inline', 'file') and a block member ('body', 'optional')."""
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (i > 0 and loc[i - 1] == "attention" and part in _ATTENTION_TAGS)
        and not (i == 2 and loc[0] == "blocks" and part in ("inline", "file"))
        and not (i >= 2 and loc[i - 2] == "members" and part in ("body", "optional", "slot"))
        and not (i == 1 and loc[0] == "layout" and part in ("inline", "ref"))
    )


_ATTENTION_TAGS = ("se", "sk", "split", "block")


def _child_model(model: Any, part: str | int) -> Any:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    if isinstance(part, int):
        return model
    info = model.model_fields.get(part)
    return _unwrap(info.annotation) if info else None


def _unwrap(annotation: Any) -> Any:
    """The BaseModel class inside Optional[...] / list[...] / Annotated[...], if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _unwrap(arg)
        if found is not None:
            return found
    return None


def fields_at(loc: Loc) -> list[str]:
    """Field names allowed in the mapping that contains loc[-1]."""
    if loc[:1] == ("stages",):
        return list(StageRow.model_fields) if len(loc) == 3 else _attention_fields(loc)
    if loc[:1] == ("blocks",):
        # blocks.<kind>.<field>, or blocks.<kind>.params.<name>.<field>
        return list((BlockDef if len(loc) == 3 else Param).model_fields)
    model: Any = Spec
    for part in loc[:-1]:
        model = _child_model(model, part)
    return list(model.model_fields) if model is not None else []


def _attention_fields(loc: Loc) -> list[str]:
    names: list[str] = []
    for model in (SqueezeExcite, SelectiveKernel, SplitAttention):
        names += [name for name in model.model_fields if name not in names]
    return names


def describe(err: Any, loc: Loc) -> tuple[str, str]:
    """(what is wrong, how to fix it) for one pydantic error."""
    kind = err["type"]
    if kind in _TYPE_WORDS:
        words = _TYPE_WORDS[kind]
        return f"expected {words}, got {_shown(err.get('input'))}", f"write {words} here"
    if kind.startswith(("greater_than", "less_than")):
        kind = "bound"
    describe = _DESCRIBERS.get(kind)
    if kind == "value_error":
        hint = "see the README section 'Writing your own block'" if loc[:1] == ("blocks",) else ""
        return str(err["msg"]).removeprefix("Value error, "), hint
    if describe is None:
        return err["msg"], "see DESIGN.md 'Spec language v1'"
    return describe(err, loc)


def _unknown_field(err: Any, loc: Loc) -> tuple[str, str]:
    name = str(loc[-1])
    allowed = fields_at(loc)
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
    return f"unknown field {name!r}", hint


def _missing(err: Any, loc: Loc) -> tuple[str, str]:
    return "missing required field", f"add `{loc[-1]}:` to this mapping"


def _bad_word(err: Any, loc: Loc) -> tuple[str, str]:
    expected = err["ctx"]["expected"]
    if loc == ("archspec",):
        return (
            f"spec language version {err.get('input')!r} is not one this archspec reads",
            f"this archspec reads version {expected} only: write `archspec: {expected}`, or "
            "install an archspec that reads the newer version",
        )
    close = difflib.get_close_matches(str(err.get("input")), _literal_words(expected), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"use one of {expected}"
    return f"got {_shown(err.get('input'))}; expected {expected}", hint


def _out_of_range(err: Any, loc: Loc) -> tuple[str, str]:
    bound = _BOUNDS[err["type"]] + " " + str(next(iter(err["ctx"].values())))
    return f"must be {bound}, got {_shown(err.get('input'))}", f"use a value {bound}"


def _bad_length(err: Any, loc: Loc) -> tuple[str, str]:
    ctx = err["ctx"]
    short = err["type"] == "too_short"
    limit = ctx.get("min_length") if short else ctx.get("max_length")
    word = "at least" if short else "at most"
    return (
        f"has {ctx.get('actual_length')} entries; needs {word} {limit}",
        f"give {word} {limit} entries",
    )


def _long_text(err: Any, loc: Loc) -> tuple[str, str]:
    limit = err["ctx"]["max_length"]
    return f"is {len(err['input']):,} characters long; at most {limit} are allowed", "shorten it"


def _not_unicode(err: Any, loc: Loc) -> tuple[str, str]:
    return (
        "is not valid Unicode text (it holds a lone surrogate escape such as \\ud800)",
        "remove the \\ud800-\\udfff escape; write characters above U+FFFF as \\U0001F600",
    )


def _bad_name(err: Any, loc: Loc) -> tuple[str, str]:
    pattern = err["ctx"]["pattern"]
    if pattern.startswith("^[A-Za-z0-9_./-]+"):
        return (
            f"{_shown(err.get('input'))} is not a file path",
            "write a path relative to the spec with letters, digits, _ . / - (a block file "
            "ends in .yaml), or a built-in layout's name",
        )
    return f"{_shown(err.get('input'))} is not a valid name", _pattern_hint(pattern)


def _unknown_tag(err: Any, loc: Loc) -> tuple[str, str]:
    ctx = err["ctx"]
    return f"unknown type {_shown(ctx['tag'])}", f"use one of {ctx['expected_tags']}, or `none`"


def _missing_tag(err: Any, loc: Loc) -> tuple[str, str]:
    return "needs a `type:` field", "e.g. {type: se, reduction: 16}"


_DESCRIBERS = {
    "extra_forbidden": _unknown_field,
    "missing": _missing,
    "literal_error": _bad_word,
    "bound": _out_of_range,
    "too_short": _bad_length,
    "too_long": _bad_length,
    "string_pattern_mismatch": _bad_name,
    "string_too_long": _long_text,
    "string_unicode": _not_unicode,
    "union_tag_invalid": _unknown_tag,
    "union_tag_not_found": _missing_tag,
}


_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "dict_type": "a mapping of fields",
    "literal_type": "a word",
}


def _literal_words(expected: str) -> list[str]:
    return [word.strip(" '") for word in expected.replace(" or ", ",").split(",")]


_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _pattern_hint(pattern: str) -> str:
    if pattern.startswith("^[a-z]"):
        return "use lowercase letters, digits and _, starting with a letter (e.g. resnet50)"
    return "use letters, digits and _, starting with an uppercase letter (e.g. ResNet50)"


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})"
