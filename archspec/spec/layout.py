"""Model layouts as data: how a network's stem, stages, tail and head are named.

A layout (a YAML file; the built-in ones are in archspec/stdlib/layouts/) fixes the module
paths, i.e. the state_dict keys, that lowering gives the parts around the blocks. Every name is
checked to be a Python identifier (or, for a path segment, a Sequential index) before it can reach
generated code; a name template may hold only the placeholders listed in `_PLACEHOLDERS`.
"""

from __future__ import annotations

import difflib
import functools
import keyword
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from archspec.errors import Issue, Loc, SpecError, format_loc
from archspec.names import MODULE_ATTRIBUTES, RESERVED_NAMES
from archspec.spec.yamlsource import Source, YamlError, load_yaml

# Stages a spec may have (spec.models.MAX_STAGES); a stage path is checked for each.
MAX_STAGES = 16
# A layout is a few dozen lines; anything bigger is not one.
MAX_LAYOUT_BYTES = 20_000
_TOKEN = re.compile(r"\{([a-z]+)\}")
_SEGMENT = re.compile(r"^(?:[A-Za-z0-9_]|\{[a-z]+\})+$")
_LAYER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\{m\}$")
# Placeholder -> what it stands for; each template field says which it may use.
_PLACEHOLDERS = {
    "n": "the stage's number, from 1",
    "i": "the stage's index, from 0",
    "m": "the layer's number in its block, from 1",
    "j": "the block's index in its stage, from 0",
    "b": "the block's number in its stage, from 1",
}


def render(template: str, **values: int) -> str:
    """Fill `{n}`-style placeholders with numbers (the template was validated on load)."""
    return _TOKEN.sub(lambda match: str(values[match.group(1)]), template)


def block_name(template: str, stage: int, block: int) -> str:
    """A stage's block name from `stages.block_name` (stage 0-based)."""
    return render(template, n=stage + 1, i=stage, j=block, b=block + 1)


def _check_path(text: str, allowed: str) -> str:
    """A dotted module path whose segments are identifiers or indices once filled in."""
    if len(text) > 100:
        raise ValueError("is longer than 100 characters")
    sample = {key: 1 for key in _PLACEHOLDERS}
    for position, segment in enumerate(text.split(".")):
        if not _SEGMENT.match(segment):
            raise ValueError(f"segment {segment!r} is not a name")
        for token in _TOKEN.findall(segment):
            if token not in allowed:
                raise ValueError(f"placeholder {{{token}}} does not apply here")
        filled = render(segment, **sample)
        if filled.isdigit() and position > 0:
            continue
        if not filled.isidentifier() or keyword.iskeyword(filled) or filled in RESERVED_NAMES:
            raise ValueError(f"segment {segment!r} is not a usable attribute name")
        if filled in MODULE_ATTRIBUTES or filled.startswith("_"):
            raise ValueError(f"{filled!r} is taken by nn.Module or the generated model")
    return text


def _single(text: str) -> str:
    if "." in text:
        raise ValueError("must be one attribute name, not a dotted path")
    return _check_path(text, "")


def _fc(text: str) -> str:
    name, dot, index = text.partition(".")
    if dot and index != "0":
        raise ValueError("must be a name, or `name.0` for a Sequential holding the classifier")
    _single(name)
    return text


def _block_name(text: str) -> str:
    if len(text) > 64 or not re.fullmatch(r"(?:[A-Za-z0-9_-]|\{[nijb]\})+", text):
        message = "must be letters, digits, _ and -, with {n}, {i}, {j} or {b} placeholders"
        raise ValueError(message)
    if "{j}" not in text and "{b}" not in text:
        raise ValueError("must hold {j} or {b}, the block's place in its stage, so names differ")
    return text


