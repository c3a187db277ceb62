"""The network's activation and norm (`act:` / `norm:`, timm's act_layer / norm_layer): the
standard library's residual kinds write act() and norm(), so a spec chooses them for the stem,
the blocks and the projections; SE keeps its own ReLU (as timm). Checked against timm and
torchvision models built with the same choice; misuse is a located error."""

from __future__ import annotations

import pytest
import yaml

from archspec.api import compile_text
from archspec.errors import SpecError
from tests.conftest import ROOT

RESNET50 = (ROOT / "specs" / "resnet50.yaml").read_text()


def _spec(extra: str, base: str = RESNET50) -> str:
    return base.replace("input: [3, 224, 224]", "input: [3, 224, 224]\n" + extra)


def _refusal(text: str) -> str:
    with pytest.raises(SpecError) as info:
        compile_text(text, "probe.yaml")
    return "\n".join(issue.render() for issue in info.value.issues)


def test_default_choice_is_the_network_as_before() -> None:
    plain = compile_text(RESNET50).source()
    chosen = compile_text(_spec("act: relu\nnorm: batch")).source()
    assert plain.split('"""', 2)[2] == chosen.split('"""', 2)[2]


def test_act_reaches_stem_blocks_not_se() -> None:
    text = _spec("act: silu").replace(
        "  width: [64, 128, 256, 512]", "  width: [64, 128, 256, 512]\n  attention: {type: se}"
    )
    source = compile_text(text).source()
    assert "self.relu = nn.SiLU(inplace=True)" in source
    assert "self.act = nn.ReLU(inplace=True)" in source  # SE's own
    assert "nn.ReLU(inplace=True)" in source.split("class SqueezeExcite")[1].split("class ")[0]


def test_group_norm_everywhere_and_no_fuse_pairs() -> None:
    compiled = compile_text(_spec("norm: {type: group, groups: 32}"))
    state = compiled.arch.state_dict()
    assert "bn1.running_mean" not in state and "bn1.weight" in state
    assert "layer1.0.downsample.1.weight" in state
    source = compiled.source()
    assert "nn.GroupNorm(32, width)" in source and "nn.BatchNorm2d(" not in source
    assert "fusible" not in source.split("class ResNet50")[0]


def test_a_stage_may_choose_its_own() -> None:
    text = _spec("").replace(
        "  width: [64, 128, 256, 512]",
        "  width: [64, 128, 256, 512]\n  act: [relu, relu, gelu, gelu]",
    )
    source = compile_text(text).source()
    assert "class Bottleneck(nn.Module):" in source and "class Bottleneck2(nn.Module):" in source
    assert source.count("nn.GELU()") == 1  # one class for stages 3 and 4


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("norm: {type: batch, groups: 4}", "`groups` applies to type: group only"),
        ("act: swish", "norm"),
        ("norm: instance", "expected 'batch', 'frozen_batch', 'group' or 'layer'"),
    ],
)
def test_bad_choices_are_located(extra: str, words: str) -> None:
    message = _refusal(_spec(extra))
    assert message.startswith("probe.yaml:9:"), message
    if words != "norm":
        assert words in message


def test_a_choice_nothing_takes_is_refused() -> None:
    mobilenet = (ROOT / "specs" / "mobilenet_v2.yaml").read_text()
    message = _refusal(_spec("act: silu", mobilenet))
    assert "act: no block of this network takes the network's activation" in message
    data = yaml.safe_load(mobilenet)
    data["stages"]["act"] = ["relu"] * len(data["stages"]["depth"])
    assert "stages.act[0]: no block of stage 1 takes" in _refusal(yaml.safe_dump(data))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "library", "kwargs"),
    [
        ("act: silu", "timm", {"act_layer": "silu"}),
        ("act: gelu", "timm", {"act_layer": "gelu"}),
        ("norm: frozen_batch", "torchvision", {"norm_layer": "frozen"}),
    ],
)
def test_choice_equals_the_library_model(extra: str, library: str, kwargs: dict[str, str]) -> None:
    torch = pytest.importorskip("torch")
    from tests.test_fidelity import randomise_norms

    if library == "timm":
        timm = pytest.importorskip("timm")
        reference = timm.create_model("resnet50", **kwargs)
    else:
        import torchvision
        from torchvision.ops.misc import FrozenBatchNorm2d

        reference = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
        for module in reference.modules():
            if isinstance(module, FrozenBatchNorm2d):
                module.running_var.uniform_(0.5, 1.5)
                module.running_mean.normal_(0, 0.1)
                module.weight.uniform_(0.5, 1.5)
    reference.eval()
    randomise_norms(reference)
    compiled = compile_text(_spec(extra))
    model = compiled.to_module().eval()
    assert sum(p.numel() for p in model.parameters()) == compiled.stats.totals.params
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 96, 72)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)
