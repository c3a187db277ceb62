"""File -> validated Spec, with every error located at file:line:col.

The columnar stage table is rewritten into rows here (one dict per stage) and a table remembers
where each row field came from, so errors found later (pydantic, lowering) point at the YAML.
"""

from __future__ import annotations

import difflib
import stat
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel

from archspec.errors import Issue, Loc, SpecError, format_loc
from archspec.names import RESERVED_NAMES
from archspec.spec.models import (
    MAX_BLOCKS,
    SelectiveKernel,
    Spec,
    SplitAttention,
    SqueezeExcite,
    StageRow,
    default_class_name,
)
from archspec.spec.yamlsource import Source, YamlError, load_yaml

# Zoo specs are under 2 kB; PyYAML reads about 400 kB/s, so this bounds parsing to ~0.5 s.
MAX_FILE_BYTES = 200_000
_NONE_WORDS = ("none", "None", "null")


@dataclass
class LoadedSpec:
    """A validated spec with the means to locate any of its fields in the source file."""

    spec: Spec
    source: Source
    # Row-form location -> location in the YAML as written (columnar tables differ).
    remap: dict[Loc, Loc] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return self.source.file

    def yaml_loc(self, loc: Loc) -> Loc:
        return _yaml_loc(self.remap, loc)

    def issue(self, loc: Loc, message: str, hint: str = "") -> Issue:
        yaml_loc = self.yaml_loc(loc)
        return self.source.issue(yaml_loc, format_loc(yaml_loc), message, hint)


def read_spec(path: str | Path) -> LoadedSpec:
    """Read and validate a spec file."""
    file = str(path)
    return parse_spec(_decode(_read_bytes(Path(path), file), file), file)


def _file_error(file: str, message: str, hint: str) -> SpecError:
    return SpecError([Issue(file, None, "", message, hint)])


_PASS_A_FILE = "pass a .yaml file, e.g. specs/resnet50.yaml"


