"""File -> validated Spec, with every error located at file:line:col.

The columnar stage table is rewritten into rows here (one dict per stage) and a table remembers
where each row field came from, so errors found later (pydantic, lowering) point at the YAML.
"""

from __future__ import annotations

import difflib
import stat
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel

from archspec.blocks.definition import BlockDef, Param
from archspec.errors import Issue, Loc, SpecError, format_loc
from archspec.names import RESERVED_NAMES
from archspec.spec.block_use import block_use_issues, resolve_block_files, unknown_kind_issues
from archspec.spec.checks import (
    Finding,
    IsShared,
    check_spec,
    stage_context,
    stage_findings,
)
from archspec.spec.models import (
    MAX_BLOCKS,
    SelectiveKernel,
    Spec,
    SplitAttention,
    SqueezeExcite,
    StageRow,
    default_class_name,
)
from archspec.spec.overrides import apply_overrides
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


def read_spec(path: str | Path, overrides: Sequence[str] = ()) -> LoadedSpec:
    """Read and validate a spec file, with `--set key=value` overrides applied."""
    file = str(path)
    return parse_spec(_decode(_read_bytes(Path(path), file), file), file, overrides)


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


def parse_spec(text: str, file: str = "<string>", overrides: Sequence[str] = ()) -> LoadedSpec:
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
    source = apply_overrides(source, overrides)
    table = _normalize(source)
    if table.fatal:
        raise SpecError(table.fatal)
    try:
        spec = Spec.model_validate(table.data)
    except pydantic.ValidationError as exc:
        raise SpecError(_invalid_spec_issues(source, table, exc)) from None
    spec, file_issues = resolve_block_files(source, spec)
    issues = [
        *file_issues,
        *table.unknown,
        *_class_name_issues(source, spec),
        *_size_issues(source, table.remap, spec),
        *_check_issues(source, table.remap, check_spec(spec, _shared(table.remap))),
        *unknown_kind_issues(source, _remapper(table.remap), table.data),
        *block_use_issues(source, _remapper(table.remap), spec),
    ]
    if issues:
        raise SpecError(issues)
    return LoadedSpec(spec, source, table.remap)


def _invalid_spec_issues(
    source: Source, table: _Table, exc: pydantic.ValidationError
) -> list[Issue]:
    """The schema errors, minus a `missing` field that an unknown key's did-you-mean names,
    plus the applicability checks of the stage rows and taps that did validate."""
    errors = [
        err
        for err in exc.errors()
        if not (err["type"] == "missing" and _strip_tags(tuple(err["loc"])) in table.suggested)
    ]
    suggested = _suggested_locs(errors)
    errors = [err for err in errors if not _is_suggested_missing(err, suggested)]
    issues = [*table.unknown, *(_pydantic_issue(source, table.remap, err) for err in errors)]
    issues += _check_issues(source, table.remap, _partial_findings(table.data, table.remap))
    issues += unknown_kind_issues(source, _remapper(table.remap), table.data)
    # A columnar scalar applies to every stage: report its error once.
    return list(dict.fromkeys(issues))


def _suggested_locs(errors: list[Any]) -> set[Loc]:
    """(mapping, field) of each close match an unknown field suggests."""
    found: set[Loc] = set()
    for err in errors:
        if err["type"] != "extra_forbidden":
            continue
        loc = _strip_tags(tuple(err["loc"]))
        close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc), n=1)
        found.update((*loc[:-1], name) for name in close)
    return found


def _is_suggested_missing(err: Any, suggested: set[Loc]) -> bool:
    return err["type"] == "missing" and _strip_tags(tuple(err["loc"])) in suggested


def _partial_findings(data: dict[str, Any], remap: dict[Loc, Loc]) -> list[Finding]:
    """Applicability checks of the stage rows that validate on their own."""
    stages = data.get("stages")
    if not isinstance(stages, list):
        return []
    rows: list[tuple[int, StageRow]] = []
    for index, row in enumerate(stages):
        try:
            rows.append((index, StageRow.model_validate(row)))
        except pydantic.ValidationError:
            continue
    stem = data.get("stem")
    width = stem.get("width", 64) if isinstance(stem, dict) else 64
    ctx = stage_context(rows, len(stages), width if isinstance(width, int) else 0)
    return stage_findings(rows, _shared(remap), ctx)


