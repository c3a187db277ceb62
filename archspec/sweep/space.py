"""Design-space files: a base spec plus laws for any of its fields, and constraints.

```yaml
space: 1                         # design-space file version
base: ../resnet50.yaml           # relative to this file; or an inline spec mapping
samples: 2000                    # draw this many; without it, enumerate the whole grid
seed: 0
vary:
  stages.groups: [1, 32]         # one draw for every stage
  stages[0].depth: {range: [2, 4]}           # one stage
  stages[*].width: {log_uniform: [32, 512], quantize: 8}   # a draw per stage
  stages[3].attention: [none, {type: se}]
  stem.width: [32, 64]
  width_mult: [0.75, 1.0]        # compound scaling knobs (archspec.sweep.scaling)
regnet: {depth: {range: [12, 28]}, w0: ..., wa: ..., wm: ..., group_width: ...}
constraints:
  - macs in [380e6, 420e6]
```
Errors are located issues in the space file (file:line:col, and the column inside a constraint).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archspec.errors import Issue, Loc, SpecError, format_loc
from archspec.expr import ExprError, Expression
from archspec.spec import read_spec
from archspec.spec.load import parse_spec
from archspec.spec.yamlsource import Source, YamlError, load_yaml
from archspec.sweep.figures import FIGURES, MEMORY_FIGURES
from archspec.sweep.sampling import CONTINUOUS, KINDS, Distribution

KNOBS = ("width_mult", "depth_mult", "resolution")
REGNET_DEFAULTS: dict[str, dict[str, Any]] = {
    # pycls regnet_sampler: the laws and quanta of each parameter.
    "depth": {"uniform": [12, 28], "quantize": 1},
    "w0": {"log_uniform": [8, 256], "quantize": 8},
    "wa": {"log_uniform": [8.0, 256.0], "quantize": 0.1},
    "wm": {"log_uniform": [1.5, 3.0], "quantize": 0.001},
    "group_width": {"power2_or_log_uniform": [1, 32], "quantize": 8},
    "bottleneck": {"value": 1.0},
}
# Names a constraint may use besides the figures: per-stage lists and counts of the candidate.
SPEC_NAMES = (
    *("depth", "width", "groups", "base_width", "expansion", "stages", "blocks"),
    *("resolution", "stem_width", "w0", "wa", "wm", "group_width", "bottleneck"),
)
MAX_SAMPLES = 10_000_000  # candidates in one sweep, drawn or enumerated
_TARGET = re.compile(r"^stages(?:\[(\*|\d+)\])?\.([a-z_]+)$|^([a-z_]+(?:\.[a-z_]+)*)$")
_FILE_KEYS = ("space", "name", "base", "samples", "seed", "vary", "regnet", "constraints")


@dataclass(frozen=True)
class Axis:
    """One varied field: where it goes and its law."""

    name: str  # as written: "stages[*].width"
    stage: str | None  # None: a top-level path; "all": every stage alike; "each"; "0", "1", ...
    path: tuple[str, ...]
    law: Distribution

    @property
    def per_stage(self) -> bool:
        return self.stage == "each"


@dataclass(frozen=True)
class Constraint:
    expression: Expression

    @property
    def text(self) -> str:
        return self.expression.text


@dataclass
class Space:
    file: str
    name: str
    top: dict[str, Any]
    rows: list[dict[str, Any]]
    axes: list[Axis] = field(default_factory=list)
    regnet: dict[str, Distribution] | None = None
    constraints: list[Constraint] = field(default_factory=list)
    samples: int | None = None
    seed: int = 0

    @property
    def size(self) -> int:
        """Candidates in the sweep: the sample count, or the grid's size."""
        if self.samples is not None:
            return self.samples
        total = 1
        for axis in self.axes:
            total *= len(axis.law.grid()) ** (len(self.rows) if axis.per_stage else 1)
        return total


