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

from archspec.errors import Issue, Loc, SpecError, format_loc
from archspec.names import RESERVED_NAMES
from archspec.spec.block_use import (
    block_use_issues,
    resolve_block_files,
    resolve_layout,
    unknown_kind_issues,
)
from archspec.spec.checks import (
    Finding,
    IsShared,
    check_spec,
    stage_context,
    stage_findings,
)
from archspec.spec.design import expand_design, scale_compound
from archspec.spec.messages import describe, fields_at, strip_tags
from archspec.spec.models import (
    MAX_BLOCKS,
    Spec,
    StageRow,
    default_class_name,
)
from archspec.spec.overrides import apply_overrides
from archspec.spec.yamlsource import Source, YamlError, load_yaml

# Zoo specs are under 2 kB; PyYAML reads about 400 kB/s, so this bounds parsing to ~0.5 s.
MAX_FILE_BYTES = 200_000
_NONE_WORDS = ("none", "None", "null")
_DESIGN_HINT = "see `archspec expand` and the README section on RegNet designs"


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
    table.data = scale_compound(table.data)
    table.data, design_remap, refusal = expand_design(table.data)
    if refusal is not None:
        raise SpecError([source.issue(("regnet",), "regnet", refusal, _DESIGN_HINT)])
    table.remap.update(design_remap)
    try:
        spec = Spec.model_validate(table.data)
    except pydantic.ValidationError as exc:
        raise SpecError(_invalid_spec_issues(source, table, exc)) from None
    spec, file_issues = resolve_block_files(source, spec)
    spec, layout_issues = resolve_layout(source, spec)
    issues = [
        *file_issues,
        *layout_issues,
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
    designed = isinstance(table.data, dict) and "regnet" in table.data
    errors = [
        err
        for err in exc.errors()
        if not (err["type"] == "missing" and strip_tags(tuple(err["loc"])) in table.suggested)
        # A design stands in for the stage table; its own errors say what is wrong.
        and not (designed and tuple(err["loc"]) == ("stages",))
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
        loc = strip_tags(tuple(err["loc"]))
        close = difflib.get_close_matches(str(loc[-1]), fields_at(loc), n=1)
        found.update((*loc[:-1], name) for name in close)
    return found


def _is_suggested_missing(err: Any, suggested: set[Loc]) -> bool:
    return err["type"] == "missing" and strip_tags(tuple(err["loc"])) in suggested


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
    loc = strip_tags(tuple(err["loc"]))
    # A refused mapping key (a block's member or param name) is located at the key itself.
    named_key = loc[-1:] == ("[key]",)
    loc = loc[:-1] if named_key else loc
    yaml_loc = _yaml_loc(remap, loc)
    where_key = err["type"] == "extra_forbidden" or named_key
    message, hint = describe(err, loc)
    return source.issue(yaml_loc, format_loc(yaml_loc), message, hint, key=where_key)
