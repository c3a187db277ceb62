"""The MobileNet / EfficientNet / VGG / ViT-era ops, each measured against the real tools.

Every op sits in a tiny network, conv -> op -> 1x1 conv, built twice: as an ArchGraph straight
from the ops (no spec language) and as a torch module from the op's own `module_call`. The
counting conventions must equal fvcore, ptflops (count_functional on and off), FlopCounterMode
and pycls' formulas; params, buffers and state_dict names must equal the module's; the
constructors must be the ones torchvision's models build; and the training memory estimate
must equal what autograd saves, short only by the private tensors each op's docstring names.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from archspec.conventions import count, pycls_acts
from archspec.emit.source import literal
from archspec.ir.code import Call
from archspec.ir.graph import ArchGraph, Builder, Scope
from archspec.ir.ops import (
    GELU,
    AdaptiveAvgPool2d,
    Conv2d,
    Dropout,
    Hardsigmoid,
    Hardswish,
    Identity,
    Input,
    LayerNorm,
    LayerNorm2d,
    LayerScale,
    LeakyReLU,
    Linear,
    Op,
    Permute,
    ReLU6,
    Shape,
    Sigmoid,
    SiLU,
    helper_sources,
)
from archspec.memory import estimate
from archspec.passes import run_passes
from tests.test_conventions import _flop_counter, _fvcore, _ptflops

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")
nn = torch.nn

SHAPE: Shape = (8, 9, 10)  # non-square, so a swapped H and W shows
WIDTH = 6  # the first conv's output channels: what the op sees

# (op, input shape): every op, its fields' variants, VGG's 7x7 pool on a 7x7 map (no-op values).
CASES: list[tuple[Op, Shape]] = [
    (ReLU6(), SHAPE),
    (SiLU(), SHAPE),
    (Hardswish(), SHAPE),
    (Hardsigmoid(), SHAPE),
    (GELU(), SHAPE),
    (LeakyReLU(), SHAPE),
    (LeakyReLU(0.1, inplace=True), SHAPE),
    (Dropout(0.2), SHAPE),
    (Dropout(0.2, inplace=True), SHAPE),
    (Dropout(0.0), SHAPE),
    (AdaptiveAvgPool2d(3), SHAPE),
    (AdaptiveAvgPool2d(4), SHAPE),  # uneven windows
    (AdaptiveAvgPool2d(7), (8, 7, 7)),
    (AdaptiveAvgPool2d(1), SHAPE),
    (AdaptiveAvgPool2d(3, functional=True), SHAPE),
    (AdaptiveAvgPool2d(1, functional=True), SHAPE),
]
# Ops whose docstring says autograd keeps a tensor the memory protocol cannot name.
PRIVATE_SAVES = {ReLU6(), SiLU(), Hardswish(), Dropout(0.2), Dropout(0.2, inplace=True)}


def _id(case: tuple[Op, Shape]) -> str:
    op, shape = case
    return f"{op!r}@{'x'.join(map(str, shape))}"


def _module(call: Call) -> Any:
    """The torch module an op's constructor call builds."""
    assert isinstance(call.target, str) and call.target.startswith("nn.")
    return getattr(nn, call.target.removeprefix("nn."))(*call.args, **dict(call.kwargs))


class _Net(nn.Module):
    """conv 3x3 -> [sigmoid] -> op -> conv 1x1, recording the storage of every feature map it
    makes. The sigmoid saves its output, the op's input: whether the op's output is one storage
    with it then decides what the training estimate counts."""

    def __init__(self, op: Op, channels: int, gate: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, WIDTH, 3, padding=1)
        self.gate = nn.Sigmoid() if gate else nn.Identity()
        call = op.module_call()
        self.op = _module(call) if call is not None else None
        # The one expression op here: torchvision MobileNetV2's functional adaptive average.
        self.size = op.size if isinstance(op, AdaptiveAvgPool2d) else 0
        self.conv2 = nn.Conv2d(WIDTH, 4, 1)
        self.storages: set[int] = set()

    def forward(self, x: Any) -> Any:
        c = self.conv1(x)
        y = self.gate(c)
        z = self.op(y) if self.op is not None else nn.functional.adaptive_avg_pool2d(y, self.size)
        out = self.conv2(z)
        self.storages = {t.untyped_storage().data_ptr() for t in (x, c, y, z, out)}
        return out


