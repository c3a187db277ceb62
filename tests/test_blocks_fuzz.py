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
