"""Training behaviour that changes no parameter or MAC still changes the generated code: in
train mode with a fixed seed, the generated model draws the same random numbers as the
library's (stochastic depth per block, dropout in the head) and gives the same outputs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import compiled
from tests.test_fidelity import reference

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow


def _train_outputs(model: Any, x: Any) -> Any:
    model.train()
    torch.manual_seed(7)
    return model(x)


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_v2_s", "mobilenet_v3_small"])
def test_train_mode_outputs_equal_the_library(name: str) -> None:
    ref = reference(name)
    generated = compiled(name).to_module()
    generated.load_state_dict(ref.state_dict(), strict=True)
    torch.manual_seed(1)
    x = torch.randn(4, 3, 64, 64)
    expected = _train_outputs(ref, x.clone())
    got = _train_outputs(generated, x.clone())
    assert torch.allclose(expected, got, rtol=1e-4, atol=1e-5)
    # The draws matter: another seed gives other outputs (stochastic depth, dropout).
    generated.train()
    torch.manual_seed(8)
    assert not torch.allclose(expected, generated(x.clone()), rtol=1e-4, atol=1e-5)


def test_stochastic_depth_grows_linearly_over_the_blocks() -> None:
    """torchvision's rule: rate x block index / number of blocks (EfficientNet-B0: 16)."""
    model = compiled("efficientnet_b0").to_module()
    probs = [m.p for m in model.modules() if type(m).__name__ == "StochasticDepth"]
    assert probs == pytest.approx([0.2 * i / 16 for i in range(16)])
    ref = reference("efficientnet_b0")
    assert probs == [m.p for m in ref.modules() if type(m).__name__ == "StochasticDepth"]


def test_one_spec_two_layouts_load_both_libraries() -> None:
    """efficientnet_b0.yaml with `--set layout=timm_efficientnet` is timm's model: one spec,
    the layout chosen by a field, each library's checkpoint loads."""
    from archspec.api import compile_file
    from tests.conftest import ROOT

    spec = ROOT / "specs" / "efficientnet_b0.yaml"
    timm_model = reference("efficientnet_b0_timm").eval()
    torchvision_model = reference("efficientnet_b0").eval()
    as_timm = compile_file(spec, ["layout=timm_efficientnet"]).to_module().eval()
    as_torchvision = compile_file(spec).to_module().eval()
    as_timm.load_state_dict(timm_model.state_dict(), strict=True)
    as_torchvision.load_state_dict(torchvision_model.state_dict(), strict=True)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(as_timm(x), timm_model(x), rtol=1e-4, atol=1e-5)
        assert torch.allclose(as_torchvision(x), torchvision_model(x), rtol=1e-4, atol=1e-5)


def test_efficientnet_v2_s_in_timm_layout_is_timms_model() -> None:
    """efficientnet_v2_s.yaml with `--set layout=timm_efficientnet` is timm's efficientnetv2_s
    (fused-MBConv as EdgeResidual/ConvBnAct). timm builds it with torch's BN eps (1e-5) where
    torchvision uses 1e-3, so the reference is asked for torchvision's; tf_efficientnetv2_s
    differs more ("same" padding) and is not this spec."""
    from archspec.api import compile_file
    from tests.conftest import ROOT
    from tests.test_fidelity import n_params, randomise_norms

    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    timm_model = timm.create_model("efficientnetv2_s", pretrained=False, bn_eps=1e-3).eval()
    spec = compile_file(ROOT / "specs" / "efficientnet_v2_s.yaml", ["layout=timm_efficientnet"])
    as_timm = spec.to_module().eval()
    assert n_params(timm_model) == spec.stats.totals.params == n_params(as_timm)
    randomise_norms(timm_model)
    as_timm.load_state_dict(timm_model.state_dict(), strict=True)
    x = torch.randn(2, 3, 96, 72)
    with torch.no_grad():
        torch.testing.assert_close(as_timm(x), timm_model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["convnext_tiny", "convnext_tiny_timm"])
def test_convnext_train_mode_equals_the_library(name: str) -> None:
    """ConvNeXt-T in train mode with a seed: each block's stochastic depth draws what the
    library's does. Layer scale is randomised first (at 1e-6 a dropped branch would not show)."""
    from tests.test_fidelity import randomise_norms

    ref = reference(name)
    randomise_norms(ref)
    generated = compiled(name).to_module()
    generated.load_state_dict(ref.state_dict(), strict=True)
    torch.manual_seed(1)
    x = torch.randn(4, 3, 64, 48)
    expected = _train_outputs(ref, x.clone())
    torch.testing.assert_close(_train_outputs(generated, x.clone()), expected)
    generated.train()
    torch.manual_seed(8)
    assert not torch.allclose(expected, generated(x.clone()), rtol=1e-4, atol=1e-5)


def test_convnext_stochastic_depth_is_linspace_in_both_libraries() -> None:
    """Both libraries' ConvNeXt: torch.linspace(0, rate, blocks), rate x k / (n - 1), where
    EfficientNet's rule is rate x k / n; the layouts say which (`stages.drop_path`)."""
    tv = [m.p for m in reference("convnext_tiny").modules() if hasattr(m, "p")]
    timm = [
        m.drop_prob
        for m in reference("convnext_tiny_timm").modules()
        if type(m).__name__ == "ConvNeXtBlock"
        for m in [m.drop_path]
        if hasattr(m, "drop_prob")
    ]
    for name in ("convnext_tiny", "convnext_tiny_timm"):
        model = compiled(name).to_module()
        probs = [m.p for m in model.modules() if type(m).__name__ == "StochasticDepth"]
        assert probs == pytest.approx([0.1 * k / 17 for k in range(18)])
        assert probs == tv
        assert probs[1:] == pytest.approx(timm, abs=1e-8)  # float32 linspace; block 0 has none


def test_convnext_one_spec_two_layouts() -> None:
    """convnext_tiny.yaml with `--set layout=timm_convnext` is the zoo's timm model (the same
    state_dict, which test_fidelity loads from timm's convnext_tiny)."""
    from archspec.api import compile_file
    from tests.conftest import ROOT

    as_timm = compile_file(ROOT / "specs" / "convnext_tiny.yaml", ["layout=timm_convnext"])
    expected = compiled("convnext_tiny_timm").arch.state_dict()
    assert as_timm.arch.state_dict() == expected
    assert "stages.1.downsample.1.weight" in expected and "stages.0.blocks.0.gamma" in expected
    torchvision_keys = compiled("convnext_tiny").arch.state_dict()
    assert (
        "features.2.1.weight" in torchvision_keys and "features.1.0.layer_scale" in torchvision_keys
    )
