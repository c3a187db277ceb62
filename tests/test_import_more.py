"""`archspec import` of ConvNeXt (torchvision and timm), timm's MobileNetV3 and VGG, and the
network's norm and activation read from the modules (`norm:` / `act:`): each library model
imports exactly and compiles to the zoo spec's network (the same state_dict shapes, params and
MACs, layout and norm/act choice); the block forms archspec has no spec for are named.

Every model here is built and run in torch, so the whole module is slow."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.lower.choice import choice_of
from archspec.spec import parse_spec
from tests.conftest import SPECS
from tests.importing import network, run

pytest.importorskip("torch")
pytest.importorskip("timm")

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("source", "zoo"),
    [
        ("torchvision:convnext_tiny", "convnext_tiny"),
        ("timm:convnext_tiny", "convnext_tiny_timm"),
        ("timm:mobilenetv3_large_100", "mobilenet_v3_large_timm"),
        ("timm:vgg16_bn", "vgg16_bn_timm"),
        ("timm:resnet50_gn", "resnet50_gn"),
    ],
)
def test_imports_exactly_as_the_zoo_network(source: str, zoo: str, tmp_path: Path) -> None:
    out = tmp_path / f"{zoo}.yaml"
    result = run(source, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "exact"
    text = out.read_text()
    person = (SPECS / f"{zoo}.yaml").read_text()
    assert network(text) == network(person)
    written, expected = parse_spec(text).spec, parse_spec(person).spec
    assert written.layout == expected.layout
    assert choice_of(written) == choice_of(expected)
    if source.startswith("torchvision:convnext"):  # timm builds without stochastic depth
        assert written.drop_path_rate == expected.drop_path_rate


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("convnextv2_atto", "stages.0.blocks.0.mlp.grn: GlobalResponseNorm (ConvNeXt-V2)"),
        ("convnext_atto", "stages.0.blocks.0.norm: the MLP as 1x1 convs on channels-first"),
        ("convnext_atto_ols", "stem: a stem of Conv2d, Conv2d, LayerNorm2d"),
        ("convnext_large_mlp", "head.pre_logits: a pre-logits MLP"),
    ],
)
def test_convnext_forms_without_a_spec_are_named(name: str, reason: str, tmp_path: Path) -> None:
    out = tmp_path / "x.yaml"
    result = run(f"timm:{name}", "-o", str(out))
    assert result.exit_code == 1
    line = result.output.splitlines()[0]
    assert line.startswith(f"not importable: {reason}"), line
    assert not out.exists()


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("timm.create_model('resnet18', act_layer='silu')", "act: silu\n"),
        ("timm.create_model('resnet26d', act_layer='leaky_relu')", "act: leaky_relu\n"),
        (
            "torchvision.models.resnet50(norm_layer=torchvision.ops.misc.FrozenBatchNorm2d)",
            "norm: frozen_batch\n",
        ),
        (
            "timm.create_model('resnet26d', norm_layer=lambda c, **k: torch.nn.GroupNorm(16, c))",
            "norm: {type: group, groups: 16}\n",
        ),
    ],
)
def test_the_networks_act_and_norm_are_read(body: str, line: str, tmp_path: Path) -> None:
    """By the modules found, not the constructor: the chosen act / norm is written, exact."""
    fixture = tmp_path / "net.py"
    fixture.write_text(f"import timm, torch, torchvision\ndef net():\n    return {body}\n")
    out = tmp_path / "x.yaml"
    result = run(f"{fixture}:net", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "exact"
    assert line in out.read_text()


def test_mixed_norms_are_refused_at_the_odd_one(tmp_path: Path) -> None:
    """One GroupNorm among BatchNorms has no spec form (import writes one norm): named."""
    fixture = tmp_path / "net.py"
    fixture.write_text(
        "import torch, torchvision\n"
        "def net():\n"
        "    m = torchvision.models.resnet18()\n"
        "    m.layer2[1].bn2 = torch.nn.GroupNorm(32, 128)\n"
        "    return m\n"
    )
    out = tmp_path / "x.yaml"
    result = run(f"{fixture}:net", "-o", str(out))
    assert result.exit_code == 1
    assert result.output.startswith("not importable: layer2.1.bn2: a norm other than bn1's"), (
        result.output
    )
    assert not out.exists()
