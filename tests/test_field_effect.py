"""Every accepted field changes the network or the numbers; a field that can't is refused.

The walk is driven by the JSON Schema, so a field added later is covered without editing this
test. For every field of every object (spec, stem, head, stage row, each attention kind), in
every base network where the object occurs, each legal value other than the one the base has
(written or implied) must either change the generated source or the stats, or be refused with a
located error. A field that validates and changes nothing fails here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from archspec.api import compile_text
from archspec.blocks.library import stdlib_dir
from archspec.errors import Issue, SpecError
from archspec.schema import json_schema

pytestmark = pytest.mark.slow

WIDTHS = [8, 16, 32, 64]
DEPTHS = [1, 2, 1, 1]
STAGE = 1  # the stage whose fields are varied: strided, projected, and with two blocks


def _residual(block: str, attention: dict[str, Any] | None = None) -> dict[str, Any]:
    rows = [
        {"block": block, "depth": d, "width": w} | ({"attention": attention} if attention else {})
        for d, w in zip(DEPTHS, WIDTHS, strict=True)
    ]
    return {"stem": {"type": "conv7x7", "width": 16}, "stages": rows}


BASES: dict[str, dict[str, Any]] = {
    "basic": _residual("basic"),
    "bottleneck": _residual("bottleneck"),
    "preact_basic": _residual("preact_basic"),
    "preact_bottleneck": _residual("preact_bottleneck"),
    "dense": {
        "stem": {"type": "conv7x7", "width": 16},
        "stages": [
            {"block": "dense", "depth": 2, "growth_rate": 4, "bn_size": 2} for _ in range(3)
        ],
    },
    "basic_se": _residual("basic", {"type": "se"}),
    "bottleneck_se": _residual("bottleneck", {"type": "se"}),
    "preact_bottleneck_se": _residual("preact_bottleneck", {"type": "se"}),
    "basic_sk": _residual("basic", {"type": "sk"}),
    "bottleneck_sk": _residual("bottleneck", {"type": "sk"}),
    "bottleneck_split": _residual("bottleneck", {"type": "split"}),
    "bottleneck_deep": _residual("bottleneck") | {"stem": {"type": "deep", "width": 16}},
    "basic_cifar": _residual("basic") | {"stem": {"type": "conv3x3", "width": 16}},
    # The standard library's basic block as a user kind: the stage fills its slots.
    "defined": _residual("my_basic")
    | {"blocks": {"my_basic": yaml.safe_load((stdlib_dir() / "basic.yaml").read_text())}},
}


def base_spec(name: str) -> dict[str, Any]:
    spec = {"archspec": 1, "name": "probe", "input": [3, 64, 64]} | copy.deepcopy(BASES[name])
    spec["head"] = {"num_classes": 10}
    return spec


def implied(obj: str, field: str, spec: dict[str, Any]) -> Any:
    """The value a field has when left out, where the schema's default is `null`."""
    row = spec["stages"][STAGE]
    block = row["block"]
    stem = spec.get("stem", {})
    values: dict[tuple[str, str], Any] = {
        ("stage", "stride"): 2,
        ("stage", "expansion"): 4 if block.endswith("bottleneck") else 1,
        ("spec", "layout"): {"preact": "timm_resnetv2", "dense": "torchvision_densenet"}.get(
            block.split("_")[0], "torchvision_resnet"
        ),
        ("stage", "growth_rate"): 32,
        ("stage", "bn_size"): 4,
        ("stage", "compression"): 0.5,
        ("stem", "mid_width"): stem.get("width", 64) // 2,
        ("stem", "pool"): stem.get("type", "conv7x7") != "conv3x3",
        ("sk", "split_input"): block == "basic",
        ("sk", "min_channels"): (row.get("attention") or {}).get("divisor", 8),
        ("spec", "final_norm"): block.startswith("preact"),
        ("spec", "output_stride"): 32,
        ("spec", "class_name"): "Probe",
        ("head", "num_classes"): 1000,
    }
    return values.get((obj, field))


