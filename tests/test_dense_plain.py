"""The original DenseNet (Huang et al. 2017, without the -BC bottleneck and compression):
DenseNet (L=40, k=12) for CIFAR-10 has 1.0M parameters (Table 2). The reference below is
written from the paper's description, independently of archspec's definitions: a 3x3 stem of
16 channels, three dense blocks of 12 BN-ReLU-3x3 layers with growth rate 12, transitions of
BN-ReLU-1x1 conv (keeping the width) and 2x2 average pooling, then BN-ReLU, global average and
a linear classifier, with torchvision DenseNet's module names."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

from tests.conftest import compiled

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = pytest.mark.slow


class _Layer(nn.Module):
    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(channels, growth, 3, padding=1, bias=False)

    def forward(self, x: Any) -> Any:
        return torch.cat([x, self.conv1(self.relu1(self.norm1(x)))], 1)


def reference(depth: int = 40, growth: int = 12, classes: int = 10) -> Any:
    per_block = (depth - 4) // 3
    channels = 16
    layers: list[tuple[str, Any]] = [("conv0", nn.Conv2d(3, 16, 3, padding=1, bias=False))]
    for b in range(3):
        block = nn.Sequential(
            OrderedDict(
                (f"denselayer{j + 1}", _Layer(channels + j * growth, growth))
                for j in range(per_block)
            )
        )
        layers.append((f"denseblock{b + 1}", block))
        channels += per_block * growth
        if b < 2:
            transition = nn.Sequential(
                OrderedDict(
                    norm=nn.BatchNorm2d(channels),
                    relu=nn.ReLU(inplace=True),
                    conv=nn.Conv2d(channels, channels, 1, bias=False),
                    pool=nn.AvgPool2d(2, 2),
                )
            )
            layers.append((f"transition{b + 1}", transition))
    layers.append(("norm5", nn.BatchNorm2d(channels)))
    features = nn.Sequential(OrderedDict(layers))
    model = nn.Sequential(
        OrderedDict(
            features=features,
            relu=nn.ReLU(),
            avgpool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(1),
            classifier=nn.Linear(channels, classes),
        )
    )
    return model


def test_plain_densenet_matches_paper_and_reference() -> None:
    from tests.test_fidelity import flop_count, randomise_norms

    spec = compiled("densenet_40_k12")
    params = spec.stats.totals.params
    assert round(params / 1e6, 1) == 1.0  # Table 2
    torch.manual_seed(0)
    ref = reference().eval()
    assert sum(p.numel() for p in ref.parameters()) == params
    randomise_norms(ref)
    generated = spec.to_module().eval()
    generated.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 24)
    with torch.no_grad():
        torch.testing.assert_close(generated(x), ref(x), rtol=1e-4, atol=1e-4)
    with torch.device("meta"):
        meta = spec.to_module().eval()
    assert flop_count(meta, spec.arch.input_shape) == 2 * spec.stats.totals.macs


def test_bottleneck_false_changes_the_layers() -> None:
    plain = compiled("densenet_40_k12").arch.state_dict()
    assert "features.denseblock1.denselayer1.conv1.weight" in plain
    assert plain["features.denseblock1.denselayer1.conv1.weight"].shape == (12, 16, 3, 3)
    assert not any(".conv2." in key for key in plain)
