"""Generated models work the way people deploy and train them (CPU only).

- every zoo model exports with `torch.export` (dynamic batch) and compiles with
  `torch.compile(fullgraph=True)` (no graph break), giving the eager outputs; one model also
  goes through the inductor backend, which compiles C++ and is too slow for the whole zoo;
- channels_last inputs and weights give the same outputs;
- one SGD step trains every parameter, and DistributedDataParallel (gloo, two processes)
  keeps the replicas identical after a step.
TorchScript is deprecated in torch; one test keeps it working without advertising it.
"""

from __future__ import annotations

import shutil
import socket
import warnings
from pathlib import Path
from typing import Any

import pytest

from archspec.api import import_source
from tests.conftest import ZOO, compiled

torch = pytest.importorskip("torch")
# Every test here runs torch: the fast loop (`-m "not slow"`) does not import this module.
pytestmark = pytest.mark.slow

# One of each family: residual, pre-activation, dense, and the attention variants.
REPRESENTATIVE = ["resnet50", "resnetv2_50", "densenet121", "skresnet18", "resnest14d"]


def _model(name: str) -> tuple[Any, Any]:
    """The model in eval mode and a non-square input, both seeded."""
    spec = compiled(name)
    torch.manual_seed(0)
    model = spec.to_module().eval()
    _randomise_norms(model)
    x = torch.randn(2, spec.arch.input_shape[0], 64, 48)
    return model, x


def _randomise_norms(model: Any) -> None:
    """Running statistics a trained checkpoint would have, so norms are not identities."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            module.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)


def _outputs(out: Any) -> list[Any]:
    """Backbones return a dict of feature maps, classifiers a tensor."""
    return list(out.values()) if isinstance(out, dict) else [out]


def _assert_same(actual: Any, expected: Any) -> None:
    for a, e in zip(_outputs(actual), _outputs(expected), strict=True):
        torch.testing.assert_close(a, e)


def _assert_close(actual: Any, expected: Any) -> None:
    """Equal up to float32 rounding when kernels sum in another order, relative to the output's
    size (outputs of random-weight networks reach 1e5, so elementwise tolerances mislead)."""
    for a, e in zip(_outputs(actual), _outputs(expected), strict=True):
        assert a.shape == e.shape
        error = float((a - e).norm() / e.norm())
        assert error < 1e-5, f"relative error {error:.2e}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_exports_and_compiles_without_graph_breaks(name: str) -> None:
    """torch.export traces the whole model; torch.compile's fullgraph=True raises on any graph
    break (the eager backend keeps the zoo within the CI budget on 2 cores)."""
    model, x = _model(name)
    program = torch.export.export(model, (x,))
    torch._dynamo.reset()
    compiled_model = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        expected = model(x)
        _assert_same(program.module()(x), expected)
        _assert_same(compiled_model(x), expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_exports_with_dynamic_batch(name: str) -> None:
    model, x = _model(name)
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    three = torch.randn(3, *x.shape[1:])
    with torch.no_grad():
        _assert_same(program.module()(three), model(three))


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="needs a C compiler")
def test_compiles_with_inductor() -> None:
    """Inductor generates and compiles C++ kernels (~30 s on 2 cores), so one model."""
    model, x = _model("resnet18_cifar")
    torch._dynamo.reset()
    compiled_model = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        _assert_close(compiled_model(x), model(x))


@pytest.mark.slow
@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_channels_last_gives_the_same_outputs(name: str) -> None:
    model, x = _model(name)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        actual = model(x.contiguous(memory_format=torch.channels_last))
    _assert_close(actual, expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_one_optimizer_step_trains_every_parameter(name: str) -> None:
    spec = compiled(name)
    torch.manual_seed(0)
    model = spec.to_module().train()
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(2, spec.arch.input_shape[0], 32, 32)
    head = spec.loaded.spec.head
    assert head is not None
    target = torch.randint(0, head.num_classes, (2,))
    loss = torch.nn.functional.cross_entropy(model(x), target)
    loss.backward()
    no_grad = [k for k, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters outside the graph: {no_grad[:5]}"
    optimizer.step()
    unchanged = [k for k, p in model.named_parameters() if torch.equal(p, before[k])]
    assert not unchanged, f"parameters the step did not move: {unchanged[:5]}"
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# CIFAR-sized members of two families: pre-activation + SE, and DenseNet-BC.
DDP_MODELS = ["senet18_cifar", "densenet_bc_100_k12"]


def _ddp_worker(rank: int, port: int, models: list[tuple[str, str]], out: str) -> None:
    """One replica: per model, a DDP step on this rank's own batch, then save the weights."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        for source, class_name in models:
            torch.manual_seed(0)  # the same initial weights on every rank
            model = getattr(import_source(source, "archspec_generated.ddp"), class_name)()
            ddp = torch.nn.parallel.DistributedDataParallel(model)
            optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
            torch.manual_seed(100 + rank)  # different data per rank
            x = torch.randn(2, 3, 32, 32)
            target = torch.randint(0, 10, (2,))
            torch.nn.functional.cross_entropy(ddp(x), target).backward()
            optimizer.step()
            torch.save(model.state_dict(), Path(out) / f"{class_name}.rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_distributed_data_parallel_step(tmp_path: Path) -> None:
    """Gradients are averaged across two gloo processes: the replicas stay identical."""
    specs = [compiled(name) for name in DDP_MODELS]
    models = [(spec.source(), spec.arch.class_name) for spec in specs]
    # Both processes connect to 127.0.0.1 only; the port is one the OS just handed out.
    torch.multiprocessing.spawn(
        _ddp_worker, args=(_free_port(), models, str(tmp_path)), nprocs=2, join=True
    )
    for spec in specs:
        name = spec.arch.class_name
        first, second = (torch.load(tmp_path / f"{name}.rank{r}.pt") for r in range(2))
        torch.manual_seed(0)
        initial = spec.to_module().state_dict()
        params = [k for k, _ in spec.to_module().named_parameters()]
        assert all(not torch.equal(first[k], initial[k]) for k in params if k.endswith("weight"))
        # Parameters are synchronised; BN running statistics stay per rank (no SyncBatchNorm).
        for key in params:
            torch.testing.assert_close(first[key], second[key], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_torchscript_still_works() -> None:
    """Not advertised (torch deprecates it), but a fused model still scripts."""
    model, x = _model("resnet18")
    model.fuse()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", FutureWarning)
        scripted = torch.jit.script(model)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))
