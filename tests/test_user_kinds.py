"""User block kinds as stage and stem kinds, list members, slots and layouts (no torch):
the standard library's own definitions, copied into a spec under another name, build the same
network as the built-in kinds; every misuse is a located error with a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from archspec.api import compile_file, compile_text
from archspec.blocks.library import stdlib_dir
from archspec.errors import SpecError
from tests.conftest import ROOT

SKNET = ROOT / "tests" / "fixtures" / "sknet_cifar" / "sknet_cifar.yaml"


def _stdlib(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((stdlib_dir() / f"{name}.yaml").read_text()))


def _spec(block: str, extra: str = "") -> str:
    return f"""
archspec: 1
name: probe
input: [3, 64, 64]
stem: {{type: conv7x7, width: 64}}
stages:
  block: {block}
  depth: [2, 2, 2]
  width: [64, 128, 256]
{extra}
head: {{num_classes: 10}}
"""


def _refusal(text: str, file: str = "probe.yaml") -> str:
    with pytest.raises(SpecError) as info:
        compile_text(text, file)
    return "\n".join(issue.render() for issue in info.value.issues)


def _with_blocks(text: str, blocks: dict[str, Any]) -> str:
    data = yaml.safe_load(text)
    data["blocks"] = blocks
    return yaml.safe_dump(data, sort_keys=False)


def _shapes(text: str) -> tuple[dict[str, tuple[int, ...]], int, int]:
    compiled = compile_text(text)
    shapes = {k: tuple(v.shape) for k, v in compiled.arch.state_dict().items()}
    return shapes, compiled.stats.totals.params, compiled.stats.totals.macs


@pytest.mark.parametrize(
    "extra",
    ["", "  attention: {type: se, reduction: 8}", "  downsample: avg", "  attention: {type: eca}"],
)
def test_stdlib_basic_copied_as_a_user_kind_builds_the_builtin_network(extra: str) -> None:
    """The built-in kind is the definition: the same text under another name, used as a stage
    kind (the stage filling its slots), gives the same keys, shapes, params and MACs."""
    builtin = _shapes(_spec("basic", extra))
    mine = _shapes(_with_blocks(_spec("my_basic", extra), {"my_basic": _stdlib("basic")}))
    assert mine == builtin


def test_stdlib_bottleneck_as_a_user_kind_takes_its_width_from_args() -> None:
    text = _spec("bottleneck").replace("width: [64, 128, 256]", "width: [64, 128, 256]")
    builtin = _shapes(text)
    user = _with_blocks(
        _spec("my_bottleneck").replace("width: [64, 128, 256]", "width: [256, 512, 1024]"),
        {"my_bottleneck": _stdlib("bottleneck")},
    )
    data = yaml.safe_load(user)
    data["stages"]["args"] = [{"width": 64}, {"width": 128}, {"width": 256}]
    assert _shapes(yaml.safe_dump(data, sort_keys=False)) == builtin


def test_sknet_layout_and_kinds_name_the_seed_code_modules() -> None:
    compiled = compile_file(SKNET)
    keys = list(compiled.arch.state_dict())
    assert keys[0] == "basic_conv.0.weight"
    assert "stage_1.0.feas.2.convs.1.0.weight" in keys
    assert "stage_1.2.feas.2.fcs.1.bias" in keys
    assert "stage_3.0.shortcut.0.weight" in keys and "stage_3.2.shortcut.0.weight" not in keys
    assert keys[-2:] == ["classifier.0.weight", "classifier.0.bias"]
    assert compiled.stats.totals.params == 10_453_322
    assert compiled.stats.totals.macs == 352_503_808


def test_inline_layout_is_used() -> None:
    data = yaml.safe_load(_spec("basic"))
    layouts = stdlib_dir().parent / "layouts"
    layout = yaml.safe_load((layouts / "torchvision_resnet.yaml").read_text())
    layout["stages"]["path"] = "stage{n}"
    layout["head"]["fc"] = "classifier"
    data["layout"] = layout
    keys = compile_text(yaml.safe_dump(data, sort_keys=False)).arch.state_dict()
    assert "stage3.1.conv2.weight" in keys and "classifier.weight" in keys


def test_built_in_layout_by_name() -> None:
    data = yaml.safe_load(_spec("preact_basic"))
    data["layout"] = "torchvision_resnet"
    keys = compile_text(yaml.safe_dump(data, sort_keys=False)).arch.state_dict()
    assert "layer1.0.norm1.weight" in keys


GATE = {
    "class_name": "Gate",
    "params": {"in_channels": {}, "out_channels": {}, "stride": {"default": 1}},
    "members": {
        "conv": "conv2d(in_channels, out_channels, 3, stride, 1)",
        "norm": "batchnorm(out_channels)",
    },
    "forward": ["return norm(conv(x))"],
}


def _gate(**changes: Any) -> dict[str, Any]:
    block = {**GATE, **changes}
    return {"gate": block}


@pytest.mark.parametrize(
    ("extra", "blocks", "words"),
    [
        ("", {"gate": {**GATE, "params": {"in_channels": {}, "out_channels": {}}}}, "lacks stride"),
        ("  args: {depth_mult: 2}", _gate(), "unknown field 'depth_mult'"),
        ("  args: {stride: 2}", _gate(), "stride is filled in by the stage"),
        ("  attention: {type: se}", _gate(), "'gate' has no attention slot"),
        ("  downsample: avg", _gate(), "'gate' has no downsample slot"),
        ("  attention: {type: sk}", _gate(), "sk attention replaces a built-in block's 3x3"),
        ("  groups: 4", _gate(), "its own params decide"),
        ("  dilation: 2", _gate(), "its own params decide"),
        (
            "",
            _gate(params={**GATE["params"], "k": {}}),  # type: ignore[dict-item]
            "'gate' needs k",
        ),
        (
            "  args: {k: true}",
            _gate(params={**GATE["params"], "k": {}}),  # type: ignore[dict-item]
            "must be a whole number",
        ),
    ],
)
def test_stage_kind_misuse_is_refused(extra: str, blocks: dict[str, Any], words: str) -> None:
    message = _refusal(_with_blocks(_spec("gate", extra), blocks))
    assert words in message
    assert message.startswith("probe.yaml:")


def test_unknown_stage_kind_suggests_one() -> None:
    message = _refusal(_with_blocks(_spec("gatte"), _gate()))
    assert "unknown block kind 'gatte'" in message
    assert "did you mean 'gate'?" in message


def test_built_in_and_user_stages_do_not_mix() -> None:
    text = _with_blocks(_spec("gate"), _gate())
    data = yaml.safe_load(text)
    data["stages"]["block"] = ["gate", "basic", "gate"]
    message = _refusal(yaml.safe_dump(data, sort_keys=False))
    assert "cannot follow stages of a kind written as data" in message


def test_user_definitions_may_not_take_built_in_names() -> None:
    blocks = {"bottleneck": GATE, "gate": GATE}
    message = _refusal(_with_blocks(_spec("gate"), blocks))
    assert "'bottleneck' is the name of a built-in kind" in message


def test_stem_kind_misuse_is_refused() -> None:
    stem_block = {
        "class_name": "Stem",
        "params": {"in_channels": {}, "out_channels": {}},
        "sequence": ["conv2d(in_channels, out_channels, 3, 2, 1)", "batchnorm(out_channels)"],
    }
    base = _with_blocks(_spec("basic"), {"my_stem": stem_block})
    data = yaml.safe_load(base)
    data["stem"] = {"type": "my_stem", "width": 64, "pool": False}
    assert "its own params decide" in _refusal(yaml.safe_dump(data, sort_keys=False))
    data["stem"] = {"type": "my_stme", "width": 64}
    assert "did you mean 'my_stem'?" in _refusal(yaml.safe_dump(data, sort_keys=False))
    data["stem"] = {"type": "conv7x7", "args": {"k": 1}}
    message = _refusal(yaml.safe_dump(data, sort_keys=False))
    assert "`args` sets the params of a stem kind" in message
    data["stem"] = {"type": "my_stem", "width": 32}
    data["output_stride"] = 16
    assert "written as data" in _refusal(yaml.safe_dump(data, sort_keys=False))
    del data["output_stride"]
    keys = compile_text(yaml.safe_dump(data, sort_keys=False)).arch.state_dict()
    assert "stem.0.weight" in keys and "layer1.0.conv1.weight" in keys


def test_layout_references_are_checked(tmp_path: Path) -> None:
    data = yaml.safe_load(_spec("basic"))
    data["layout"] = "torchvision_resnett"
    assert "did you mean 'torchvision_resnet'?" in _refusal(yaml.safe_dump(data))
    data["layout"] = "../outside.yaml"
    spec = tmp_path / "inner" / "spec.yaml"
    spec.parent.mkdir()
    (tmp_path / "outside.yaml").write_text("layout: 1\n")
    spec.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as info:
        compile_file(spec)
    assert "outside the spec's directory tree" in info.value.issues[0].render()


@pytest.mark.parametrize(
    ("members", "forward", "words"),
    [
        ({"convs": ["identity()", "identity()"]}, ["return convs[0](x)"], "item 1 is never called"),
        ({"convs": ["identity()"]}, ["return convs[3](x)"], "has items 0 to 0"),
        ({"conv": "identity()"}, ["return conv[0](x)"], "is not a list"),
        (
            {"convs": ["identity()", "identity()"]},
            ["y = convs[0](x)", "y = convs[1](y)", "return convs(y)"],
            "called both whole and by index",
        ),
        ({"convs": [["identity()", ["identity()"]]]}, ["return convs(x)"], "two deep"),
        ({"x1": "conv2d(c, c, 1"}, ["return x1(x)"], "unbalanced parentheses"),
        ({"m": "mean()"}, ["return m(x)"], "unknown op or block 'mean'"),
    ],
)
def test_list_members_are_checked(members: dict[str, Any], forward: list[str], words: str) -> None:
    block = {"class_name": "Probe", "params": {"channels": {}}, "members": members}
    block["forward"] = forward
    text = _with_blocks(_spec("basic", "  attention: {type: probe}"), {"probe": block})
    assert words in _refusal(text)
