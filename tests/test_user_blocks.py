"""Blocks as data, proven open: networks written only as definitions and specs are exact.

- the CIFAR SKNet of the SKNet seed code (reference module in tests/sknet_cifar_reference.py,
  written from the issue's description): strict load, equal outputs, params and MACs;
- a block nobody has written before (tests/fixtures/novel_block/): it builds, runs, matches
  FlopCounterMode and its own parameter count, and draws;
- a new stage kind defined in a temporary directory builds with no registry line.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from archspec.api import compile_file
from tests.conftest import ROOT
from tests.test_fidelity import flop_count, n_params, randomise_norms

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow

SKNET = ROOT / "tests" / "fixtures" / "sknet_cifar" / "sknet_cifar.yaml"
NOVEL = ROOT / "tests" / "fixtures" / "novel_block" / "gated_bottleneck.yaml"
# The figures for the CIFAR SKNet at 32x32 (MACs: conv + linear).
SKNET_PARAMS = 10_453_322
SKNET_MACS = 352_503_808


def _outputs_equal(reference: Any, generated: Any, shape: tuple[int, ...]) -> None:
    torch.manual_seed(1)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        expected, got = reference(x), generated(x)
    assert torch.allclose(expected, got, rtol=1e-4, atol=1e-5)


def test_cifar_sknet_is_the_seed_code_network() -> None:
    from tests.sknet_cifar_reference import SKNet

    compiled = compile_file(SKNET)
    torch.manual_seed(0)
    reference = SKNet(10).eval()
    generated = compiled.to_module().eval()
    assert n_params(reference) == SKNET_PARAMS == compiled.stats.totals.params
    assert n_params(generated) == SKNET_PARAMS
    randomise_norms(reference)
    generated.load_state_dict(reference.state_dict(), strict=True)
    _outputs_equal(reference, generated, (3, 32, 32))
    assert compiled.stats.totals.macs == SKNET_MACS
    with torch.device("meta"):
        meta = compiled.to_module()
    assert flop_count(meta, (3, 32, 32)) == 2 * SKNET_MACS


def test_cifar_sknet_names_modules_as_the_seed_code() -> None:
    source = compile_file(SKNET).source()
    assert "class SKConv(nn.Module):" in source
    assert "self.convs = nn.ModuleList(" in source
    assert "a = torch.stack([self.fcs[0](z), self.fcs[1](z)], 1).softmax(1)" in source
    assert "class BasicConv(nn.Sequential):" in source
    assert "self.classifier = nn.Sequential(nn.Linear(1024, num_classes))" in source


def test_novel_block_runs_and_counts_as_torch_does(tmp_path: Path) -> None:
    compiled = compile_file(NOVEL)
    generated = compiled.to_module().eval()
    assert n_params(generated) == compiled.stats.totals.params
    buffers = sum(b.numel() for b in generated.buffers())
    assert buffers == compiled.stats.totals.buffers
    c, h, w = compiled.arch.input_shape
    with torch.no_grad():
        assert generated(torch.randn(2, c, h, w)).shape == (2, 10)
    with torch.device("meta"):
        meta = compiled.to_module()
    assert flop_count(meta, (c, h, w)) == 2 * compiled.stats.totals.macs
    # Every state_dict key and shape the IR predicts is the module's.
    shapes = {key: tuple(value.shape) for key, value in generated.state_dict().items()}
    predicted = {key: tuple(value.shape) for key, value in compiled.arch.state_dict().items()}
    assert shapes == predicted
    assert "gated_bottleneck" in compiled.dot("block")
    layers = compiled.dot("layer")
    assert "shortcut_gate" in layers and "se_reduce" in layers


def test_a_kind_defined_in_a_new_directory_needs_no_registry(tmp_path: Path) -> None:
    """Adding a kind is one definition file and a spec that names it."""
    (tmp_path / "kinds").mkdir()
    (tmp_path / "kinds" / "double_conv.yaml").write_text(
        "block: 1\n"
        "class_name: DoubleConv\n"
        "params: {in_channels: {}, out_channels: {}, stride: {default: 1}}\n"
        "members:\n"
        "  conv_a: conv2d(in_channels, out_channels, 3, stride, 1)\n"
        "  norm_a: batchnorm(out_channels)\n"
        "  conv_b: conv2d(out_channels, out_channels, 3, 1, 1)\n"
        "  norm_b: batchnorm(out_channels)\n"
        "  act: relu()\n"
        "forward:\n"
        "  - y = act(norm_a(conv_a(x)))\n"
        "  - return act(norm_b(conv_b(y)))\n"
    )
    spec = tmp_path / "vgg_like.yaml"
    spec.write_text(
        "archspec: 1\nname: vgg_like\ninput: [3, 32, 32]\n"
        "blocks: {double_conv: kinds/double_conv.yaml}\n"
        "stem: {type: conv3x3, width: 16}\n"
        "stages: {block: double_conv, depth: [1, 2], width: [32, 64], stride: [2, 2]}\n"
        "head: {num_classes: 10}\n"
    )
    compiled = compile_file(spec)
    generated = compiled.to_module().eval()
    # 3x3 convs: 16->32, 32->32 | 32->64, 64->64 (x2 blocks: 64->64, 64->64); norms; stem; fc.
    convs = 9 * (16 * 32 + 32 * 32 + 32 * 64 + 3 * 64 * 64)
    norms = 2 * (2 * 32 + 4 * 64)
    stem = 3 * 16 * 9 + 2 * 16
    assert compiled.stats.totals.params == convs + norms + stem + 64 * 10 + 10
    assert n_params(generated) == compiled.stats.totals.params
    assert "layer2.1.conv_b.weight" in generated.state_dict()
    shutil.rmtree(tmp_path / "kinds")
