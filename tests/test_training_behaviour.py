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


@pytest.mark.parametrize("name", ["efficientnet_b0", "mobilenet_v3_small"])
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
