"""The block language's list features: `ints` params, `each` members (one item per element,
zipped), if/else steps, the channel-group functions (group_sum, group_softmax, group_mix),
chunk, each / each_split, the dense form and series(). The standard library's SK, split
attention and dense kinds are written with them (their fidelity is in test_fidelity.py); here a
block nobody has published (tests/fixtures/blocks/multipath.yaml) runs and counts exactly, the
generated forward computes what the definition says, and every misuse is a located error."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from archspec.api import compile_file, compile_text
from archspec.errors import SpecError
from archspec.expr import Expression
from tests.conftest import ROOT

MULTIPATH = ROOT / "tests" / "fixtures" / "blocks" / "multipath.yaml"


def _data() -> dict[str, Any]:
    return dict(yaml.safe_load(MULTIPATH.read_text()))


def _refusal(data: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as info:
        compile_text(yaml.safe_dump(data, sort_keys=False), "probe.yaml")
    return "\n".join(issue.render() for issue in info.value.issues)


def test_each_member_has_one_item_per_element() -> None:
    state = compile_file(MULTIPATH).arch.state_dict()
    # Stage 1 (args: three 3x3 paths, dilations 1, 2, 3, each on a third of the input).
    assert state["layer1.0.branches.2.conv.weight"].shape == (48, 8, 3, 3)
    assert "layer1.0.branches.3.conv.weight" not in state
    # Stage 2 (defaults: kernels 1, 3, 5 on the whole input).
    assert state["layer2.0.branches.0.conv.weight"].shape == (96, 48, 1, 1)
    assert state["layer2.0.branches.2.conv.weight"].shape == (96, 48, 5, 5)
    assert state["layer2.0.select.weight"].shape == (3 * 96, 24, 1, 1)


def test_generated_forward_reads_like_the_definition() -> None:
    source = compile_file(MULTIPATH).source()
    assert "def apply_to_chunks(modules: nn.ModuleList, x: Tensor) -> Tensor:" in source
    assert "y = apply_to_chunks(self.branches, x)" in source
    assert "y = torch.cat([branch(x) for branch in self.branches], 1)" in source
    # Every block has three paths: the count is folded to a literal.
    assert "w = y.unflatten(1, (3, -1)).sum(1)" in source
    assert "y = (y * w).unflatten(1, (3, -1)).sum(1)" in source
    assert "a = self.cascade[0](y.chunk(2, 1)[0])" in source
    assert "        if self.split:\n            y = apply" in source
    assert "        else:\n            y = torch.cat" in source


def test_a_model_without_each_split_has_no_helper() -> None:
    data = _data()
    data["stages"]["args"] = [{}, {}]
    source = compile_text(yaml.safe_dump(data, sort_keys=False)).source()
    assert "apply_to_chunks" not in source
    # `split` is false in every block: the if/else is folded to its else branch.
    assert "if self.split" not in source


def test_series_is_an_arithmetic_list() -> None:
    assert Expression.parse("series(64, 32, 4)").evaluate({}) == [64, 96, 128, 160]
    assert Expression.parse("series(3, 0, 0)").evaluate({}) == []


def _member(data: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["blocks"]["multipath"]["members"][name] = value
    return data


def _step(data: dict[str, Any], index: int, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["blocks"]["multipath"]["forward"][index] = value
    return data


BAD: dict[str, tuple[Any, str]] = {
    "each without a list": (
        lambda d: _member(d, "branches", {"each": "path(in_channels, out_channels, 3)"}),
        "an `each` member reads an `ints` param or a let list",
    ),
    "op given a list": (
        lambda d: _member(d, "norm", "batchnorm(kernels)"),
        "reads 'kernels', a list; only an `each` member takes one per item",
    ),
    "each of a non-list": (
        lambda d: _step(
            d, 2, {"do": "y = each_split(norm, x)", "when": "split", "else": "y = each(norm, x)"}
        ),
        "maps 'norm', which is no list member",
    ),
    "each member called": (
        lambda d: _step(d, 2, "y = branches(x)"),
        "is an `each` list: use it as each(branches, v)",
    ),
    "unknown count": (
        lambda d: _step(d, 3, "w = group_sum(y, path_count)"),
        "group_sum counts by 'path_count', unknown; did you mean 'paths_count'",
    ),
    "count of a value": (
        lambda d: _step(d, 3, "w = group_sum(y, y)"),
        "group_sum counts by 'y', unknown",
    ),
    "if/else sets two values": (
        lambda d: _step(
            d, 2, {"do": "y = each_split(branches, x)", "when": "split", "else": "z = x"}
        ),
        "`do` and `else` set the same value",
    ),
    "each of an expression": (
        lambda d: _step(
            d,
            2,
            {"do": "y = each(branches, x + x)", "when": "split", "else": "y = each(branches, x)"},
        ),
        "each's value is a name: compute it in a step before",
    ),
    "group_sum arity": (
        lambda d: _step(d, 3, "w = group_sum(y)"),
        "write group_sum(value, count)",
    ),
    "conditional without else on a new value": (
        lambda d: _step(d, 2, {"do": "y = each_split(branches, x)", "when": "split"}),
        "or gives `else:` for where it is false",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_list_feature_misuse_is_located(case: str) -> None:
    change, words = BAD[case]
    message = _refusal(change(_data()))
    assert words in message, message
    assert message.startswith("probe.yaml:"), message


def test_each_reading_no_list_at_lowering_is_refused() -> None:
    data = _member(_data(), "branches", {"each": "path(path_in, out_channels, 3)"})
    assert "member 'branches' reads no list here" in _refusal(data)


def test_lists_of_different_lengths_are_refused() -> None:
    data = _data()
    data["stages"]["args"][0]["dilations"] = [1, 2]
    message = _refusal(data)
    assert "its lists differ in length (kernels has 3, dilations has 2)" in message


def test_chunk_index_out_of_range_is_refused() -> None:
    message = _refusal(_step(_data(), 7, "a = cascade[0](chunk(y, 2, 2))"))
    assert "chunk 2 of 2 (chunks count from 0)" in message


def test_each_split_needs_divisible_channels() -> None:
    data = _data()
    data["stem"]["width"] = 25
    assert "25 channels do not split into 3 equal chunks" in _refusal(data)


def test_dense_form_names_its_items(tmp_path: Path) -> None:
    spec = {
        "archspec": 1,
        "name": "dense_probe",
        "input": [3, 32, 32],
        "blocks": {
            "unit": {
                "class_name": "Unit",
                "params": {"in_channels": {}, "growth": {}},
                "members": {
                    "bn": "batchnorm(in_channels)",
                    "act": "relu()",
                    "conv": "conv2d(in_channels, growth, 3, 1, 1)",
                },
                "forward": ["y = bn(x)", "y = act(y)", "return conv(y)"],
            },
            "grow": {
                "class_name": "Grow",
                "params": {"in_channels": {}, "out_channels": {}, "stride": {"default": 1}},
                "let": {"inputs": "series(in_channels, 8, (out_channels - in_channels) // 8)"},
                "dense": {"each": "unit(inputs, 8)", "name": "unit{n}"},
            },
        },
        "stem": {"type": "conv3x3", "width": 16},
        "stages": {"block": "grow", "depth": [1], "width": [40], "stride": [1]},
        "head": {"num_classes": 10},
    }
    compiled = compile_text(yaml.safe_dump(spec, sort_keys=False))
    state = compiled.arch.state_dict()
    assert state["layer1.0.unit3.conv.weight"].shape == (8, 32, 3, 3)
    assert "layer1.0.unit4.conv.weight" not in state
    assert "class Grow(nn.ModuleDict):" in compiled.source()
    spec["blocks"]["grow"]["dense"]["name"] = "unit{m}"
    message = _refusal(spec)
    assert "blocks.grow.dense.name" in message


@pytest.mark.slow
def test_multipath_runs_and_counts_exactly() -> None:
    """Generated module = analytic model: parameters, state_dict shapes, MACs =
    FlopCounterMode / 2; and its forward equals the definition computed by hand in torch."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    compiled = compile_file(MULTIPATH)
    model = compiled.to_module().eval()
    totals = compiled.stats.totals
    assert sum(p.numel() for p in model.parameters()) == totals.params
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {k: t.shape for k, t in compiled.arch.state_dict().items()}
    x = torch.randn(2, *compiled.arch.input_shape)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model(x[:1])
    assert out.shape == (1, 10)
    assert counter.get_total_flops() == 2 * totals.macs
    block = model.layer1[0]
    with torch.no_grad():
        assert torch.allclose(block(_features(model, x)), _by_hand(block, _features(model, x)))