def _model(op: Op, shape: Shape, gate: bool = False) -> Any:
    torch.manual_seed(0)
    return _Net(op, shape[0], gate).eval()


def _arch(op: Op, shape: Shape, gate: bool = False) -> ArchGraph:
    """The same network as an ArchGraph, module paths as the torch module names them."""
    arch = ArchGraph("new_op", "NewOp", "", "", shape)
    b = Builder(arch)
    scope = Scope("", "stage1")
    x = b.add(Input(shape), [], Scope("", "input"), "input", module=False)
    x = b.add(Conv2d(shape[0], WIDTH, 3, padding=1, bias=True), [x], scope, "conv1")
    x = b.add(Sigmoid() if gate else Identity(), [x], scope, "gate")
    x = b.add(op, [x], scope, "op", module=op.module_call() is not None)
    arch.output = b.add(Conv2d(WIDTH, 4, 1, bias=True), [x], scope, "conv2")
    return run_passes(arch)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_conventions_equal_real_tools(case: tuple[Op, Shape]) -> None:
    op, shape = case
    x = torch.randn(1, *shape)
    measured = {
        "fvcore": _fvcore(_model(op, shape), x),
        "ptflops": _ptflops(_model(op, shape), shape, functional=True),
        "ptflops_modules": _ptflops(_model(op, shape), shape, functional=False),
        "flop_counter": _flop_counter(_model(op, shape), x),
    }
    arch = _arch(op, shape)
    assert {tool: count(arch, tool).total for tool in measured} == measured


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_pycls_convention_equals_pycls_formulas(case: tuple[Op, Shape]) -> None:
    """pycls counts what its complexity_conv2d gives for each conv (none of these ops: its
    EfficientNet's Swish, SE pool and dropout add nothing), with each conv's real input size."""
    net = pytest.importorskip("pycls.core.net")
    op, shape = case
    model = _model(op, shape)
    total = {"flops": 0, "acts": 0}

    def hook(module: Any, inputs: Any, output: Any) -> None:
        h, w = inputs[0].shape[2:]
        cx = {"h": h, "w": w, "flops": 0, "params": 0, "acts": 0}
        k, stride, padding = module.kernel_size[0], module.stride[0], module.padding[0]
        cx = net.complexity_conv2d(
            cx, module.in_channels, module.out_channels, k, stride, padding, bias=True
        )
        total["flops"] += cx["flops"]
        total["acts"] += cx["acts"]

    for conv in (model.conv1, model.conv2):
        conv.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.randn(1, *shape))
    arch = _arch(op, shape)
    assert {"flops": count(arch, "pycls").total, "acts": pycls_acts(arch)} == total


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_tensors_equal_the_modules(case: tuple[Op, Shape]) -> None:
    op, shape = case
    model, arch = _model(op, shape), _arch(op, shape)
    nodes = [data for _, data in arch.nodes()]
    assert sum(d["params"] for d in nodes) == sum(p.numel() for p in model.parameters())
    assert sum(d["buffers"] for d in nodes) == sum(b.numel() for b in model.buffers())
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert {name: t.shape for name, t in arch.state_dict().items()} == expected
    with torch.no_grad():
        assert (
            tuple(model(torch.randn(1, *shape)).shape[1:]) == arch.graph.nodes[arch.output]["shape"]
        )


@cache
def _torchvision_modules(name: str) -> list[Any]:
    models = pytest.importorskip("torchvision.models")
    return list(models.get_model(name).modules())


def _signature(module: Any) -> tuple[type, str, Any]:
    # Hardswish and Hardsigmoid leave `inplace` out of their repr.
    return (type(module), repr(module), getattr(module, "inplace", None))


