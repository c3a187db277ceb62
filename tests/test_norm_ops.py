"""GroupNorm and frozen batch norm (archspec/ir/ops/norms.py), measured against the real tools.

Each op sits in a block defined inline with its language word (conv 3x3 -> norm -> ReLU), used
as the stage kind of a tiny network. The generated model must count as fvcore, ptflops (both
settings), FlopCounterMode and pycls' own formulas do; the training memory estimate must equal
what autograd saves; and its state_dict must load strictly from the same network built with
torch's nn.GroupNorm and torchvision's FrozenBatchNorm2d (and, into the frozen norm, from a
BatchNorm2d checkpoint), giving the same outputs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from archspec.api import Compiled, compile_text
from archspec.conventions import count, pycls_acts
from archspec.errors import SpecError
from archspec.memory import estimate
from tests.test_blocks import _ruff
from tests.test_conventions import _flop_counter, _fvcore, _ptflops

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")
nn = torch.nn

SPEC = """
archspec: 1
name: norm_probe
input: [3, 20, 24]
blocks:
  norm_block:
    class_name: NormBlock
    doc: conv 3x3, the norm under test, ReLU.
    params:
      in_channels: {}
      out_channels: {}
      stride: {default: 1}
    members:
      conv: conv2d(in_channels, out_channels, 3, stride, 1)
      norm: NORM
      act: relu()
    forward:
      - return act(norm(conv(x)))
stem: {type: conv3x3, width: 8}
stages:
  block: norm_block
  depth: [1, 2]
  width: [8, 16]
  stride: [1, 2]
head: {num_classes: 5}
"""
GROUP = [
    "groupnorm(4, out_channels)",
    "groupnorm(1, out_channels)",
    "groupnorm(8, out_channels, eps=1e-6)",
]
FROZEN = ["frozen_batchnorm(out_channels)", "frozen_batchnorm(out_channels, eps=1e-3)"]
NORMS = GROUP + FROZEN


def _compiled(norm: str) -> Compiled:
    return compile_text(SPEC.replace("NORM", norm), "norm_probe.yaml")


def _model(norm: str) -> Any:
    torch.manual_seed(0)
    return _compiled(norm).to_module().eval()


def _norms(model: Any) -> list[tuple[str, Any]]:
    return [(name, m) for name, m in model.named_modules() if name.endswith(".norm")]


def _randomise(model: Any) -> None:
    """Norm parameters and buffers away from their init, so a misplaced one changes outputs."""
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _, norm in _norms(model):
            for name, tensor in [*norm.named_parameters(), *norm.named_buffers()]:
                if tensor.is_floating_point():
                    tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
                    if name in ("bias", "running_mean"):
                        tensor.sub_(1.0)


@pytest.mark.parametrize("norm", NORMS)
def test_conventions_equal_real_tools(norm: str) -> None:
    arch = _compiled(norm).arch
    shape = arch.input_shape
    x = torch.randn(1, *shape)
    measured = {
        "fvcore": _fvcore(_model(norm), x),
        "ptflops": _ptflops(_model(norm), shape, functional=True),
        "ptflops_modules": _ptflops(_model(norm), shape, functional=False),
        "flop_counter": _flop_counter(_model(norm), x),
    }
    assert {tool: count(arch, tool).total for tool in measured} == measured


def test_the_norms_own_counts() -> None:
    """Per element of the norm's input: GroupNorm 5 (fvcore), 2 (ptflops); frozen BN nothing."""
    elements = 8 * 20 * 24 + 2 * 16 * 10 * 12  # the three block norms' inputs
    stem = 8 * 20 * 24  # the stem's BatchNorm2d: 2 per element under both tools
    group, frozen = _compiled(GROUP[0]).arch, _compiled(FROZEN[0]).arch
    assert count(group, "fvcore").by_category["norm"] == 5 * elements + 2 * stem
    assert count(group, "ptflops").by_category["norm"] == 2 * elements + 2 * stem
    assert count(frozen, "fvcore").by_category["norm"] == 2 * stem
    assert count(frozen, "ptflops_modules").by_category["norm"] == 2 * stem


@pytest.mark.parametrize("norm", NORMS)
def test_pycls_convention_equals_pycls_formulas(norm: str) -> None:
    """pycls' complexity_conv2d for every conv and linear, complexity_batchnorm2d for every
    norm (pycls has no GroupNorm or frozen norm: its one norm rule stands for them)."""
    net = pytest.importorskip("pycls.core.net")
    model, arch = _model(norm), _compiled(norm).arch
    total = {"flops": 0, "acts": 0}

    def hook(module: Any, inputs: Any, output: Any) -> None:
        h, w = inputs[0].shape[2:] if inputs[0].dim() == 4 else (1, 1)
        cx = {"h": h, "w": w, "flops": 0, "params": 0, "acts": 0}
        if isinstance(module, nn.Linear):
            cx = net.complexity_conv2d(cx, module.in_features, module.out_features, 1, 1, 0)
            cx["flops"] += module.out_features  # its bias, as pycls' head adds
        elif isinstance(module, nn.Conv2d):
            k, s, p = module.kernel_size[0], module.stride[0], module.padding[0]
            cx = net.complexity_conv2d(cx, module.in_channels, module.out_channels, k, s, p)
        else:
            cx = net.complexity_batchnorm2d(cx, inputs[0].shape[1])
        total["flops"] += cx["flops"]
        total["acts"] += cx["acts"]

    norm_types = (nn.BatchNorm2d, nn.GroupNorm, type(_norms(_model(FROZEN[0]))[0][1]))
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear, *norm_types)):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.randn(1, *arch.input_shape))
    assert {"flops": count(arch, "pycls").total, "acts": pycls_acts(arch)} == total


