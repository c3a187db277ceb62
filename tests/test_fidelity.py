"""The fidelity contract (DESIGN.md): generated models are the reference networks.

For each zoo spec with a reference: exact param count (reference == analytic == generated),
strict state_dict load from the reference, equal outputs in eval mode, and analytic MACs equal to
torch's FlopCounterMode / 2 on the generated model.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.conftest import ZOO, compiled

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

# Every test here runs models in torch or a long seeded campaign: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

REFERENCES: dict[str, tuple[str, str] | tuple[str, str, dict[str, Any]]] = {
    "resnet18": ("torchvision", "resnet18"),
    "resnet34": ("torchvision", "resnet34"),
    "resnet50": ("torchvision", "resnet50"),
    "resnet101": ("torchvision", "resnet101"),
    "resnext50_32x4d": ("torchvision", "resnext50_32x4d"),
    "resnext101_32x8d": ("torchvision", "resnext101_32x8d"),
    "wide_resnet50_2": ("torchvision", "wide_resnet50_2"),
    "resnet50d": ("timm", "resnet50d"),
    "ecaresnet50d": ("timm", "ecaresnet50d"),
    "resnet50_gn": ("timm", "resnet50_gn"),
    "resnetv2_50d": ("timm", "resnetv2_50d"),
    "densenet264d": ("timm", "densenet264d"),
    "mobilenet_v2": ("torchvision", "mobilenet_v2"),
    "mobilenet_v2_timm": ("timm", "mobilenetv2_100"),
    "efficientnet_b0": ("torchvision", "efficientnet_b0"),
    "efficientnet_b0_timm": ("timm", "efficientnet_b0"),
    "tf_efficientnet_b0": ("timm", "tf_efficientnet_b0"),
    "efficientnet_b1": ("torchvision", "efficientnet_b1"),
    "efficientnet_b2": ("torchvision", "efficientnet_b2"),
    "efficientnet_b3": ("torchvision", "efficientnet_b3"),
    "efficientnet_b4": ("torchvision", "efficientnet_b4"),
    "efficientnet_b5": ("torchvision", "efficientnet_b5"),
    "efficientnet_b6": ("torchvision", "efficientnet_b6"),
    "efficientnet_b7": ("torchvision", "efficientnet_b7"),
    "efficientnet_v2_s": ("torchvision", "efficientnet_v2_s"),
    "efficientnet_v2_m": ("torchvision", "efficientnet_v2_m"),
    "efficientnet_v2_l": ("torchvision", "efficientnet_v2_l"),
    "regnet_x_400mf": ("torchvision", "regnet_x_400mf"),
    "regnet_y_400mf": ("torchvision", "regnet_y_400mf"),
    "regnet_y_1_6gf": ("torchvision", "regnet_y_1_6gf"),
    "regnet_x_8gf": ("torchvision", "regnet_x_8gf"),
    "regnet_y_800mf": ("torchvision", "regnet_y_800mf"),
    "regnet_x_1_6gf": ("torchvision", "regnet_x_1_6gf"),
    "regnety_016": ("timm", "regnety_016"),
    "regnetx_004": ("timm", "regnetx_004"),
    "mobilenet_v3_large": ("torchvision", "mobilenet_v3_large"),
    "mobilenet_v3_small": ("torchvision", "mobilenet_v3_small"),
    "mobilenet_v3_large_timm": ("timm", "mobilenetv3_large_100"),
    "vgg11": ("torchvision", "vgg11"),
    "vgg11_bn": ("torchvision", "vgg11_bn"),
    "vgg13": ("torchvision", "vgg13"),
    "vgg13_bn": ("torchvision", "vgg13_bn"),
    "vgg16": ("torchvision", "vgg16"),
    "vgg16_bn": ("torchvision", "vgg16_bn"),
    "vgg16_bn_timm": ("timm", "vgg16_bn"),
    "vgg19": ("torchvision", "vgg19"),
    "vgg19_bn": ("torchvision", "vgg19_bn"),
    "resnet26": ("timm", "resnet26"),
    "resnet26t": ("timm", "resnet26t"),
    "resnetrs50": ("timm", "resnetrs50"),
    "resnet50t": ("timm", "resnet50t"),
    "seresnet18": ("timm", "seresnet18"),
    "seresnet50": ("timm", "seresnet50"),
    "seresnext50_32x4d": ("timm", "seresnext50_32x4d"),
    "skresnet18": ("timm", "skresnet18"),
    "skresnet34": ("timm", "skresnet34"),
    "skresnext50_32x4d": ("timm", "skresnext50_32x4d"),
    "resnest14d": ("timm", "resnest14d"),
    "resnest26d": ("timm", "resnest26d"),
    "resnest50d": ("timm", "resnest50d"),
    "resnetv2_50": ("timm", "resnetv2_50"),
    "densenet121": ("torchvision", "densenet121"),
    "densenet169": ("torchvision", "densenet169"),
    "densenet201": ("torchvision", "densenet201"),
    "convnext_tiny": ("torchvision", "convnext_tiny"),
    # The spec's stochastic depth (torchvision's 0.1; timm's default is 0): train mode.
    "convnext_tiny_timm": ("timm", "convnext_tiny", {"drop_path_rate": 0.1}),
    "convnext_small": ("torchvision", "convnext_small"),
    "convnext_base": ("torchvision", "convnext_base"),
    "convnext_large": ("torchvision", "convnext_large"),
    "resnet50_os8": (
        "torchvision",
        "resnet50",
        {"replace_stride_with_dilation": [False, True, True]},
    ),
    "resnet101_os16": ("timm", "resnet101", {"output_stride": 16}),
    "seresnet50_os16": ("timm", "seresnet50", {"output_stride": 16}),
    "resnetv2_50_os8": ("timm", "resnetv2_50", {"output_stride": 8}),
    "resnet50d_os16": ("timm", "resnet50d", {"output_stride": 16}),
    "res2net50_26w_4s": ("timm", "res2net50_26w_4s"),
    "res2net50_26w_6s": ("timm", "res2net50_26w_6s"),
    "res2net50_26w_8s": ("timm", "res2net50_26w_8s"),
    "res2net50_48w_2s": ("timm", "res2net50_48w_2s"),
    "res2net50_14w_8s": ("timm", "res2net50_14w_8s"),
    "res2net101_26w_4s": ("timm", "res2net101_26w_4s"),
    "res2next50": ("timm", "res2next50"),
}
UNREFERENCED = [name for name in ZOO if name not in REFERENCES]


def reference(name: str) -> Any:
    library, model, *options = REFERENCES[name]
    kwargs: dict[str, Any] = options[0] if options else {}
    torch.manual_seed(0)
    if library == "torchvision":
        import torchvision

        return getattr(torchvision.models, model)(**kwargs)
    timm = pytest.importorskip("timm")
    return timm.create_model(model, pretrained=False, **kwargs)


def n_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def meta_model(name: str) -> Any:
    with torch.device("meta"):
        return compiled(name).to_module()


def flop_count(model: Any, shape: tuple[int, ...]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, *shape, device="meta"))
    return int(counter.get_total_flops())


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_matches_reference(name: str) -> None:
    spec = compiled(name)
    ref = reference(name).eval()
    generated = spec.to_module().eval()
    analytic = spec.stats.totals.params
    assert n_params(ref) == analytic == n_params(generated)
    randomise_norms(ref)
    generated.load_state_dict(ref.state_dict(), strict=True)
    torch.manual_seed(1)
    c, h, w = spec.arch.input_shape
    x = torch.randn(2, c, h, w - w // 4)  # non-square: catches swapped H/W padding or pooling
    with torch.no_grad():
        torch.testing.assert_close(generated(x), ref(x), rtol=1e-4, atol=1e-4)


def randomise_norms(model: Any) -> None:
    """BN statistics and affine parameters away from their init (mean 0, var 1, identity), so a
    misplaced or missing norm changes the output; so are LayerNorm's affine parameters and
    ConvNeXt's layer scale (1e-6 at init, which would hide its block's branch)."""
    generator = torch.Generator().manual_seed(3)
    for name, param in model.named_parameters():
        if name.rsplit(".", 1)[-1] in ("layer_scale", "gamma"):
            with torch.no_grad():
                param.copy_(torch.rand(param.shape, generator=generator) + 0.5)
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm) and module.elementwise_affine:
            with torch.no_grad():
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            with torch.no_grad():
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                if module.affine:
                    module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                    module.bias.copy_(torch.randn(n, generator=generator) * 0.1)


@pytest.mark.parametrize("name", ZOO)
def test_macs_equal_flop_counter(name: str) -> None:
    spec = compiled(name)
    model = meta_model(name).eval()
    assert flop_count(model, spec.arch.input_shape) == 2 * spec.stats.totals.macs


@pytest.mark.parametrize("name", ZOO)
def test_state_dict_equals_analytic(name: str) -> None:
    spec = compiled(name)
    model = meta_model(name)
    actual = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    expected = {key: tensor.shape for key, tensor in spec.arch.state_dict().items()}
    assert actual == expected
    trainable = sum(t.numel for t in spec.arch.state_dict().values() if t.trainable)
    assert n_params(model) == trainable == spec.stats.totals.params


@pytest.mark.parametrize("name", UNREFERENCED)
def test_unreferenced_output_shapes(name: str) -> None:
    """Specs without a library reference: run them; shapes and taps equal the analytic ones."""
    spec = compiled(name)
    model = meta_model(name).eval()
    with torch.no_grad():
        out = model(torch.empty(2, *spec.arch.input_shape, device="meta"))
    graph = spec.arch.graph
    if spec.arch.taps:
        assert list(out) == list(spec.arch.taps) + (["logits"] if spec.loaded.spec.head else [])
        for tap, node in spec.arch.taps.items():
            assert tuple(out[tap].shape) == (2, *graph.nodes[node]["shape"])
    else:
        assert tuple(out.shape) == (2, *graph.nodes[spec.arch.output]["shape"])


def test_real_forward_of_cifar_model() -> None:
    """A real (CPU) forward, not only meta shapes, for a model with no reference library."""
    spec = compiled("resnet18_cifar")
    model = spec.to_module().eval()
    with torch.no_grad():
        out = model(torch.randn(4, 3, 32, 32))
    assert out.shape == (4, 10) and bool(torch.isfinite(out).all())
    assert math.isclose(spec.stats.totals.params, 11_173_962)


def test_backbone_taps_on_cpu() -> None:
    spec = compiled("resnet50_c5_backbone")
    model = spec.to_module().eval()
    with torch.no_grad():
        taps = model(torch.randn(1, 3, 128, 128))
    strides = {key: 128 // value.shape[-1] for key, value in taps.items()}
    assert strides == {"stem": 4, "stage1": 4, "stage2": 8, "stage3": 16, "stage4": 32}
    assert [value.shape[1] for value in taps.values()] == [64, 256, 512, 1024, 2048]


def test_densenet_bc_matches_paper_table() -> None:
    """Huang et al. 2017, Table 2: DenseNet-BC (L=100, k=12) has 0.8M parameters."""
    params = compiled("densenet_bc_100_k12").stats.totals.params
    assert round(params / 1e6, 1) == 0.8
    assert params == 769_162  # the count every faithful implementation reports