@pytest.mark.parametrize(
    ("op", "model"),
    [
        (ReLU6(), "mobilenet_v2"),
        (SiLU(), "efficientnet_b0"),
        (Hardswish(), "mobilenet_v3_small"),
        (Hardsigmoid(), "mobilenet_v3_small"),
        (GELU(), "convnext_tiny"),
        (Dropout(0.2), "mobilenet_v2"),
        (Dropout(0.2, inplace=True), "mobilenet_v3_small"),
        (Dropout(0.5), "vgg11"),
        (AdaptiveAvgPool2d(7), "vgg11"),
    ],
)
def test_module_call_is_torchvisions(op: Op, model: str) -> None:
    """Every module of the op's type in the torchvision model is the one the op builds."""
    call = op.module_call()
    assert call is not None
    ours = _module(call)
    theirs = {_signature(m) for m in _torchvision_modules(model) if type(m) is type(ours)}
    assert theirs == {_signature(ours)}


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_generated_source_builds_the_module(case: tuple[Op, Shape]) -> None:
    op, _ = case
    call = op.module_call()
    if call is None:
        pytest.skip(f"{op!r} is an expression in forward")
    source = literal(call, lambda block: block.base_name)
    assert _signature(eval(source, {"nn": nn})) == _signature(_module(call))


def _saved_bytes(op: Op, shape: Shape, gate: bool = False) -> tuple[int, int]:
    """(bytes of the saved storages that are the network's feature maps, bytes of the others)
    autograd keeps in a training forward at batch 2; parameters left out."""
    model = _model(op, shape, gate).train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(torch.randn(2, *shape))
    named = sum(size for ptr, size in saved.items() if ptr in model.storages)
    return named, sum(saved.values()) - named