def _read_bytes(target: Path, file: str) -> bytes:
    """The file's bytes; directories, devices, pipes and files over MAX_FILE_BYTES are refused
    without reading them (so /dev/zero or a FIFO cannot hang the compiler)."""
    try:
        info = target.stat()
        if stat.S_ISDIR(info.st_mode):
            raise _file_error(file, "is a directory, not a spec file", _PASS_A_FILE)
        if not stat.S_ISREG(info.st_mode):
            raise _file_error(
                file, "is not a regular file (a device, pipe or socket)", _PASS_A_FILE
            )
        with target.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _file_error(
            file, f"cannot read: {reason}", "check the path and its permissions"
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise _file_error(
            file,
            f"is {max(info.st_size, len(raw)):,} bytes; specs are small",
            f"keep a spec under {MAX_FILE_BYTES:,} bytes",
        )
    return raw


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _file_error(
            file, f"is not UTF-8 text (bad byte on line {line})", "save the file as UTF-8"
        ) from None


def parse_spec(text: str, file: str = "<string>") -> LoadedSpec:
    """Validate spec text; raise SpecError listing every located issue."""
    try:
        source = load_yaml(text, file)
    except YamlError as exc:
        raise SpecError([exc.issue]) from None
    if not isinstance(source.data, dict):
        raise SpecError(
            [
                source.issue(
                    (),
                    "",
                    "a spec is a mapping of fields",
                    "start from a spec in specs/, e.g. specs/resnet50.yaml",
                )
            ]
        )
    data, remap, issues = _normalize(source)
    if issues:
        raise SpecError(issues)
    try:
        spec = Spec.model_validate(data)
    except pydantic.ValidationError as exc:
        issues = [_pydantic_issue(source, remap, err) for err in exc.errors()]
        # A columnar scalar applies to every stage: report its error once.
        raise SpecError(list(dict.fromkeys(issues))) from None
    issues = [*_class_name_issues(source, spec), *_size_issues(source, remap, spec)]
    if issues:
        raise SpecError(issues)
    return LoadedSpec(spec, source, remap)


def _class_name_issues(source: Source, spec: Spec) -> list[Issue]:
    """The model class may not be a keyword, a builtin, or a name the generated module uses."""
    given = spec.class_name is not None
    name = spec.class_name if spec.class_name is not None else default_class_name(spec.name)
    if name not in RESERVED_NAMES:
        return []
    what = f"{name!r} is" if given else f"gives the class name {name!r}, which is"
    field_name = "class_name" if given else "name"
    return [
        source.issue(
            (field_name,),
            field_name,
            f"{what} a Python keyword or builtin, or a name the generated file uses",
            f"set `class_name:` to another name, e.g. {name}Net",
        )
    ]


def _size_issues(source: Source, remap: dict[Loc, Loc], spec: Spec) -> list[Issue]:
    """Refuse networks too large to lower in seconds (MAX_BLOCKS blocks over all stages)."""
    total, depths = 0, [row.depth for row in spec.stages]
    for index, depth in enumerate(depths):
        total += depth
        if total > MAX_BLOCKS:
            loc = _yaml_loc(remap, ("stages", index, "depth"))
            return [
                source.issue(
                    loc,
                    format_loc(loc),
                    f"the stages hold {sum(depths):,} blocks in total; "
                    f"archspec supports at most {MAX_BLOCKS:,}",
                    f"use depths that sum to {MAX_BLOCKS:,} or less",
                )
            ]
    return []


def _yaml_loc(remap: dict[Loc, Loc], loc: Loc) -> Loc:
    for end in range(len(loc), 0, -1):
        if loc[:end] in remap:
            return remap[loc[:end]] + loc[end:]
    return loc


def _normalize(source: Source) -> tuple[dict[str, Any], dict[Loc, Loc], list[Issue]]:
    data = dict(source.data)
    for key in ("head",):
        if data.get(key) in _NONE_WORDS:
            data[key] = None
    stages = data.get("stages")
    if isinstance(stages, dict):
        rows, remap, issues = _columns_to_rows(source, stages)
        data["stages"] = rows
        return data, remap, issues
    if isinstance(stages, list):
        data["stages"] = [_none_attention(row) for row in stages]
    return data, {}, []


def _none_attention(row: Any) -> Any:
    if isinstance(row, dict) and row.get("attention") in _NONE_WORDS:
        return {**row, "attention": None}
    return row


def _columns_to_rows(
    source: Source, table: dict[str, Any]
) -> tuple[list[Any], dict[Loc, Loc], list[Issue]]:
    lengths = {key: len(value) for key, value in table.items() if isinstance(value, list)}
    reference = "depth" if "depth" in lengths else next(iter(lengths), "depth")
    count = lengths.get(reference, 1)
    issues = [
        source.issue(
            ("stages", key),
            f"stages.{key}",
            f"has {n} entries but {reference} has {count}" if n else "is an empty list",
            f"give one entry per stage ({count}), or a single value for all stages"
            if count
            else "give one entry per stage, or a single value for all stages",
        )
        for key, n in lengths.items()
        if n != count or n == 0
    ]
    rows: list[Any] = []
    remap: dict[Loc, Loc] = {}
    for i in range(count):
        row: dict[str, Any] = {}
        for key, value in table.items():
            per_stage = key in lengths
            row[key] = value[i] if per_stage and i < len(value) else value
            remap[("stages", i, key)] = ("stages", key, i) if per_stage else ("stages", key)
        remap[("stages", i)] = ("stages",)
        rows.append(_none_attention(row))
    return rows, remap, issues


def _pydantic_issue(source: Source, remap: dict[Loc, Loc], err: Any) -> Issue:
    loc = _strip_tags(tuple(err["loc"]))
    yaml_loc = _yaml_loc(remap, loc)
    where_key = err["type"] == "extra_forbidden"
    message, hint = _describe(err, loc)
    return source.issue(yaml_loc, format_loc(yaml_loc), message, hint, key=where_key)


def _strip_tags(loc: Loc) -> Loc:
    """Drop the discriminator tag pydantic puts after `attention` ('se', 'sk', 'split')."""
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (i > 0 and loc[i - 1] == "attention" and part in _ATTENTION_TAGS)
    )


_ATTENTION_TAGS = ("se", "sk", "split")


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


def _fields_at(loc: Loc) -> list[str]:
    """Field names allowed in the mapping that contains loc[-1]."""
    if loc[:1] == ("stages",):
        return list(StageRow.model_fields) if len(loc) == 3 else _attention_fields(loc)
    model: Any = Spec
    for part in loc[:-1]:
        model = _child_model(model, part)
    return list(model.model_fields) if model is not None else []


def _attention_fields(loc: Loc) -> list[str]:
    names: list[str] = []
    for model in (SqueezeExcite, SelectiveKernel, SplitAttention):
        names += [name for name in model.model_fields if name not in names]
    return names


def _describe(err: Any, loc: Loc) -> tuple[str, str]:
    """(what is wrong, how to fix it) for one pydantic error."""
    kind = err["type"]
    if kind in _TYPE_WORDS:
        words = _TYPE_WORDS[kind]
        return f"expected {words}, got {_shown(err.get('input'))}", f"write {words} here"
    if kind.startswith(("greater_than", "less_than")):
        kind = "bound"
    describe = _DESCRIBERS.get(kind)
    if describe is None:
        return err["msg"], "see DESIGN.md 'Spec language v1'"
    return describe(err, loc)


def _unknown_field(err: Any, loc: Loc) -> tuple[str, str]:
    name = str(loc[-1])
    allowed = _fields_at(loc)
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
    return f"unknown field {name!r}", hint


def _missing(err: Any, loc: Loc) -> tuple[str, str]:
    return "missing required field", f"add `{loc[-1]}:` to this mapping"


def _bad_word(err: Any, loc: Loc) -> tuple[str, str]:
    expected = err["ctx"]["expected"]
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
    return f"{_shown(err.get('input'))} is not a valid name", _pattern_hint(err["ctx"]["pattern"])


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
