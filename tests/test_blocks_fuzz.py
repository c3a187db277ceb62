"""Fuzzing the block language: arbitrary text in member names, param names, let expressions,
member constructors and forward steps is either accepted or refused with located issues; never
a traceback, and nothing it contains runs. Seeded and bounded, as test_properties.py is."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec.api import compile_text
from archspec.errors import SpecError
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PROBE = yaml.safe_load((ROOT / "tests" / "fixtures" / "blocks" / "gated_se.yaml").read_text())
# A stage kind with slots, list members and args (every block of every stage is one).
STAGE = yaml.safe_load(
    (ROOT / "tests" / "fixtures" / "novel_block" / "gated_bottleneck.yaml").read_text()
)
BOUNDED = settings(
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
# Python-looking fragments, so the text reaches the parsers rather than failing on the first byte.
FRAGMENTS = st.sampled_from(
    [
        "x",
        "s",
        "out",
        "channels",
        "reduced",
        "fc1",
        "mean",
        "cat",
        "relu",
        "conv2d",
        "(",
        ")",
        ",",
        " + ",
        " * ",
        " = ",
        "return ",
        "__import__",
        "'os'",
        ".system",
        "lambda",
        ":",
        "[",
        "]",
        "1",
        "0",
        "-1",
        "true",
        "eval",
        "exec",
        "open",
        "__class__",
        "self",
        "\n",
        ";",
        "**",
        "if ",
        " else ",
        "=",
        "_",
        "é",
        "\x00",
        "[0]",
        "[1]",
        "softmax",
        "mix",
        "flatten",
        "convs",
        "feas",
    ]
)
TEXT = st.lists(FRAGMENTS, min_size=1, max_size=12).map("".join)
NAMES = st.one_of(TEXT, st.text(max_size=20))


def _outcome(data: dict[str, Any]) -> None:
    try:
        compiled = compile_text(yaml.safe_dump(data, sort_keys=False), "fuzz.yaml")
    except SpecError as exc:
        assert exc.issues
        assert all(issue.file == "fuzz.yaml" for issue in exc.issues)
        return
    # What is accepted emits lines that fit (the file stays a `ruff format` fixed point).
    assert max(len(line) for line in compiled.source().splitlines()) <= 100


def _block(data: dict[str, Any]) -> dict[str, Any]:
    return dict(data["blocks"]["gate_se"])


@BOUNDED
@given(text=TEXT, where=st.sampled_from(["fc1", "act", "gate"]))
def test_member_constructor_text(text: str, where: str) -> None:
    data = copy.deepcopy(PROBE)
    data["blocks"]["gate_se"]["members"][where] = text
    _outcome(data)


@BOUNDED
@given(text=TEXT, index=st.integers(0, 4))
def test_forward_step_text(text: str, index: int) -> None:
    data = copy.deepcopy(PROBE)
    data["blocks"]["gate_se"]["forward"][index] = text
    _outcome(data)


@BOUNDED
@given(text=TEXT)
def test_let_expression_text(text: str) -> None:
    data = copy.deepcopy(PROBE)
    data["blocks"]["gate_se"]["let"]["reduced"] = text
    _outcome(data)


@BOUNDED
@given(name=NAMES, kind=st.sampled_from(["members", "params", "let"]))
def test_names(name: str, kind: str) -> None:
    data = copy.deepcopy(PROBE)
    section = data["blocks"]["gate_se"][kind]
    value = {"members": "relu()", "params": {"default": 1}, "let": "1"}[kind]
    section[name] = value
    _outcome(data)


MEMBER_VALUES = st.recursive(
    st.one_of(TEXT, st.integers(), st.none(), st.builds(lambda r: {"slot": r}, TEXT)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.builds(lambda op, when: {"op": op, "when": when}, inner, TEXT),
    ),
    max_leaves=8,
)


@BOUNDED
@given(value=MEMBER_VALUES, where=st.sampled_from(["conv1", "downsample", "act", "se_gate"]))
def test_stage_kind_member_values(value: Any, where: str) -> None:
    """Any member value (text, lists, nested lists, optional, slot, junk) in a stage kind."""
    data = copy.deepcopy(STAGE)
    data["blocks"]["gated_bottleneck"]["members"][where] = value
    _outcome(data)


@BOUNDED
@given(text=TEXT, index=st.integers(0, 9))
def test_stage_kind_forward_text(text: str, index: int) -> None:
    data = copy.deepcopy(STAGE)
    data["blocks"]["gated_bottleneck"]["forward"][index] = text
    _outcome(data)


ARGS = st.dictionaries(
    st.one_of(NAMES, st.sampled_from(["reduction", "stride", "width", "in_channels"])),
    st.one_of(st.integers(-3, 300), st.booleans(), TEXT, st.none()),
    max_size=3,
)


@BOUNDED
@given(args=st.one_of(ARGS, st.lists(ARGS, min_size=1, max_size=4), TEXT))
def test_stage_kind_args(args: Any) -> None:
    data = copy.deepcopy(STAGE)
    data["stages"]["args"] = args
    _outcome(data)


LAYOUT_FIELDS = st.sampled_from(
    [("stem", "block"), ("stages", "path"), ("head", "fc"), ("head", "pool"), ("name",)]
)


@BOUNDED
@given(where=LAYOUT_FIELDS, text=st.one_of(TEXT, NAMES))
def test_inline_layout_names(where: tuple[str, ...], text: str) -> None:
    """Layout names reach generated code as attribute paths: checked, never executed."""
    data = copy.deepcopy(STAGE)
    layout: dict[str, Any] = {
        "layout": 1,
        "name": "fuzzed",
        "stem": {},
        "stages": {"path": "layer{n}", "act_after_block": True},
        "head": {"pool": "pool", "fc": "classifier.0"},
    }
    target = layout
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = text
    data["layout"] = layout
    _outcome(data)


# The list features: `each` members, if/else steps, group functions, chunk, `ints` args and
# the dense form, fuzzed in a block that uses all of them.
MULTIPATH = yaml.safe_load((ROOT / "tests" / "fixtures" / "blocks" / "multipath.yaml").read_text())
LIST_FRAGMENTS = st.sampled_from(
    [
        "each(",
        "each_split(",
        "group_sum(",
        "group_softmax(",
        "group_mix(",
        "chunk(",
        "branches",
        "cascade",
        "paths_count",
        "y",
        "w",
        ", ",
        ")",
        "2",
        "0",
        "-1",
        "x",
        "__class__",
        "[0]",
        " + ",
        "return ",
        "y = ",
    ]
)
LIST_TEXT = st.lists(st.one_of(LIST_FRAGMENTS, FRAGMENTS), min_size=1, max_size=10).map("".join)


@BOUNDED
@given(text=LIST_TEXT, index=st.integers(3, 10))
def test_list_function_steps(text: str, index: int) -> None:
    data = copy.deepcopy(MULTIPATH)
    data["blocks"]["multipath"]["forward"][index] = text
    _outcome(data)


@BOUNDED
@given(do=LIST_TEXT, otherwise=st.one_of(LIST_TEXT, st.none()), when=NAMES)
def test_if_else_steps(do: str, otherwise: str | None, when: str) -> None:
    data = copy.deepcopy(MULTIPATH)
    step: dict[str, Any] = {"do": do, "when": when}
    if otherwise is not None:
        step["else"] = otherwise
    data["blocks"]["multipath"]["forward"][2] = step
    _outcome(data)


@BOUNDED
@given(
    each=st.one_of(LIST_TEXT, TEXT),
    lists=st.lists(st.one_of(st.integers(-2, 9), TEXT), max_size=5),
)
def test_each_members_and_list_args(each: str, lists: list[Any]) -> None:
    data = copy.deepcopy(MULTIPATH)
    data["blocks"]["multipath"]["members"]["branches"] = {"each": each}
    data["stages"]["args"][0]["kernels"] = lists
    _outcome(data)


@BOUNDED
@given(each=st.one_of(LIST_TEXT, TEXT), name=st.one_of(NAMES, st.just("unit{n}")))
def test_dense_forms(each: str, name: str) -> None:
    data = copy.deepcopy(MULTIPATH)
    data["blocks"]["grow"] = {
        "class_name": "Grow",
        "params": {"in_channels": {}, "out_channels": {}, "stride": {"default": 1}},
        "let": {"inputs": "series(in_channels, 8, 2)"},
        "dense": {"each": each, "name": name},
    }
    data["stages"] = {"block": "grow", "depth": [1], "width": [40]}
    _outcome(data)