def _shared(remap: dict[Loc, Loc]) -> IsShared:
    def shared(index: int, key: str) -> bool:
        return remap.get(("stages", index, key)) == ("stages", key)

    return shared


def _check_issues(source: Source, remap: dict[Loc, Loc], findings: list[Finding]) -> list[Issue]:
    return [
        source.issue(loc, format_loc(loc), f.message, f.hint)
        for f in findings
        for loc in [_yaml_loc(remap, f.loc)]
    ]


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


def _remapper(remap: dict[Loc, Loc]) -> typing.Callable[[Loc], Loc]:
    return lambda loc: _yaml_loc(remap, loc)


def _yaml_loc(remap: dict[Loc, Loc], loc: Loc) -> Loc:
    for end in range(len(loc), 0, -1):
        if loc[:end] in remap:
            return remap[loc[:end]] + loc[end:]
    return loc


@dataclass
class _Table:
    """Spec data with the stage table in row form, and what normalising it found."""

    data: dict[str, Any]
    remap: dict[Loc, Loc] = field(default_factory=dict)
    fatal: list[Issue] = field(default_factory=list)  # later checks would be meaningless
    unknown: list[Issue] = field(default_factory=list)  # unknown columns, reported once each
    suggested: set[Loc] = field(default_factory=set)  # row fields those columns may mean


def _normalize(source: Source) -> _Table:
    data = dict(source.data)
    for key in ("head",):
        if data.get(key) in _NONE_WORDS:
            data[key] = None
    stages = data.get("stages")
    if isinstance(stages, dict):
        table = _columns_to_rows(source, stages)
        table.data = {**data, "stages": table.data["stages"]}
        return table
    if isinstance(stages, list):
        data["stages"] = [_none_attention(row) for row in stages]
    return _Table(data)


def _none_attention(row: Any) -> Any:
    if isinstance(row, dict) and row.get("attention") in _NONE_WORDS:
        return {**row, "attention": None}
    return row


def _columns_to_rows(source: Source, columns: dict[str, Any]) -> _Table:
    unknown, suggested = _unknown_columns(source, columns)
    table = {key: value for key, value in columns.items() if key in StageRow.model_fields}
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
    loose: set[Loc] = {("stages", i, name) for i in range(count) for name in suggested}
    return _Table({"stages": rows}, remap, issues, unknown, loose)


def _unknown_columns(source: Source, columns: dict[str, Any]) -> tuple[list[Issue], set[str]]:
    """A misspelt column is one error (not one per stage), with its did-you-mean."""
    issues, suggested = [], set()
    allowed = list(StageRow.model_fields)
    for key in columns:
        if key in StageRow.model_fields:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1)
        suggested.update(close)
        hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
        loc = ("stages", key)
        issues.append(source.issue(loc, format_loc(loc), f"unknown field {key!r}", hint, key=True))
    return issues, suggested


def _pydantic_issue(source: Source, remap: dict[Loc, Loc], err: Any) -> Issue:
    loc = _strip_tags(tuple(err["loc"]))
    # A refused mapping key (a block's member or param name) is located at the key itself.
    named_key = loc[-1:] == ("[key]",)
    loc = loc[:-1] if named_key else loc
    yaml_loc = _yaml_loc(remap, loc)
    where_key = err["type"] == "extra_forbidden" or named_key
    message, hint = _describe(err, loc)
    return source.issue(yaml_loc, format_loc(yaml_loc), message, hint, key=where_key)


def _strip_tags(loc: Loc) -> Loc:
    """Drop the discriminator tag pydantic puts after `attention` ('se', 'sk', 'split')."""
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (i > 0 and loc[i - 1] == "attention" and part in _ATTENTION_TAGS)
        and not (i == 2 and loc[0] == "blocks" and part in ("inline", "file"))
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


def _fields_at(loc: Loc) -> list[str]:
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


def _describe(err: Any, loc: Loc) -> tuple[str, str]:
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
    allowed = _fields_at(loc)
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
