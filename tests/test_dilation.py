"""Dilated stages (output stride 8 / 16) and pre-activation projections, against the libraries.

Each case is a zoo spec plus one change, and the library model built with the matching
argument. A stage's first block reads its input at the previous stage's dilation in both
torchvision and timm; a spec that got this wrong loads strictly and differs only in its outputs,
so every case compares outputs (eval, randomised BN, non-square input) and MACs.
"""

from __future__ import annotations

from typing import Any

import pytest

from archspec.api import compile_text
from tests.conftest import SPECS
from tests.test_fidelity import flop_count, n_params, randomise_norms

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")

pytestmark = pytest.mark.slow

# (zoo spec, extra spec lines, library, model, library kwargs)
CASES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    (
        "resnet50",
        "output_stride: 16",
        "torchvision",
        "resnet50",
        {"replace_stride_with_dilation": [False, False, True]},
    ),
    (
        "resnext50_32x4d",
        "output_stride: 8",
        "torchvision",
        "resnext50_32x4d",
        {"replace_stride_with_dilation": [False, True, True]},
    ),
    ("resnet18", "output_stride: 8", "timm", "resnet18", {"output_stride": 8}),
    ("resnet34", "output_stride: 16", "timm", "resnet34", {"output_stride": 16}),
    ("resnet50d", "output_stride: 8", "timm", "resnet50d", {"output_stride": 8}),
    ("seresnet18", "output_stride: 8", "timm", "seresnet18", {"output_stride": 8}),
    ("seresnext50_32x4d", "output_stride: 8", "timm", "seresnext50_32x4d", {"output_stride": 8}),
    ("skresnet18", "output_stride: 8", "timm", "skresnet18", {"output_stride": 8}),
    ("skresnet34", "output_stride: 16", "timm", "skresnet34", {"output_stride": 16}),
    ("skresnext50_32x4d", "output_stride: 16", "timm", "skresnext50_32x4d", {"output_stride": 16}),
    ("resnest14d", "output_stride: 8", "timm", "resnest14d", {"output_stride": 8}),
    ("resnest26d", "output_stride: 16", "timm", "resnest26d", {"output_stride": 16}),
    ("resnetv2_50", "output_stride: 16", "timm", "resnetv2_50", {"output_stride": 16}),
    (
        "resnetv2_50",
        "stages: {block: preact_bottleneck, depth: [3, 4, 6, 3], "
        "width: [64, 128, 256, 512], downsample: avg}",
        "timm",
        "resnetv2_50",
        {"avg_down": True},
    ),
    (
        "resnetv2_50",
        "output_stride: 8\nstages: {block: preact_bottleneck, depth: [3, 4, 6, 3], "
        "width: [64, 128, 256, 512], downsample: avg}",
        "timm",
        "resnetv2_50",
        {"avg_down": True, "output_stride": 8},
    ),
]
PREACT_BASIC = "stages: {block: preact_basic, depth: [2, 2, 2, 2], width: [64, 128, 256, 512]}\n"
CASES += [
    ("resnetv2_50", PREACT_BASIC + "output_stride: 8", "timm", "resnetv2_18", {"output_stride": 8}),
    (
        "resnetv2_50",
        PREACT_BASIC + "output_stride: 16",
        "timm",
        "resnetv2_18",
        {"output_stride": 16},
    ),
]
IDS = [
    f"{zoo}-{model}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for zoo, _, _, model, kw in CASES
]


def spec_text(zoo: str, extra: str) -> str:
    """The zoo spec with `extra` replacing same-named top-level fields (or added)."""
    lines = (SPECS / f"{zoo}.yaml").read_text().splitlines()
    keys = {line.split(":")[0] for line in extra.splitlines()}
    kept, skipping = [], False
    for line in lines:
        key = line.split(":")[0]
        if not line.startswith((" ", "#")) and line:
            skipping = key in keys
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n" + extra + "\n"


def library_model(library: str, model: str, kwargs: dict[str, Any]) -> Any:
    torch.manual_seed(0)
    if library == "torchvision":
        return getattr(torchvision.models, model)(**kwargs)
    return timm.create_model(model, pretrained=False, **kwargs)


@pytest.mark.parametrize(("zoo", "extra", "library", "model", "kwargs"), CASES, ids=IDS)
def test_matches_library(
    zoo: str, extra: str, library: str, model: str, kwargs: dict[str, Any]
) -> None:
    compiled = compile_text(spec_text(zoo, extra), f"{zoo}_variant.yaml")
    ref = library_model(library, model, kwargs).eval()
    generated = compiled.to_module().eval()
    assert n_params(ref) == compiled.stats.totals.params == n_params(generated)
    randomise_norms(ref)
    generated.load_state_dict(ref.state_dict(), strict=True)
    torch.manual_seed(1)
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        torch.testing.assert_close(generated(x), ref(x), rtol=1e-4, atol=1e-4)
    with torch.device("meta"):
        meta = compiled.to_module().eval()
    assert (
        flop_count(meta, (3, 96, 128))
        == 2
        * compile_text(
            spec_text(zoo, extra).replace("input: [3, 224, 224]", "input: [3, 96, 128]"), "v.yaml"
        ).stats.totals.macs
    )


def test_explicit_columns_equal_output_stride() -> None:
    """The issue's table: stride [1, 2, 1, 1] + dilation [1, 1, 2, 4] is output stride 8."""
    columns = spec_text(
        "resnet50",
        "stages: {block: bottleneck, depth: [3, 4, 6, 3], width: [64, 128, 256, 512], "
        "stride: [1, 2, 1, 1], dilation: [1, 1, 2, 4]}",
    )
    derived = spec_text("resnet50", "output_stride: 8")
    a, b = compile_text(columns, "a.yaml"), compile_text(derived, "b.yaml")
    assert a.source().replace("a.yaml", "b.yaml") == b.source()
    assert a.stats.to_dict()["stages"] == b.stats.to_dict()["stages"]


def test_first_block_keeps_previous_dilation() -> None:
    """layer3.0.conv2 reads stage 2's output at dilation 1; layer3.1.conv2 at dilation 2."""
    model = compile_text(spec_text("resnet50", "output_stride: 8"), "x.yaml")
    with torch.device("meta"):
        module = model.to_module()
    assert module.layer3[0].conv2.dilation == (1, 1)
    assert module.layer3[1].conv2.dilation == (2, 2)
    assert module.layer4[0].conv2.dilation == (2, 2)
    assert module.layer4[1].conv2.dilation == (4, 4)


def test_receptive_field_of_dilated_network() -> None:
    """rf_out = rf_in + (k - 1) x dilation x stride_in over the 3x3s. Stage 3 of output stride 8:
    block 0 at dilation 1 adds 2 x 1 x 8, blocks 1-5 at dilation 2 add 2 x 2 x 8 each, so
    91 + 16 + 160 = 267; stage 4: 267 + 2 x 2 x 8 + 2 x (2 x 4 x 8) = 427. Dilation trades
    stride for field exactly, so the fields equal the plain network's; the strides don't."""
    stages = compile_text(spec_text("resnet50", "output_stride: 8"), "d.yaml").stats.to_dict()
    rows = [row for row in stages["stages"] if row["name"].startswith("stage")]
    assert [row["rf"] for row in rows] == [35, 91, 267, 427]
    assert [row["stride"] for row in rows] == [4, 8, 8, 8]