def _saved_bytes(model: Any, shape: tuple[int, ...], batch: int) -> tuple[int, int]:
    """Bytes of the storages autograd keeps in a training forward, parameters left out: (those
    that hold a sample per batch row, those the same at any batch: per-channel tensors)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, tuple[int, bool]] = {}

    def pack(tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            per_sample = tensor.dim() > 1 and tensor.shape[0] == batch
            saved[storage.data_ptr()] = (storage.nbytes(), per_sample)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model.train()(torch.randn(batch, *shape))
    per_sample = sum(size for size, rows in saved.values() if rows)
    return per_sample, sum(size for size, _ in saved.values()) - per_sample


@pytest.mark.parametrize("batch", [2, 3])
@pytest.mark.parametrize("norm", NORMS)
def test_training_estimate_equals_what_autograd_saves(norm: str, batch: int) -> None:
    """Exact for what grows with the batch: GroupNorm keeps its input and a mean and rstd per
    sample and group. Per-channel saves are left out, as the memory protocol does for
    BatchNorm2d (running stats, batch mean and invstd: the stem's 4 x 8) and the frozen norm's
    (1, C, 1, 1) scale, its only save."""
    arch = _compiled(norm).arch
    per_sample, shared = _saved_bytes(_model(norm), arch.input_shape, batch)
    assert estimate(arch, batch=batch).training_saved_bytes == per_sample
    scales = 8 + 16 + 16 if norm in FROZEN else 0
    assert shared == 4 * (4 * 8 + scales)


def _reference(model: Any, build: Any) -> Any:
    """The same network with each norm replaced by the library's module, randomised."""
    reference = copy.deepcopy(model)
    for name, norm in _norms(model):
        parent, _, child = name.rpartition(".")
        setattr(reference.get_submodule(parent), child, build(norm))
    _randomise(reference)
    return reference.eval()


def _outputs(model: Any, other: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model(x), other(x)


@pytest.mark.parametrize("norm", GROUP)
def test_groupnorm_is_torchs(norm: str) -> None:
    model, arch = _model(norm), _compiled(norm).arch
    reference = _reference(model, lambda m: nn.GroupNorm(m.num_groups, m.num_channels, m.eps))
    expected = {key: tuple(t.shape) for key, t in reference.state_dict().items()}
    assert {key: t.shape for key, t in arch.state_dict().items()} == expected
    assert all(type(m) is nn.GroupNorm for _, m in _norms(model))
    model.load_state_dict(reference.state_dict(), strict=True)
    ours, theirs = _outputs(model, reference, arch.input_shape)
    assert torch.equal(ours, theirs)


def _torchvision_frozen(model: Any) -> Any:
    misc = pytest.importorskip("torchvision.ops.misc")
    return _reference(model, lambda m: misc.FrozenBatchNorm2d(m.weight.shape[0], m.eps))


@pytest.mark.parametrize("norm", FROZEN)
def test_frozen_batchnorm_is_torchvisions(norm: str) -> None:
    model, arch = _model(norm), _compiled(norm).arch
    reference = _torchvision_frozen(model)
    expected = {key: tuple(t.shape) for key, t in reference.state_dict().items()}
    assert {key: t.shape for key, t in arch.state_dict().items()} == expected
    frozen = [m for _, m in _norms(model)]
    assert all(not list(m.parameters()) for m in frozen)
    assert [repr(m) for m in frozen] == [repr(m) for _, m in _norms(reference)]
    model.load_state_dict(reference.state_dict(), strict=True)
    ours, theirs = _outputs(model, reference, arch.input_shape)
    assert torch.equal(ours, theirs)  # the same arithmetic, bit for bit


def test_frozen_batchnorm_loads_a_batchnorm_checkpoint() -> None:
    """num_batches_tracked is dropped on load, as torchvision's class does; eval outputs agree."""
    model = _model(FROZEN[0])
    trained = _model("batchnorm(out_channels)")
    _randomise(trained)
    assert any(key.endswith("norm.num_batches_tracked") for key in trained.state_dict())
    model.load_state_dict(trained.state_dict(), strict=True)
    ours, theirs = _outputs(model, trained, _compiled(FROZEN[0]).arch.input_shape)
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_groups_must_divide_the_channels() -> None:
    with pytest.raises(SpecError) as info:
        _compiled("groupnorm(3, out_channels)")
    message = "\n".join(issue.render() for issue in info.value.issues)
    assert "8 channels do not split into 3 groups" in message


def test_generated_source(tmp_path: Path) -> None:
    """The words emit the library's calls; the frozen class is defined only where used, and the
    file passes ruff."""
    group = _compiled("groupnorm(4, out_channels, eps=1e-6)").source()
    frozen = _compiled("frozen_batchnorm(out_channels, eps=1e-3)").source()
    assert "self.norm = nn.GroupNorm(4, out_channels, eps=1e-06)" in group
    assert "class FrozenBatchNorm2d" not in group
    assert "self.norm = FrozenBatchNorm2d(out_channels, eps=0.001)" in frozen
    assert "class FrozenBatchNorm2d(nn.Module):" in frozen
    assert "self.norm = FrozenBatchNorm2d(out_channels)" in _compiled(FROZEN[0]).source()
    path = tmp_path / "norm_probe.py"
    path.write_text(frozen)
    for args in (["check", str(path)], ["format", "--check", str(path)]):
        result = _ruff(*args)
        assert result.returncode == 0, result.stdout + result.stderr
