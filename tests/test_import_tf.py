"""`archspec import` of timm's TensorFlow ports (tf_efficientnet*, tf_mobilenetv3*): their
Conv2dSame convs (TensorFlow "same" padding, set by the input's size) read into the
`timm_tf_*` layouts' conv2d_same kinds, proven exact; the spec tf_efficientnet_b0 is the
imported network; a spec with torch's symmetric padding in their place is caught.

Every model here is built and run in torch, so the whole module is slow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archspec.api import compile_loaded
from archspec.importer.verify import randomise_norms, verify
from archspec.spec import parse_spec
from tests.conftest import SPECS
from tests.importing import network, run

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

pytestmark = pytest.mark.slow


def imported(name: str, tmp_path: Path) -> str:
    out = tmp_path / f"{name}.yaml"
    result = run(f"timm:{name}", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "exact", result.output
    return out.read_text()


def test_tf_efficientnet_b0_imports_exactly_as_the_zoo_spec(tmp_path: Path) -> None:
    text = imported("tf_efficientnet_b0", tmp_path)
    person = (SPECS / "tf_efficientnet_b0.yaml").read_text()
    assert network(text) == network(person)
    written, expected = parse_spec(text).spec, parse_spec(person).spec
    assert written.layout == expected.layout == "timm_tf_efficientnet"
    assert "eps: 0.001" in text


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        ("tf_efficientnetv2_b0", "timm_tf_efficientnet"),
        ("tf_mobilenetv3_small_100", "timm_tf_mobilenet_v3"),
    ],
)
def test_tf_ports_import_exactly(name: str, layout: str, tmp_path: Path) -> None:
    assert parse_spec(imported(name, tmp_path)).spec.layout == layout


def _built(text: str, model: Any) -> Any:
    randomise_norms(model)
    built = compile_loaded(parse_spec(text, "<t>")).to_module().eval()
    built.load_state_dict(model.state_dict(), strict=True)
    return built


@pytest.mark.parametrize("size", [(65, 47), (64, 49), (30, 31)])
def test_outputs_equal_at_any_input_size(size: tuple[int, int], tmp_path: Path) -> None:
    """The padding follows the input: odd sizes (symmetric "same" padding at stride 2) and
    even ones (the extra row or column after) alike, non-square."""
    model = timm.create_model("tf_efficientnet_b0").eval()
    built = _built(imported("tf_efficientnet_b0", tmp_path), model)
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, actual = model(x), built(x)
    assert torch.allclose(actual, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("name", "layout", "plain"),
    [
        ("tf_efficientnet_b0", "timm_tf_efficientnet", "timm_efficientnet"),
        ("tf_mobilenetv3_small_100", "timm_tf_mobilenet_v3", "timm_mobilenet_v3"),
    ],
)
def test_symmetric_padding_in_their_place_is_caught(
    name: str, layout: str, plain: str, tmp_path: Path
) -> None:
    """The importer's check input makes "same" padding asymmetric: the same spec with torch's
    padding loads strictly but differs, at the first conv that strides."""
    text = imported(name, tmp_path)
    model = timm.create_model(name).eval()
    assert verify(model, text) == ""
    swapped = text.replace(f"layout: {layout}", f"layout: {plain}")
    assert swapped != text
    assert verify(model, swapped) == "output of conv_stem (Conv2dSame) differs"


def test_a_tf_port_with_other_activations_names_the_padding(tmp_path: Path) -> None:
    """tf_efficientnet_lite0: ReLU6 with "same" padding has no tf kinds; nothing is written."""
    out = tmp_path / "x.yaml"
    result = run("timm:tf_efficientnet_lite0", "-o", str(out))
    assert result.exit_code == 1
    line = result.output.splitlines()[0]
    assert line.startswith("not importable: bn1: ReLU6 activation"), line
    assert "'same' padding (Conv2dSame)" in line and not out.exists()
