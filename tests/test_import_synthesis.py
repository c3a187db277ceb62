"""`archspec import` of blocks no recogniser knows: definitions synthesised from torch.fx graphs.

The fixture's own block classes (own attribute names, an attention module nobody ships, a
shortcut under another name) import `exact`, and the written spec round-trips: built again, it
has the model's state_dict keys, loads it strictly and gives the same outputs. What fx cannot
trace or the block language cannot say is a located `not importable`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from archspec.api import compile_text
from archspec.cli import app
from tests.fixtures import import_custom_model as fixture

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow

runner = CliRunner()
FIXTURE = "tests/fixtures/import_custom_model.py"


def imported(factory: str, tmp_path: Path) -> str:
    out = tmp_path / f"{factory}.yaml"
    result = runner.invoke(app, ["import", f"{FIXTURE}:{factory}", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "exact"
    return out.read_text()


def round_trip(text: str, model: Any) -> None:
    """Build the written spec: the model's keys, a strict load, equal outputs (eval, BN
    statistics away from their init, a non-square input)."""
    built = compile_text(text, "<imported>").to_module().eval()
    model = model.eval()
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            with torch.no_grad():
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
    assert list(built.state_dict()) == list(model.state_dict())
    built.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 72, 56, generator=generator)
    with torch.no_grad():
        expected, actual = model(x), built(x)
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


def test_own_attribute_names_round_trip(tmp_path: Path) -> None:
    text = imported("renamed_resnet", tmp_path)
    kind = yaml.safe_load(text)["blocks"]["renamed_bottleneck"]
    assert list(kind["members"]) == [
        "reduce",
        "reduce_bn",
        "relu",
        "spatial",
        "spatial_bn",
        "expand",
        "expand_bn",
    ]
    assert kind["members"]["reduce"] == "conv2d(in_channels, width, 1)"
    assert kind["let"] == {"width": "out_channels // 4"}
    round_trip(text, fixture.renamed_resnet())


def test_own_block_with_an_attention_nobody_ships_round_trips(tmp_path: Path) -> None:
    text = imported("own_gated_resnet", tmp_path)
    data = yaml.safe_load(text)
    unit, gate = data["blocks"]["gated_unit"], data["blocks"]["squeeze_gate"]
    assert unit["members"]["gate"] == "squeeze_gate(out_channels, hidden)"
    assert unit["members"]["shortcut"] == {"slot": "downsample"}
    assert gate["members"]["squeeze"] == "conv2d(channels, hidden, 1, bias=true)"
    assert data["stages"]["depth"] == [2, 1, 1, 1]
    # The gate's width follows no rule: each stage says it.
    assert data["stages"]["args"] == [{"hidden": h} for h in (8, 24, 40, 100)]
    round_trip(text, fixture.own_gated_resnet())


def test_an_attention_with_a_global_max_round_trips(tmp_path: Path) -> None:
    """ChannelGate gates by a sigmoid of a 1x1 conv of `x.amax(...)`: written with amax()."""
    text = imported("gated_resnet", tmp_path)
    assert "amax(x)" in text
    round_trip(text, fixture.gated_resnet())


def test_an_edited_depth_still_builds(tmp_path: Path) -> None:
    """The definition is parameterised, not a copy of one instance: deeper stages build."""
    text = imported("own_gated_resnet", tmp_path)
    data = yaml.safe_load(text)
    data["stages"]["depth"] = [3, 4, 6, 3]
    built = compile_text(yaml.safe_dump(data), "<edited>").to_module().eval()
    with torch.no_grad():
        assert built(torch.randn(1, 3, 64, 64)).shape == (1, 10)


def test_untraceable_forward_is_bad_input(tmp_path: Path) -> None:
    """Data-dependent control flow is bad input (exit 2), located at the submodule."""
    out = tmp_path / "x.yaml"
    source = f"{FIXTURE}:data_dependent_resnet"
    result = runner.invoke(app, ["import", source, "-o", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith(
        f"{source}: error: layer1.0: DataDependentBottleneck.forward cannot be traced by "
        "torch.fx: symbolically traced variables cannot be used as inputs to control flow"
    ), result.output
    assert "Traceback" not in result.output and not out.exists()


def test_untraceable_names_the_python_frame() -> None:
    result = runner.invoke(app, ["import", f"{FIXTURE}:data_dependent_resnet"])
    assert "import_custom_model.py:" in result.output and "in forward" in result.output