# ---------------------------------------------------------------- candidate values from schema


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return resolve(schema, schema["$defs"][node["$ref"].split("/")[-1]])
    return node


def candidates(  # noqa: PLR0911 - one return per schema node kind
    schema: dict[str, Any], node: dict[str, Any], field: str
) -> list[Any]:
    """Legal values of a field: every enum member, both booleans, a spread of integers."""
    node = resolve(schema, node)
    if "anyOf" in node or "oneOf" in node:
        options = node.get("anyOf", node.get("oneOf", []))
        return [v for option in options for v in candidates(schema, option, field)]
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    kind = node.get("type")
    if kind == "object" and field in OBJECT_FORMS:
        return OBJECT_FORMS[field]
    special = SPECIAL.get(field)
    if special is not None and kind != "null":
        return special
    if kind == "boolean":
        return [True, False]
    if kind == "integer":
        low, high = node.get("minimum", 1), node.get("maximum", 64)
        return [v for v in (1, 2, 3, 4, 12, 16, 48) if low <= v <= high]
    if kind == "number":
        return [0.25, 0.75, 1.0]
    if kind == "null":
        return []
    raise AssertionError(f"no candidate values for {field}: {node}")


# Object forms of fields whose other forms the schema spells out (`norm: group` or
# `norm: {type: group, groups: 8}`; stem.norm is a bool of the same name).
OBJECT_FORMS: dict[str, list[Any]] = {
    "norm": [{"type": "group", "groups": 8}, {"type": "layer"}, {"type": "batch", "groups": 2}],
}

# Fields whose legal values the schema cannot spell out (patterns, shapes, nested kinds).
SPECIAL: dict[str, list[Any]] = {
    "name": ["other_name"],
    "class_name": ["OtherName"],
    "title": ["Another title"],
    "reference": ["Another reference"],
    "input": [[3, 96, 80], [1, 64, 64]],
    "kernels": [[3, 5], [5, 7], [3, 3, 5]],
    "outputs": [["stage1"], ["stem", "stage2"]],
    "attention": [{"type": "se"}, {"type": "sk"}, {"type": "split"}, {"type": "eca"}],
    # A definition no stage uses changes nothing: it must be refused.
    "blocks": [
        {
            "unused": {
                "class_name": "Unused",
                "members": {"act": "relu()"},
                "forward": ["return act(x)"],
            }
        }
    ],
    "stem": [],
    "stages": [],
    "head": ["none"],
    "layout": ["torchvision_resnet", "timm_resnetv2", "torchvision_densenet"],
    # A design beside a stage table is refused (give one or the other).
    "regnet": [{"depth": 4, "w0": 8, "wa": 8, "wm": 2, "group_width": 8}],
    "tail": [{"type": "conv_bn_relu", "width": 24}, {"type": "no_such_kind", "width": 24}],
    "mid_width": [8, 24, [24, 32]],
    "args": [{"k": 1}, {"bias": True}],
    "entry": ["convnext_downsample", "no_such_kind"],
    "block": ["basic", "bottleneck", "preact_basic", "dense", "my_basic", "no_such_kind"],
    "type": ["conv7x7", "conv3x3", "deep", "no_such_stem"],
}


# ---------------------------------------------------------------- where each object lives


