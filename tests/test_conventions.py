"""Conventions reproduce the real tools, exactly, on the generated models.

The tools (fvcore, ptflops with both settings, torch's FlopCounterMode, pycls) run on the
generated PyTorch models; archspec's analytic per-op rules must give the same totals.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
from typing import Any

import pytest

from archspec.conventions import CONVENTIONS, count, pycls_acts
from tests.conftest import compiled

torch = pytest.importorskip("torch")

MODELS = [
    "resnet50",
    "resnext50_32x4d",
    "densenet121",
    "seresnet50",
    "resnest50d",
    "skresnet18",
    "resnetv2_50",
    "resnet50d_os16",  # dilated avg-down: ZeroPad2d + stride-1 AvgPool2d
    "senet18_pytorch_cifar",
    "ecaresnet50d",  # ECA written as data: a Conv1d across the pooled channels
    "mobilenet_v2",  # flat layout, ReLU6, depthwise convs, functional pool, dropout
    "vgg11_bn",  # spliced flat layout, no stem, 7x7 adaptive pool, two hidden linears
    "mobilenet_v3_small",  # hard swish, SE with hard sigmoid, optional list items
    "regnet_y_400mf",  # named blocks `block1-0`, nested transform, SE module with avgpool
    "efficientnet_b0",  # SiLU, stochastic depth, nested features.N layout, tail conv
    "efficientnet_v2_s",  # fused-MBConv: full 3x3 expansion convs, optional list items
    "convnext_tiny",  # LayerNorm2d, channels-last LayerNorm and linears, layer scale, GELU
    "convnext_tiny_timm",  # timm's: gamma reshaped, the head's norm after the flatten
    "resnet50_gn",  # GroupNorm everywhere (the network's `norm:` choice)
    "res2net50_26w_4s",  # channel chunks, a cascade of adds, concatenation, avg-pool branch
    "resnet20_cifar",  # option-A shortcuts: strided slicing and zero channel padding
    "densenet_40_k12",  # the dense form without bottlenecks
    "tf_efficientnet_b0",  # TensorFlow "same" padding: Conv2dSame, which ptflops does not hook
]


def _model(name: str) -> tuple[Any, Any]:
    spec = compiled(name)
    torch.manual_seed(0)
    return spec, spec.to_module().eval()


def _fvcore(model: Any, x: Any) -> int:
    fvcore = pytest.importorskip("fvcore.nn")
    logging.disable(logging.WARNING)
    try:
        analysis = fvcore.FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return int(analysis.total())
    finally:
        logging.disable(logging.NOTSET)


def _ptflops(model: Any, shape: tuple[int, ...], functional: bool) -> int:
    ptflops = pytest.importorskip("ptflops")
    config = {} if functional else {"count_functional": False}
    with contextlib.redirect_stdout(io.StringIO()):
        macs, _ = ptflops.get_model_complexity_info(
            model,
            shape,
            as_strings=False,
            backend="pytorch",
            print_per_layer_stat=False,
            backend_specific_config=config,
        )
    return int(macs)


def _flop_counter(model: Any, x: Any) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return int(counter.get_total_flops())


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.slow
def test_conventions_equal_real_tools(name: str) -> None:
    spec, model = _model(name)
    shape = spec.arch.input_shape
    x = torch.randn(1, *shape)
    measured = {
        "fvcore": _fvcore(model, x),
        "ptflops": _ptflops(model, shape, functional=True),
        "ptflops_modules": _ptflops(model, shape, functional=False),
        "flop_counter": _flop_counter(model, x),
    }
    analytic = {tool: count(spec.arch, tool).total for tool in measured}
    assert analytic == measured


def test_issue_figures_for_resnet50() -> None:
    """The numbers measured by hand on torchvision's resnet50 (issue 4)."""
    arch = compiled("resnet50").arch
    totals = {name: count(arch, name).total for name in CONVENTIONS}
    assert totals == {
        "macs": 4_089_184_256,
        "flop_counter": 8_178_368_512,
        "fvcore": 4_111_512_576,
        "ptflops": 4_132_436_968,
        "ptflops_modules": 4_121_925_096,
        "pycls": 4_089_185_256,
    }
    assert pycls_acts(arch) == 11_315_688
    assert compiled("resnet50").stats.totals.acts == 11_114_984


def _pycls_resnet(groups: int, width_per_group: int) -> dict[str, int]:
    net = pytest.importorskip("pycls.core.net")
    cfg = importlib.import_module("pycls.core.config").cfg
    cfg.MODEL.DEPTH, cfg.MODEL.NUM_CLASSES = 50, 1000
    cfg.RESNET.TRANS_FUN, cfg.RESNET.STRIDE_1X1 = "bottleneck_transform", False
    cfg.RESNET.NUM_GROUPS, cfg.RESNET.WIDTH_PER_GROUP = groups, width_per_group
    cfg.TRAIN.DATASET, cfg.TRAIN.IM_SIZE = "imagenet", 224
    resnet = importlib.import_module("pycls.models.resnet")
    return dict(net.complexity(resnet.ResNet))


@pytest.mark.parametrize(
    ("name", "groups", "width"), [("resnet50", 1, 64), ("resnext50_32x4d", 32, 4)]
)
def test_pycls_convention_equals_pycls(name: str, groups: int, width: int) -> None:
    arch = compiled(name).arch
    pycls = _pycls_resnet(groups, width)
    assert count(arch, "pycls").total == pycls["flops"]
    assert pycls_acts(arch) == pycls["acts"]
    assert compiled(name).stats.totals.params == pycls["params"]


@pytest.mark.parametrize("name", ["densenet121", "seresnet50", "resnest50d"])
@pytest.mark.slow
def test_pycls_convention_equals_pycls_formulas_per_layer(name: str) -> None:
    """Nets pycls cannot build: apply pycls's own complexity_conv2d to every conv / linear
    the generated model runs (hooks give each layer's real input size)."""
    net = pytest.importorskip("pycls.core.net")
    spec, model = _model(name)
    total = 0

    def hook(module: Any, inputs: Any, output: Any) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Linear):
            cx = {"h": 1, "w": 1, "flops": 0, "params": 0, "acts": 0}
            cx = net.complexity_conv2d(
                cx, module.in_features, module.out_features, 1, 1, 0, bias=module.bias is not None
            )
        else:
            h, w = inputs[0].shape[2:]
            cx = {"h": h, "w": w, "flops": 0, "params": 0, "acts": 0}
            cx = net.complexity_conv2d(
                cx,
                module.in_channels,
                module.out_channels,
                module.kernel_size[0],
                module.stride[0],
                module.padding[0],
                module.groups,
                bias=module.bias is not None,
            )
            if module.dilation[0] != 1:  # pycls ignores dilation: size the output as torch does
                cx["flops"] = (cx["flops"] // (cx["h"] * cx["w"])) * output[0, 0].numel()
        total += cx["flops"]

    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.randn(1, *spec.arch.input_shape))
    assert count(spec.arch, "pycls").total == total


def test_breakdown_explains_the_difference() -> None:
    arch = compiled("seresnet50").arch
    fvcore, ptflops = count(arch, "fvcore"), count(arch, "ptflops")
    assert fvcore.by_category["norm"] == ptflops.by_category["norm"]
    assert "activation" not in fvcore.by_category
    assert ptflops.by_category["activation [se]"] > 0  # the SE ReLUs, counted twice
    assert sum(fvcore.by_category.values()) == fvcore.total
