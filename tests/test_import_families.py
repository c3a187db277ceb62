"""`archspec import` of RegNet, MobileNetV2/V3, EfficientNet and VGG: each library model
imports exactly, and its spec compiles to the zoo spec's network (the same state_dict shapes,
params and MACs, and the same layout and stochastic depth).

Every model here is built and run in torch, so the whole module is slow."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.spec import parse_spec
from tests.conftest import SPECS
from tests.importing import network, run

pytest.importorskip("torch")
pytest.importorskip("timm")

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("source", "zoo"),
    [
        ("torchvision:regnet_y_400mf", "regnet_y_400mf"),
        ("torchvision:regnet_x_1_6gf", "regnet_x_1_6gf"),
        ("timm:regnety_016", "regnety_016"),
        ("timm:regnetx_004", "regnetx_004"),
        ("torchvision:mobilenet_v2", "mobilenet_v2"),
        ("timm:mobilenetv2_100", "mobilenet_v2_timm"),
        ("torchvision:mobilenet_v3_large", "mobilenet_v3_large"),
        ("torchvision:mobilenet_v3_small", "mobilenet_v3_small"),
        ("torchvision:efficientnet_b0", "efficientnet_b0"),
        ("torchvision:efficientnet_b3", "efficientnet_b3"),
        ("torchvision:efficientnet_v2_s", "efficientnet_v2_s"),
        ("timm:efficientnet_b0", "efficientnet_b0_timm"),
        ("torchvision:vgg11", "vgg11"),
        ("torchvision:vgg16_bn", "vgg16_bn"),
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
    if source.startswith("torchvision:efficientnet"):  # timm builds without stochastic depth
        assert written.drop_path_rate == expected.drop_path_rate


def test_a_design_is_written_as_its_stage_table(tmp_path: Path) -> None:
    """regnet_y_800mf's spec is its design; the import writes the quantised table it expands to,
    whose widths torchvision's own BlockParams gave."""
    out = tmp_path / "r.yaml"
    assert run("torchvision:regnet_y_800mf", "-o", str(out)).exit_code == 0
    text = out.read_text()
    assert "regnet:" not in text and "block: regnet_block" in text
    assert network(text) == network((SPECS / "regnet_y_800mf.yaml").read_text())


def test_a_mobilenet_block_with_another_activation_is_refused(tmp_path: Path) -> None:
    """Structure, not names: torchvision's MobileNetV2 with ReLU in one block is not the zoo's."""
    fixture = tmp_path / "net.py"
    fixture.write_text(
        "import torch, torchvision\n"
        "def net():\n"
        "    m = torchvision.models.mobilenet_v2()\n"
        "    m.features[3].conv[0][2] = torch.nn.ReLU()\n"
        "    return m\n"
    )
    result = run(f"{fixture}:net", "-o", str(tmp_path / "x.yaml"))
    assert result.exit_code == 1
    assert result.output.startswith(
        "not importable: features.3: a MobileNetV2 block with other activations"
    ), result.output