class _Reader:
    """Reads one space file, collecting located issues."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.issues: list[Issue] = []

    def issue(self, loc: Loc, message: str, hint: str = "", *, key: bool = False) -> None:
        self.issues.append(self.source.issue(loc, format_loc(loc), message, hint, key=key))

    def expression_issue(self, loc: Loc, text: str, exc: ExprError) -> Issue:
        base = self.source.issue(loc, format_loc(loc), exc.message, exc.hint)
        return _shift(base, text, exc.col)


def _shift(issue: Issue, text: str, col: int) -> Issue:
    """Point an issue at column `col` of expression `text` inside its YAML line."""
    if issue.position is None:
        return issue
    start = issue.source_line.find(text, issue.position.col - 1)
    if start < 0:
        return issue
    position = type(issue.position)(issue.position.line, start + col)
    return Issue(issue.file, position, issue.field, issue.message, issue.hint, issue.source_line)


def read_space(path: str | Path, overrides: Sequence[str] = ()) -> Space:
    file = str(path)
    try:
        raw = Path(path).read_bytes()[:200_001]
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SpecError([Issue(file, None, "", f"cannot read: {reason}", _FIX_PATH)]) from None
    return parse_space(text, file, overrides)


_FIX_PATH = "pass a design-space .yaml file, e.g. specs/spaces/resnet_widths.yaml"


def parse_space(text: str, file: str = "<string>", overrides: Sequence[str] = ()) -> Space:
    """A design space; `overrides` (`--set key=value`) apply to its base spec."""
    try:
        source = load_yaml(text, file)
    except YamlError as exc:
        raise SpecError([exc.issue]) from None
    reader = _Reader(source)
    data = source.data
    if not isinstance(data, dict):
        reader.issue((), "a design space is a mapping", "start from specs/spaces/*.yaml")
        raise SpecError(reader.issues)
    space = _read(reader, data, file, overrides)
    if reader.issues or space is None:
        raise SpecError(reader.issues)
    return space


def _read(
    reader: _Reader, data: dict[str, Any], file: str, overrides: Sequence[str]
) -> Space | None:
    for key in data:
        if key not in _FILE_KEYS:
            reader.issue(
                (key,), f"unknown field {key!r}", "allowed: " + ", ".join(_FILE_KEYS), key=True
            )
    if data.get("space") != 1:
        reader.issue(("space",), "needs `space: 1` (the design-space file version)", "add space: 1")
    base = _base(reader, data.get("base"), file, overrides)
    if base is None:
        return None
    top, rows = base
    space = Space(file, _name(data.get("name") or Path(file).stem), top, rows)
    space.samples = _count(reader, data, "samples", 1, MAX_SAMPLES)
    space.seed = _count(reader, data, "seed", 0, 2**32) or 0
    space.axes = _axes(reader, data.get("vary") or {}, len(rows), data.get("regnet") is not None)
    if data.get("regnet") is not None:
        space.regnet = _regnet(reader, data["regnet"])
    space.constraints = _constraints(reader, data.get("constraints") or [])
    if space.samples is None:
        for axis in space.axes:
            if not axis.law.enumerable:
                reader.issue(
                    ("vary", axis.name),
                    f"a {axis.law.kind} law cannot be enumerated",
                    "set `samples:` to draw candidates, or use choices / range",
                )
        if space.regnet is not None:
            reader.issue(("regnet",), "a RegNet space is sampled", "set `samples:`")
        elif all(axis.law.enumerable for axis in space.axes) and space.size > MAX_SAMPLES:
            reader.issue(
                ("vary",),
                f"the grid holds {space.size:,} candidates; at most {MAX_SAMPLES:,} are swept",
                "narrow the ranges, or set `samples:` to draw candidates",
            )
    return space


def _name(text: Any) -> str:
    """A spec-name prefix for candidates: lowercase letters, digits and _."""
    name = re.sub(r"[^a-z0-9_]", "_", str(text).lower())[:40]
    return name if name[:1].isalpha() else f"space_{name}"


def _count(reader: _Reader, data: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        reader.issue((key,), f"must be a whole number {low}..{high:,}", f"e.g. {key}: 1000")
        return None
    return value


def _base(
    reader: _Reader, base: Any, file: str, overrides: Sequence[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    try:
        if isinstance(base, str):
            loaded = read_spec(Path(file).parent / base, overrides)
        elif isinstance(base, dict):
            import yaml  # noqa: PLC0415 - only inline bases need it

            loaded = parse_spec(yaml.safe_dump(base), f"{file} (base)", overrides)
        else:
            reader.issue(("base",), "needs the base spec: a path or an inline mapping", _BASE_FIX)
            return None
    except SpecError as exc:
        reader.issues.extend(exc.issues)
        return None
    data = loaded.spec.model_dump(exclude_unset=True)
    rows = data.pop("stages")
    return data, rows


_BASE_FIX = "e.g. base: ../resnet50.yaml (relative to this file)"


def _axes(reader: _Reader, vary: Any, stages: int, regnet: bool) -> list[Axis]:
    if not isinstance(vary, dict):
        reader.issue(("vary",), "is a mapping of field: law", "e.g. stages.groups: [1, 32]")
        return []
    axes = []
    for name, law in vary.items():
        axis = _axis(reader, str(name), law, stages, regnet)
        if axis is not None:
            axes.append(axis)
    return axes


def _axis(reader: _Reader, name: str, value: Any, stages: int, regnet: bool) -> Axis | None:
    match = _TARGET.match(name)
    loc = ("vary", name)
    if match is None:
        reader.issue(loc, f"{name!r} is not a field path", _PATH_FIX, key=True)
        return None
    law = _law(reader, loc, value)
    if law is None:
        return None
    if match.group(3) is not None:
        path = tuple(match.group(3).split("."))
        if path[0] == "stages":
            reader.issue(loc, "name the stage field: stages.FIELD", _PATH_FIX, key=True)
            return None
        return Axis(name, None, path, law)
    which = match.group(1)
    problem = _stage_problem(which, stages, regnet)
    if problem is not None:
        reader.issue(loc, *problem, key=True)
        return None
    stage = "all" if which is None else "each" if which == "*" else which
    return Axis(name, stage, (match.group(2),), law)


def _stage_problem(which: str | None, stages: int, regnet: bool) -> tuple[str, str] | None:
    """Why `stages[which]` cannot be varied, with a fix; None when it can."""
    if which in (None, "*"):
        return None
    if regnet:
        return "with `regnet:` the stage count varies", "use stages.FIELD"
    if int(which) >= stages:
        return f"the base spec has {stages} stages", "use a stage index below that"
    return None


_PATH_FIX = "write stages.FIELD, stages[N].FIELD, stages[*].FIELD, stem.width, width_mult, ..."


def _law(reader: _Reader, loc: Loc, value: Any) -> Distribution | None:
    if isinstance(value, list):
        if not value:
            reader.issue(loc, "is an empty list of choices", "give at least one value")
            return None
        return Distribution("choices", choices=tuple(value))
    if not (isinstance(value, dict) and any(kind in value for kind in KINDS)):
        return Distribution("value", choices=(value,))
    kinds = [kind for kind in KINDS if kind in value]
    extra = [key for key in value if key not in (*KINDS, "quantize", "step")]
    if len(kinds) != 1 or extra:
        reader.issue(
            loc,
            "a law has one kind (and quantize/step)",
            "e.g. {log_uniform: [32, 512], quantize: 8}",
        )
        return None
    kind = kinds[0]
    if kind in ("choices", "value"):
        return _choices(reader, loc, kind, value[kind])
    return _bounded(reader, loc, kind, value)


def _choices(reader: _Reader, loc: Loc, kind: str, value: Any) -> Distribution | None:
    choices = value if kind == "choices" else [value]
    if not isinstance(choices, list) or not choices:
        reader.issue((*loc, kind), "needs a non-empty list", "e.g. choices: [1, 2]")
        return None
    return Distribution("choices", choices=tuple(choices))


def _bounded(reader: _Reader, loc: Loc, kind: str, value: dict[str, Any]) -> Distribution | None:
    bounds = value[kind]
    q = value.get("quantize", value.get("step", 1))
    numbers = isinstance(bounds, list) and len(bounds) == 2 and all(_is_number(b) for b in bounds)
    if not numbers or not _is_number(q) or q <= 0:
        reader.issue(
            (*loc, kind), "needs [low, high] numbers and a positive quantize", "e.g. [32, 512]"
        )
        return None
    low, high = bounds
    if low > high or (kind in CONTINUOUS and low <= 0 and kind != "uniform"):
        reader.issue((*loc, kind), f"needs 0 < low <= high, got [{low}, {high}]", "fix the bounds")
        return None
    if kind == "range" and not all(type(v) is int for v in (low, high, q)):
        reader.issue((*loc, kind), "a range is of whole numbers", "use uniform for real numbers")
        return None
    if isinstance(q, int) and isinstance(low, float):
        q = float(q)
    return Distribution(kind, low, high, q)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _regnet(reader: _Reader, data: Any) -> dict[str, Distribution]:
    if not isinstance(data, dict):
        reader.issue(("regnet",), "is a mapping of RegNet parameters", "e.g. {w0: [48]}")
        return {}
    laws: dict[str, Distribution] = {}
    for key in data:
        if key not in REGNET_DEFAULTS:
            hint = "parameters: " + ", ".join(REGNET_DEFAULTS)
            reader.issue(("regnet", key), f"unknown RegNet parameter {key!r}", hint, key=True)
    for key, default in REGNET_DEFAULTS.items():
        law = _law(reader, ("regnet", key), data.get(key, default))
        if law is not None:
            laws[key] = law
    return laws


def _constraints(reader: _Reader, items: Any) -> list[Constraint]:
    if not isinstance(items, list):
        reader.issue(("constraints",), "is a list of expressions", "e.g. - params <= 15e6")
        return []
    known = set(FIGURES) | set(MEMORY_FIGURES) | set(SPEC_NAMES) | set(KNOBS)
    out = []
    for i, item in enumerate(items):
        loc = ("constraints", i)
        text = item if isinstance(item, str) else str(item)
        try:
            expression = Expression.parse(text)
        except ExprError as exc:
            reader.issues.append(reader.expression_issue(loc, text, exc))
            continue
        for name in sorted(expression.names - known):
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "names: " + ", ".join(sorted(known))
            unknown = ExprError(f"unknown name {name!r}", text.find(name) + 1, hint)
            reader.issues.append(reader.expression_issue(loc, text, unknown))
        out.append(Constraint(expression))
    return out