def _features(model: Any, x: Any) -> Any:
    return model.relu(model.bn1(model.conv1(x)))


def _by_hand(block: Any, x: Any) -> Any:
    """The multipath definition with split input, written out in torch."""
    torch = pytest.importorskip("torch")
    parts = torch.split(x, x.shape[1] // 3, 1)
    paths = torch.stack([path(part) for path, part in zip(block.branches, parts, strict=True)], 1)
    gap = paths.sum(1).mean((2, 3), keepdim=True)
    weights = block.select(torch.relu(block.squeeze(gap)))
    weights = weights.view(x.shape[0], 3, -1, 1, 1).softmax(1)
    y = (paths * weights).sum(1)
    first, second = torch.split(y, y.shape[1] // 2, 1)
    a = block.cascade[0](first)
    b = block.cascade[1](a + second)
    y = block.norm(torch.cat([a, b], 1))
    identity = block.shortcut(x) if block.shortcut is not None else x
    return torch.relu(y + identity)


HOSTILE: dict[str, tuple[Any, str]] = {
    "dense name": (
        lambda d: _dense_name(d, 'unit{n}"); import os; ("'),
        "blocks.grow.dense.name",
    ),
    "dense name of a keyword": (lambda d: _dense_name(d, "class{n}x"), ""),
    "count dunder": (lambda d: _step(d, 3, "w = group_sum(y, __class__)"), "forward[3]"),
    "count call": (lambda d: _step(d, 3, "w = group_sum(y, __import__('os'))"), "forward[3]"),
    "each member attribute": (
        lambda d: _step(d, 2, "y = each(branches.__class__, x)"),
        "forward[2]",
    ),
    "else code": (
        lambda d: _step(
            d,
            2,
            {"do": "y = each(branches, x)", "when": "split", "else": "y = __import__('os')"},
        ),
        "forward[2]",
    ),
    "each constructor": (
        lambda d: _member(d, "branches", {"each": "path(__import__('os'), kernels)"}),
        "members.branches",
    ),
}


def _dense_name(data: dict[str, Any], name: str) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["blocks"]["grow"] = {
        "class_name": "Grow",
        "params": {"in_channels": {}, "out_channels": {}, "stride": {"default": 1}},
        "let": {"inputs": "series(in_channels, 8, 2)"},
        "dense": {"each": "path(inputs, 8, 3)", "name": name},
    }
    data["stages"] = {"block": "grow", "depth": [1], "width": [40]}
    return data


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_list_features_are_refused(case: str) -> None:
    change, where = HOSTILE[case]
    data = change(_data())
    try:
        source = compile_text(yaml.safe_dump(data, sort_keys=False), "probe.yaml").source()
    except SpecError as exc:
        message = "\n".join(issue.render() for issue in exc.issues)
        assert message.startswith("probe.yaml:") and where in message, message
        return
    # Accepted only where the text is a plain name: it is then an identifier in the code.
    assert case == "dense name of a keyword", case
    assert '{f"class{i + 1}x": layer' in source


CBAM = """
archspec: 1
name: cbam_probe
input: [3, 40, 32]
blocks:
  channel_gate:
    class_name: ChannelGate
    doc: "A channel gate: an MLP on the global average, plus the global max, then a sigmoid."
    params: {channels: {}, reduction: {default: 4}}
    let: {hidden: "max(1, channels // reduction)"}
    members:
      fc1: conv2d(channels, hidden, 1, bias=true)
      act: relu()
      fc2: conv2d(hidden, channels, 1, bias=true)
      gate: sigmoid()
    forward:
      - a = fc2(act(fc1(mean(x))))
      - m = amax(x)
      - return x * gate(a + m)
stem: {type: conv3x3, width: 16}
stages: {block: basic, depth: [1, 1], width: [16, 32], attention: {type: channel_gate}}
head: {num_classes: 10}
"""


def test_amax_gives_a_global_max() -> None:
    compiled = compile_text(CBAM)
    assert "m = x.amax((2, 3), keepdim=True)" in compiled.source()
    assert compiled.stats.totals.params == sum(
        t.numel for t in compiled.arch.state_dict().values() if t.trainable
    )


@pytest.mark.slow
def test_cbam_gate_runs_and_counts_exactly() -> None:
    """A member called on two values would share weights: CBAM's shared MLP is refused, so
    this gate runs its MLP on the average only and adds the raw max (a test of amax, not of
    CBAM); the generated forward equals the definition written by hand in torch."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    compiled = compile_text(CBAM)
    model = compiled.to_module().eval()
    x = torch.randn(1, *compiled.arch.input_shape)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    assert counter.get_total_flops() == 2 * compiled.stats.totals.macs
    gate = model.layer1[0].se
    y = torch.randn(2, 16, 9, 7)
    expected = y * torch.sigmoid(
        gate.fc2(torch.relu(gate.fc1(y.mean((2, 3), keepdim=True)))) + y.amax((2, 3), keepdim=True)
    )
    with torch.no_grad():
        torch.testing.assert_close(gate(y), expected)
