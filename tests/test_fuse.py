"""fuse(): BatchNorm folded into the preceding convs; same outputs, same checkpoint."""

from __future__ import annotations

from typing import Any

import pytest

from archspec.emit.fusion import fusible
from tests.conftest import compiled

torch = pytest.importorskip("torch")

# Every test here runs models in torch or a long seeded campaign: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

NAMES = [
    "resnet18",
    "skresnet18",
    "senet18_cifar",
    "resnet50",
    "resnet50d",
    "densenet121",
    "seresnet50",
    "skresnext50_32x4d",
    "resnest14d",
    "resnetv2_50",
    "resnet50_c5_backbone",
]


def _randomise_norms(model: Any) -> None:
    """Non-trivial running statistics, as a trained checkpoint would have."""
    generator = torch.Generator().manual_seed(3)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            module.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(c, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(c, generator=generator) * 0.1)


def _identities(model: Any) -> set[str]:
    return {path for path, m in model.named_modules() if isinstance(m, torch.nn.Identity)}


def _outputs(out: Any) -> list[Any]:
    return list(out.values()) if isinstance(out, dict) else [out]


@pytest.mark.parametrize("name", NAMES)
def test_fused_model_matches(name: str) -> None:
    spec = compiled(name)
    torch.manual_seed(0)
    model = spec.to_module().eval()
    _randomise_norms(model)
    checkpoint = model.state_dict()
    fused = spec.to_module()
    fused.load_state_dict(checkpoint, strict=True)
    fused.fuse()
    # The per-class `fusible` tables fold exactly the pairs the IR's data flow allows.
    folded = _identities(fused) - _identities(model)
    pairs = fusible(spec.arch)
    assert folded == {norm for _, norm in pairs} and pairs
    biased = {path for path, m in fused.named_modules() if getattr(m, "bias", None) is not None}
    assert {conv for conv, _ in pairs} <= biased
    x = torch.randn(2, spec.arch.input_shape[0], 96, 96)
    with torch.no_grad():
        for expected, actual in zip(_outputs(model(x)), _outputs(fused(x)), strict=True):
            # Relative to the output's size: float32 rounding differs once BN is folded.
            error = (actual - expected).norm() / expected.norm()
            assert error < 1e-4, f"relative error {error:.2e}"


def test_only_conv_fed_norms_are_fused() -> None:
    """Pre-activation norms read a sum or a concatenation, not a conv: they must stay."""
    pairs = dict(fusible(compiled("densenet121").arch))
    assert "features.denseblock1.denselayer1.conv1" in pairs
    assert "features.denseblock1.denselayer1.norm1" not in pairs.values()
    assert "features.norm5" not in pairs.values()
