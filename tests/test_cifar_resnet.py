"""The CIFAR ResNets of He et al. 2015 (Sec. 4.2) with option-A shortcuts (`downsample: pad`):
the paper's parameter figures, and exact against akamaster/pytorch_resnet_cifar10's resnet.py
(written out in tests/cifar_resnet_reference.py): params, strict load, eval outputs, MACs, and
every counting convention against the real tools."""

from __future__ import annotations

from typing import Any

import pytest

from archspec.api import compile_text
from archspec.conventions import count
from archspec.errors import SpecError
from tests.conftest import ROOT, compiled

DEPTHS = [20, 56, 110]
# Table 6 of the paper: 0.27M, 0.85M and 1.7M params.
PAPER_MILLIONS = {20: 0.27, 56: 0.85, 110: 1.7}


@pytest.mark.parametrize("depth", DEPTHS)
def test_params_are_the_papers(depth: int) -> None:
    params = compiled(f"resnet{depth}_cifar").stats.totals.params
    digits = 1 if depth == 110 else 2
    assert round(params / 1e6, digits) == PAPER_MILLIONS[depth]


def test_option_a_shortcuts_have_no_params() -> None:
    arch = compiled("resnet20_cifar").arch
    shortcuts = [key for key in arch.state_dict() if "downsample" in key]
    assert shortcuts == []
    assert "ZeroPadShortcut(16, 32, 2)" in compiled("resnet20_cifar").source()


NARROW = """
archspec: 1
name: narrow
input: [3, 32, 32]
stem: {type: conv3x3, width: 64}
stages:
  block: basic
  depth: [1, 1]
  width: [32, 64]
  downsample: pad
"""


def test_a_pad_shortcut_that_would_narrow_is_refused_where_it_is_written() -> None:
    with pytest.raises(SpecError) as info:
        compile_text(NARROW, "narrow.yaml")
    message = str(info.value)
    assert message.startswith("narrow.yaml:10:15: error: stages.downsample: ")
    assert "cannot narrow 64 channels to 32" in message
    assert "fix: " in message


def test_pad_on_a_kind_without_a_downsample_slot_is_refused() -> None:
    text = NARROW.replace("block: basic", "block: dense").replace("width: [32, 64]", "")
    with pytest.raises(SpecError, match="downsample"):
        compile_text(text, "dense.yaml")


# ---------------------------------------------------------------- against the reference (torch)


def _torch() -> Any:
    return pytest.importorskip("torch")


@pytest.mark.slow
@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_reference_params(depth: int) -> None:
    """The reference's counts (269,722 ... 1,727,962) equal the analytic ones of the zoo
    specs, and of a resnet32/44 written the same way."""
    _torch()
    from tests.cifar_resnet_reference import resnet
    from tests.test_fidelity import n_params

    n = (depth - 2) // 6
    text = (ROOT / "specs" / "resnet20_cifar.yaml").read_text()
    text = text.replace("depth: [3, 3, 3]", f"depth: [{n}, {n}, {n}]")
    analytic = compile_text(text, f"resnet{depth}_cifar.yaml").stats.totals.params
    if depth in DEPTHS:
        assert analytic == compiled(f"resnet{depth}_cifar").stats.totals.params
    assert n_params(resnet(depth)) == analytic


@pytest.mark.slow
@pytest.mark.parametrize("depth", DEPTHS)
def test_matches_the_reference(depth: int) -> None:
    torch = _torch()
    from tests.cifar_resnet_reference import resnet
    from tests.test_fidelity import flop_count, randomise_norms

    spec = compiled(f"resnet{depth}_cifar")
    torch.manual_seed(0)
    reference = resnet(depth).eval()
    generated = spec.to_module().eval()
    randomise_norms(reference)
    generated.load_state_dict(reference.state_dict(), strict=True)
    torch.manual_seed(1)
    square, wide = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 40, 56)
    with torch.no_grad():
        assert torch.allclose(reference(square), generated(square), rtol=1e-4, atol=1e-5)
        # The reference pools with a kernel of the map's width: global only on a square map.
        pooled = reference.features(wide).mean((2, 3))
        assert torch.allclose(reference.linear(pooled), generated(wide), rtol=1e-4, atol=1e-5)
    with torch.device("meta"):
        meta = spec.to_module().eval()
    assert flop_count(meta, (3, 32, 32)) == 2 * spec.stats.totals.macs


@pytest.mark.slow
def test_conventions_equal_real_tools() -> None:
    """fvcore, ptflops (both settings) and FlopCounterMode count nothing for the pad shortcut
    (F.pad and slicing), and the whole model as archspec's conventions say."""
    torch = _torch()
    from tests.test_conventions import _flop_counter, _fvcore, _ptflops

    spec = compiled("resnet20_cifar")
    torch.manual_seed(0)
    model = spec.to_module().eval()
    shape = spec.arch.input_shape
    x = torch.randn(1, *shape)
    measured = {
        "fvcore": _fvcore(model, x),
        "ptflops": _ptflops(model, shape, functional=True),
        "ptflops_modules": _ptflops(model, shape, functional=False),
        "flop_counter": _flop_counter(model, x),
    }
    assert {tool: count(spec.arch, tool).total for tool in measured} == measured
    shortcut = model.layer2[0].downsample
    assert _fvcore(shortcut, torch.randn(1, 16, 32, 32)) == 0
    assert _ptflops(shortcut, (16, 32, 32), functional=True) == 0
    assert _flop_counter(shortcut, torch.randn(1, 16, 32, 32)) == 0