@dataclass(frozen=True)
class Site:
    """One field of one object inside a base spec."""

    obj: str  # spec | stem | head | stage | se | sk | split
    field: str
    base: str

    def container(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        if self.obj == "spec":
            return spec
        if self.obj in ("stem", "head"):
            return spec.setdefault(self.obj, {})
        if self.obj == "head":
            return spec["head"] if isinstance(spec.get("head"), dict) else None
        row = spec["stages"][STAGE]
        if self.obj == "stage":
            return row
        attention = row.get("attention")
        return attention if attention and attention["type"] == self.obj else None


OBJECTS = {
    "spec": None,
    "stem": "Stem",
    "head": "Head",
    "stage": "StageRow",
    "se": "SqueezeExcite",
    "sk": "SelectiveKernel",
    "split": "SplitAttention",
}
# `archspec` is the version tag, `stages`/`stem` are the objects walked themselves, and the
# head's `type` has one legal value (`head: none` is varied instead).
SKIP = {("spec", "archspec"), ("spec", "stages"), ("spec", "stem"), ("head", "type")}


def properties(schema: dict[str, Any], obj: str) -> dict[str, Any]:
    definition = OBJECTS[obj]
    node = schema if definition is None else schema["$defs"][definition]
    return dict(node["properties"])


def sites(schema: dict[str, Any]) -> Iterator[tuple[Site, dict[str, Any]]]:
    for base in BASES:
        spec = base_spec(base)
        for obj in OBJECTS:
            if Site(obj, "", base).container(copy.deepcopy(spec)) is None:
                continue
            for field, node in properties(schema, obj).items():
                if varied(obj, field):
                    yield Site(obj, field, base), node


def varied(obj: str, field: str) -> bool:
    """Attention `type` is the tag that picks the object (the bases cover each kind)."""
    return (obj, field) not in SKIP and (field != "type" or obj in ("stem", "head"))


def variants(schema: dict[str, Any]) -> Iterator[tuple[Site, Any]]:
    for site, node in sites(schema):
        spec = base_spec(site.base)
        container = site.container(spec)
        assert container is not None
        current = container.get(site.field, implied(site.obj, site.field, spec))
        default = resolve(schema, node).get("default")
        current = default if current is None else current
        seen = []
        for value in candidates(schema, node, site.field):
            if value != current and value not in seen:
                seen.append(value)
                yield site, value


def build(spec: dict[str, Any]) -> tuple[str, str] | list[Issue]:
    """(source, stats) of a spec, or its issues if it is refused."""
    try:
        compiled = compile_text(yaml.safe_dump(spec, sort_keys=False), "probe.yaml")
        stats = json.dumps(compiled.stats.to_dict(per_layer=True), sort_keys=True)
        return compiled.source(), stats
    except SpecError as exc:
        return list(exc.issues)


def test_every_field_changes_the_network_or_is_refused() -> None:
    """Per field and base: some other legal value changes the output, or every one is refused.
    (Rounding parameters such as an SE divisor may coincide for one value; a field that is
    ignored coincides for all of them.)"""
    schema = json_schema()
    baselines = {name: build(base_spec(name)) for name in BASES}
    for name, result in baselines.items():
        assert isinstance(result, tuple), f"base {name} is refused: {result}"
    outcomes: dict[Site, list[tuple[Any, str]]] = {}
    unlocated = []
    for site, value in variants(schema):
        spec = base_spec(site.base)
        container = site.container(spec)
        assert container is not None
        container[site.field] = value
        result = build(spec)
        if isinstance(result, list):
            outcome = "refused"
            if not result or any(issue.position is None for issue in result):
                unlocated.append((site, value, [issue.render() for issue in result]))
        else:
            outcome = "silent" if result == baselines[site.base] else "changed"
        outcomes.setdefault(site, []).append((value, outcome))
    silent = [
        f"{site.base}: {site.obj}.{site.field} = {[v for v, o in seen if o == 'silent']}"
        for site, seen in outcomes.items()
        if all(o != "changed" for _, o in seen) and any(o == "silent" for _, o in seen)
    ]
    assert not silent, "accepted and ignored:\n" + "\n".join(silent)
    assert not unlocated, f"refused without a location: {unlocated}"
    covered = {(site.obj, site.field) for site in outcomes}
    expected = {
        (obj, field) for obj in OBJECTS for field in properties(schema, obj) if varied(obj, field)
    }
    assert expected - covered == set(), "schema fields the walk never varied"