Ident = Annotated[str, AfterValidator(_single)]
KindName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
# kind the spec names -> kind the layout builds (same slot params; e.g. mbconv -> timm_mbconv).
KindMap = Annotated[dict[KindName, KindName], Field(max_length=32)]
BlockName = Annotated[str, AfterValidator(_block_name)]
FcPath = Annotated[str, AfterValidator(_fc)]
ModulePath = Annotated[str, AfterValidator(functools.partial(_check_path, allowed=""))]
StagePath = Annotated[str, AfterValidator(functools.partial(_check_path, allowed="ni"))]
LayerName = Annotated[str, AfterValidator(functools.partial(_check_path, allowed="m"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StemLayout(_Strict):
    """The stem's members. `path` "" puts them on the model itself (torchvision ResNet);
    otherwise they live in the Sequential at `path`: called as one module when `sequential`
    (timm `stem`), else child by child inside a container shared with the stages (DenseNet
    `features`). A deep stem's three convs form one nn.Sequential at `conv`."""

    path: Literal[""] | Ident = ""
    sequential: bool = False
    conv: Ident = "conv1"
    norm: Ident = "bn1"
    act: Ident = "relu"
    pool: Ident = "maxpool"
    # Where a stem kind written as data goes: one module on the model, or a numbered child of
    # a container (`features.0`, torchvision's EfficientNet).
    block: ModulePath = "stem"
    # The stem kind's ops on the model itself, under their member names (timm `conv_stem`,
    # `bn1`): the kind's forward must be a chain of ops.
    splice: bool = False
    # Kinds this layout builds in their place (a library names its blocks' members its own way).
    kinds: KindMap = {}


class StagesLayout(_Strict):
    """Where stage n's blocks live: an nn.Sequential at `path` with block j at `<path>.<j>`.
    A path without `{n}` or `{i}` is one Sequential for every stage, its blocks numbered on
    across stages (torchvision's flat `features`); a stem or tail kind placed there too takes
    the next number.
    A path with more than one segment is a container (first segment; indexed when the next
    segment is a number) holding nested named Sequentials. Dense stages also name their layers,
    the transition after every stage but the last, and the norm after the last."""

    path: StagePath
    layer: LayerName | None = None
    transition: StagePath | None = None
    final_norm: ModulePath | None = None
    # An nn.ReLU module of its own after every block of the stage's Sequential, so blocks sit
    # at even indices (SKNet-pytorch's `stage_1`).
    act_after_block: bool = False
    # In a flat layout, a block whose forward is a chain of ops puts those ops themselves in
    # the container, numbered on (torchvision VGG's `features.0` conv, `.1` BN, `.2` ReLU).
    splice: bool = False
    kinds: KindMap = {}
    # Blocks as named children of the stage's Sequential instead of numbered ones: a template
    # over {n}, {i}, {j} (the block's index in its stage) and {b} (its number), e.g.
    # torchvision RegNet's `block{n}-{j}` (no identifier: only ever a state_dict key) or timm's
    # `b{b}`.
    block_name: BlockName | None = None
    # Where a stage's `entry` kind goes (ConvNeXt's downsampling layer): a template
    # (timm's `stages.{i}.downsample`, beside `stages.{i}.blocks`), or the flat path itself
    # for the container's next child (torchvision's `features.2`).
    entry: StagePath | None = None
    # In a flat layout, each stage's blocks as one nn.Sequential, the container's next child
    # (torchvision ConvNeXt's `features.1`, `features.3`), instead of a child per block.
    grouped: bool = False
    # Stochastic depth of the k-th of n blocks (spec `drop_path_rate`): `count` is rate x k / n
    # (torchvision's and timm's EfficientNet), `linspace` rate x k / (n - 1), as
    # torch.linspace(0, rate, n) (torchvision's and timm's ConvNeXt).
    drop_path: Literal["count", "linspace"] = "count"

    @property
    def flat(self) -> bool:
        return not _TOKEN.search(self.path)


class TailLayout(_Strict):
    """A norm and activation after the last stage (timm ResNetV2 `norm`), on the model; and
    where a tail kind written as data goes (the last 1x1 conv of EfficientNet), with `{n}`
    the number after the last stage's (`features.{n}`: `features.8` after seven stages)."""

    norm: Ident | None = None
    act: Ident | None = None
    block: StagePath = "tail"
    splice: bool = False
    kinds: KindMap = {}


class HeadLayout(_Strict):
    """The classifier: [act,] global pool, flatten, fc. `path` "" puts the members on the model
    with a functional flatten unless `flatten` names a module; `path` "head" makes them one
    named nn.Sequential. A `conv1x1` classifier (timm) runs before the flatten. `pool` null is
    torchvision's functional `adaptive_avg_pool2d`; `pool_size` its output side (VGG: 7). A head
    kind written as data goes at `block`, after the pool and flatten."""

    path: Literal[""] | Ident = ""
    act: Ident | None = None
    pool: Ident | None
    pool_size: Annotated[int, Field(ge=1, le=64)] = 1
    block: Ident = "classifier"
    splice: bool = False
    kinds: KindMap = {}
    flatten: Ident | None = None
    # `name.0`: the classifier is the only child of an nn.Sequential (SKNet-pytorch).
    fc: FcPath = "fc"
    classifier: Literal["linear", "conv1x1"] = "linear"


class Layout(_Strict):
    """One model layout: the names around the blocks."""

    layout: Literal[1]
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    title: Annotated[str, Field(max_length=200)] = ""
    stem: StemLayout = StemLayout()
    stages: StagesLayout
    tail: TailLayout = TailLayout()
    head: HeadLayout

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Layout:
        if self.stem.sequential and not self.stem.path:
            raise ValueError("stem.sequential needs a stem.path to hold the Sequential")
        if self.stages.block_name is not None and self.stages.flat:
            raise ValueError("stages.block_name names blocks inside a stage's own Sequential")
        if self.stages.grouped and not self.stages.flat:
            raise ValueError("stages.grouped needs a flat stages.path (no {n} or {i})")
        if self.stages.splice and not self.stages.flat:
            raise ValueError("stages.splice needs a flat stages.path (no {n} or {i})")
        if self.head.path and "." in self.head.fc:
            raise ValueError("head.fc is one name inside a head Sequential (head.path)")
        if self.head.path and self.head.flatten is None:
            raise ValueError("a head Sequential needs head.flatten (an nn.Flatten member)")
        if self.stages.layer is not None and not _LAYER.match(self.stages.layer):
            # The dense block class numbers its layers itself: `<prefix><number from 1>`.
            raise ValueError("stages.layer must be a name ending in {m}, e.g. denselayer{m}")
        _check_unique(self._paths())
        return self

    def _paths(self) -> list[str]:
        """Every module path the layout can place on the model, for up to MAX_STAGES stages."""
        stem, head, stages = self.stem, self.head, self.stages
        parts = [stem.conv, stem.norm, stem.act, stem.pool]
        paths = [stem.path] if stem.sequential else [_join(stem.path, p) for p in parts]
        for index in range(MAX_STAGES):
            for template in (stages.path, stages.transition, stages.entry):
                if template is not None and not (template == stages.path and stages.flat):
                    paths.append(render(template, n=index + 1, i=index))
            if stages.entry is not None and _shares_child(stages.entry, stages.path):
                paths.pop()  # in the stage's own child (timm `stages.{i}.downsample`)
        if stages.flat:
            paths.append(stages.path)
        paths += [p for p in (stages.final_norm, self.tail.norm, self.tail.act) if p]
        if stem.block not in (stem.path, stages.path):
            paths.append(stem.block)
        if head.path:
            return [*paths, head.path]
        return paths + [p for p in (head.act, head.pool, head.flatten, head.fc) if p]

    def block_paths(self) -> list[str]:
        """Where kinds written as data go (one is used at a time in place of the built-in)."""
        return [self.stem.block, self.head.block]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shares_child(entry: str, path: str) -> bool:
    """The entry sits inside the stage's container child, beside its blocks."""
    return entry != path and entry.split(".")[:2] == path.split(".")[:2]


def _check_unique(paths: list[str]) -> None:
    """Two parts may share a container (`features`) but not a member or a container's child."""
    members: set[str] = set()
    containers: set[str] = set()
    children: set[tuple[str, str]] = set()
    for path in paths:
        top, *rest = path.split(".")
        if not rest:
            if top in members or top in containers:
                raise ValueError(f"two parts of the layout are both named {top!r}")
            members.add(top)
            continue
        child = rest[0]
        if top in members or (top, child) in children:
            raise ValueError(f"two parts of the layout are both named {top}.{child}")
        if any(c.isdigit() != child.isdigit() for parent, c in children if parent == top):
            # nn.Sequential indexes by position: `features[0]` and `features.conv0` can't mix.
            raise ValueError(f"container {top!r} mixes numbered and named children")
        containers.add(top)
        children.add((top, child))


def stdlib_dir() -> Path:
    # Package data beside the modules, in a checkout and in the wheel alike.
    return Path(__file__).resolve().parent.parent / "stdlib" / "layouts"


@functools.cache
def builtin_layout(name: str) -> Layout:
    """A layout shipped with archspec (archspec/stdlib/layouts/<name>.yaml), parsed by libyaml
    without positions (start-up time); a file that does not validate is read again with
    positions, for a located error."""
    path = stdlib_dir() / f"{name}.yaml"
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return Layout.model_validate(yaml.load(path.read_bytes(), Loader=loader))
    except (OSError, yaml.YAMLError, pydantic.ValidationError):
        return load_layout(path)


def builtin_names() -> list[str]:
    return sorted(path.stem for path in stdlib_dir().glob("*.yaml"))


def load_layout(path: str | Path) -> Layout:
    """Read and validate a layout file; raise SpecError with located issues."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()[: MAX_LAYOUT_BYTES + 1]
    except OSError as exc:
        hint = "check the path; built-in layouts: " + ", ".join(builtin_names())
        raise SpecError([Issue(file, None, "", f"cannot read: {exc.strerror}", hint)]) from None
    if len(raw) > MAX_LAYOUT_BYTES:
        message = f"is over {MAX_LAYOUT_BYTES} bytes"
        raise SpecError([Issue(file, None, "", message, "a layout is a few dozen lines")])
    try:
        return parse_layout(raw.decode("utf-8"), file)
    except UnicodeDecodeError:
        raise SpecError([Issue(file, None, "", "is not UTF-8", "save it as UTF-8")]) from None


def parse_layout(text: str, file: str = "<string>") -> Layout:
    try:
        source = load_yaml(text, file)
    except YamlError as exc:
        raise SpecError([exc.issue]) from None
    try:
        return Layout.model_validate(source.data)
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        # A misspelt field is also a missing one: report only the misspelling.
        suggested = {_suggested(err) for err in errors if err["type"] == "extra_forbidden"}
        kept = [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"]) in suggested)]
        raise SpecError([_issue(source, err) for err in kept]) from None


def _suggested(err: Any) -> Loc:
    loc: Loc = tuple(err["loc"])
    close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc), n=1)
    return (*loc[:-1], close[0]) if close else loc


def _issue(source: Source, err: Any) -> Issue:
    loc: Loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
        return source.issue(loc, format_loc(loc), f"unknown field {loc[-1]!r}", hint, key=True)
    if err["type"] == "missing":
        return source.issue(loc, format_loc(loc), "missing required field", f"add `{loc[-1]}:`")
    message = str(err["msg"]).removeprefix("Value error, ")
    return source.issue(loc, format_loc(loc) or "layout", message, _hint(loc))


def _hint(loc: Loc) -> str:
    if not loc:
        return "give each part its own name (a container such as `features` may hold several)"
    allowed = _ALLOWED.get(loc, "")
    words = ", ".join(f"{{{key}}} ({_PLACEHOLDERS[key]})" for key in allowed)
    return (
        "write an attribute name (a dotted path where the field takes one)"
        + (f" using {words}" if words else "")
        + "; see archspec/stdlib/layouts/ for examples"
    )


_ALLOWED: dict[Loc, str] = {
    ("stages", "path"): "ni",
    ("stages", "transition"): "ni",
    ("stages", "layer"): "m",
}


def _fields_at(loc: Loc) -> list[str]:
    model: Any = Layout
    for part in loc[:-1]:
        info = model.model_fields.get(part) if isinstance(part, str) else None
        model = _model_in(info.annotation) if info else None
        if model is None:
            return []
    return list(model.model_fields)


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