@pytest.mark.parametrize("gate", [False, True], ids=["", "gated"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_training_estimate_counts_the_saved_feature_maps(
    case: tuple[Op, Shape], gate: bool
) -> None:
    """Exact: the storages an op can name (its inputs and output) and the private ones."""
    op, shape = case
    named, private = _saved_bytes(op, shape, gate)
    assert estimate(_arch(op, shape, gate), batch=2).training_saved_bytes == named + private


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_only_the_documented_ops_save_private_tensors(case: tuple[Op, Shape]) -> None:
    """In-place ReLU6 / SiLU / Hardswish keep a clone of their input, dropout its mask: their
    private saved elements (Op.saved_private_elements), in bytes at batch 2, float32."""
    op, shape = case
    _, private = _saved_bytes(op, shape)
    assert (private > 0) == (op in PRIVATE_SAVES)
    output = _arch(op, shape).graph.nodes["op"]["shape"]
    assert private == 2 * 4 * op.saved_private_elements(output)


# ConvNeXt's ops (archspec/ir/ops/channels.py) in the chain of its block, between two convs:
# LayerNorm2d, to channels last, LayerNorm, linear over the last dim, GELU, linear, back to
# channels first, layer scale in both of its forms. The torch module is written from the ops'
# own constructors and forward calls, with the helper classes the generated file defines.
CONVNEXT_CHAINS: dict[str, list[Op]] = {
    "torchvision": [
        LayerNorm2d(WIDTH),
        Permute(),
        LayerNorm(WIDTH),
        Linear(WIDTH, 4 * WIDTH),
        GELU(),
        Linear(4 * WIDTH, WIDTH),
        Permute(channels_last=False),
        LayerScale(WIDTH),
    ],
    "timm": [
        Permute(),
        LayerNorm(WIDTH, eps=1e-5),
        Linear(WIDTH, WIDTH, bias=False),
        Permute(channels_last=False),
        LayerScale(WIDTH, 0.5, spatial=False),
        LayerNorm2d(WIDTH, eps=1e-5),
    ],
}


def _chain_arch(ops: list[Op], shape: Shape) -> ArchGraph:
    arch = ArchGraph("chain", "Chain", "", "", shape)
    b = Builder(arch)
    scope = Scope("", "stage1")
    x = b.add(Input(shape), [], Scope("", "input"), "input", module=False)
    x = b.add(Conv2d(shape[0], WIDTH, 3, padding=1, bias=True), [x], scope, "conv1")
    for index, op in enumerate(ops):
        x = b.add(op, [x], scope, f"op{index}")
    arch.output = b.add(Conv2d(WIDTH, 4, 1, bias=True), [x], scope, "conv2")
    return run_passes(arch)


def _chain_module(ops: list[Op], channels: int) -> Any:
    """The chain as generated code writes it: `self.opN = <module_call>`, `x = <forward_call>`."""
    lines = [
        "class Chain(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        f"        self.conv1 = nn.Conv2d({channels}, {WIDTH}, 3, padding=1)",
        f"        self.conv2 = nn.Conv2d({WIDTH}, 4, 1)",
    ]
    for index, op in enumerate(ops):
        call = op.module_call()
        assert call is not None
        lines.append(f"        self.op{index} = {literal(call, lambda block: block.base_name)}")
    lines += ["    def forward(self, x):", "        x = self.conv1(x)"]
    lines += [f"        x = {op.forward_call(f'op{i}', 'x')}" for i, op in enumerate(ops)]
    lines.append("        return self.conv2(x)")
    namespace: dict[str, Any] = {"torch": torch, "nn": nn, "Tensor": torch.Tensor}
    for source in helper_sources().values():
        exec(source, namespace)
    exec("\n".join(lines), namespace)
    torch.manual_seed(0)
    return namespace["Chain"]().eval()


@pytest.mark.parametrize("library", sorted(CONVNEXT_CHAINS))
def test_convnext_ops_count_as_the_tools(library: str) -> None:
    ops = CONVNEXT_CHAINS[library]
    x = torch.randn(1, *SHAPE)
    measured = {
        "fvcore": _fvcore(_chain_module(ops, SHAPE[0]), x),
        "ptflops": _ptflops(_chain_module(ops, SHAPE[0]), SHAPE, functional=True),
        "ptflops_modules": _ptflops(_chain_module(ops, SHAPE[0]), SHAPE, functional=False),
        "flop_counter": _flop_counter(_chain_module(ops, SHAPE[0]), x),
    }
    arch = _chain_arch(ops, SHAPE)
    assert {tool: count(arch, tool).total for tool in measured} == measured


@pytest.mark.parametrize("library", sorted(CONVNEXT_CHAINS))
def test_convnext_ops_tensors_and_shapes(library: str) -> None:
    ops = CONVNEXT_CHAINS[library]
    model, arch = _chain_module(ops, SHAPE[0]), _chain_arch(ops, SHAPE)
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert {name: t.shape for name, t in arch.state_dict().items()} == expected
    assert arch.state_dict()["op4" if library == "timm" else "op7"].shape in ((6,), (6, 1, 1))
    with torch.no_grad():
        out = model(torch.randn(1, *SHAPE))
    assert tuple(out.shape[1:]) == arch.graph.nodes[arch.output]["shape"]


@pytest.mark.parametrize("library", sorted(CONVNEXT_CHAINS))
def test_convnext_ops_training_estimate(library: str) -> None:
    """What autograd keeps: the named feature maps plus the layer norms' mean and rstd."""
    ops = CONVNEXT_CHAINS[library]
    model = _chain_module(ops, SHAPE[0]).train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(torch.randn(2, *SHAPE))
    arch = _chain_arch(ops, SHAPE)
    assert estimate(arch, batch=2).training_saved_bytes == sum(saved.values())


def test_convnext_ops_are_torchvisions() -> None:
    """The LayerNorms, linears and layer scale torchvision's CNBlock builds, and its Permutes."""
    models = pytest.importorskip("torchvision.models")
    block = models.convnext_tiny().features[1][0]
    ops = _chain_module(CONVNEXT_CHAINS["torchvision"][1:], WIDTH)
    norm = next(m for m in block.modules() if type(m) is nn.LayerNorm)
    assert (norm.eps, ops.op1.eps) == (1e-6, 1e-6)
    assert [p.dims for p in (block.block[1], block.block[6])] == [ops.op0.dims, ops.op5.dims]
    assert block.layer_scale.shape[1:] == ops.op6.shape[1:] == (1, 1)
