"""Model layouts are data: the built-in ones name the reference libraries' modules, a bad layout
file gets a located error, and a new layout is a file, not a code change."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.api import Compiled
from archspec.errors import SpecError
from archspec.lower import lower
from archspec.passes import run_passes
from archspec.spec.layout import (
    MODULE_ATTRIBUTES,
    Layout,
    builtin_layout,
    builtin_names,
    load_layout,
    parse_layout,
    stdlib_dir,
)
from archspec.spec.load import read_spec
from tests.conftest import compiled

BUILTIN = [
    "pytorch_resnet_cifar10",
    "timm_convnext",
    "timm_densenet",
    "timm_efficientnet",
    "timm_mobilenet",
    "timm_mobilenet_v3",
    "timm_regnet",
    "timm_resnetv2",
    "timm_tf_efficientnet",
    "timm_tf_mobilenet_v3",
    "timm_vgg",
    "torchvision_convnext",
    "torchvision_densenet",
    "torchvision_efficientnet",
    "torchvision_flat",
    "torchvision_mobilenet_v3",
    "torchvision_regnet",
    "torchvision_resnet",
    "torchvision_vgg",
]


def test_builtin_layouts_load() -> None:
    assert builtin_names() == BUILTIN
    for name in BUILTIN:
        layout = builtin_layout(name)
        assert layout.name == name
        assert load_layout(stdlib_dir() / f"{name}.yaml") == layout


def _error(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_layout(text, "bad.yaml")
    return str(info.value)


RESNET_TEXT = (Path(stdlib_dir()) / "torchvision_resnet.yaml").read_text()


def test_code_in_a_name_is_refused_where_it_stands() -> None:
    text = RESNET_TEXT.replace("  fc: fc", "  fc: 'fc(); import os'")
    line = text.splitlines().index("  fc: 'fc(); import os'") + 1
    message = _error(text)
    assert message.startswith(f"bad.yaml:{line}:7: error: head.fc: ")
    assert "is not a name" in message
    assert "fix: " in message


def test_unknown_field_suggests_the_right_one() -> None:
    text = RESNET_TEXT.replace("  pool: avgpool", "  pol: avgpool")
    line = text.splitlines().index("  pol: avgpool") + 1
    message = _error(text)
    assert message.startswith(f"bad.yaml:{line}:3: error: head.pol: unknown field 'pol'")
    assert "did you mean 'pool'?" in message


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("path: layer{n}", "path: layer{m}", "placeholder {m} does not apply here"),
        ("path: layer{n}", "path: avgpool", "two parts of the layout are both named 'avgpool'"),
        ("  fc: fc", "  fc: forward", "'forward' is taken by nn.Module"),
        ("  fc: fc", "  fc: class", "is not a usable attribute name"),
        ("  fc: fc", "  fc: relu", "two parts of the layout are both named 'relu'"),
        ("  fc: fc", "  fc: head.fc", "must be a name, or `name.0`"),
        ("layout: 1", "layout: 2", "layout"),
    ],
)
def test_bad_layouts_are_refused(old: str, new: str, words: str) -> None:
    text = RESNET_TEXT.replace(old, new)
    assert text != RESNET_TEXT
    message = _error(text)
    assert message.startswith("bad.yaml:")
    assert words in message


def test_a_missing_layout_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_layout(tmp_path / "nope.yaml")
    assert "cannot read" in str(info.value)
    assert "torchvision_resnet" in str(info.value)


@pytest.mark.slow
def test_module_attributes_cover_torch_module() -> None:
    nn = pytest.importorskip("torch.nn")
    names = {*dir(nn.Module), *vars(nn.Module())}
    assert {name for name in names if not name.startswith("_")} <= MODULE_ATTRIBUTES


def _renamed(name: str, replacements: list[tuple[str, str]]) -> Layout:
    text = (Path(stdlib_dir()) / f"{name}.yaml").read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return parse_layout(text, f"{name}-renamed.yaml")


def _compile_with(spec_name: str, layout: Layout) -> Compiled:
    loaded = read_spec(Path("specs") / f"{spec_name}.yaml")
    return Compiled(loaded, run_passes(lower(loaded.spec, layout)))


@pytest.mark.slow
def test_a_new_layout_file_renames_the_state_dict(tmp_path: Path) -> None:
    """ResNet-18 under a layout written to a temporary file: `layer{n}` -> `block{n}`, `fc` ->
    `classifier`. torchvision's weights, keys renamed the same way, load strictly and give the
    same outputs; no Python changed."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    path = tmp_path / "renamed.yaml"
    text = RESNET_TEXT.replace("path: layer{n}", "path: block{n}").replace(
        "  fc: fc", "  fc: classifier"
    )
    path.write_text(text.replace("name: torchvision_resnet", "name: renamed"))
    result = _compile_with("resnet18", load_layout(path))

    torch.manual_seed(0)
    reference = torchvision.models.resnet18().eval()
    renamed = {
        key.replace("layer", "block", 1).replace("fc.", "classifier.", 1): value
        for key, value in reference.state_dict().items()
    }
    model = result.to_module().eval()
    model.load_state_dict(renamed, strict=True)
    assert list(result.arch.state_dict()) == list(model.state_dict()) == list(renamed)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


@pytest.mark.slow
def test_a_renamed_dense_layout_renames_layers_and_transitions() -> None:
    """The dense block class names its layers from the layout too."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    layout = _renamed(
        "torchvision_densenet",
        [("layer: denselayer{m}", "layer: unit{m}"), ("transition{n}", "trans{n}")],
    )
    result = _compile_with("densenet121", layout)
    reference = torchvision.models.densenet121().eval()
    renamed = {
        key.replace("denselayer", "unit").replace("transition", "trans"): value
        for key, value in reference.state_dict().items()
    }
    model = result.to_module().eval()
    model.load_state_dict(renamed, strict=True)
    assert set(result.arch.state_dict()) == set(renamed)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spec", "library", "model"),
    [
        ("resnet18", "torchvision", "resnet18"),
        ("densenet121", "torchvision", "densenet121"),
        ("resnetv2_50", "timm", "resnetv2_50"),
    ],
)
def test_builtin_layouts_name_the_reference_modules(spec: str, library: str, model: str) -> None:
    """Each built-in layout gives its family the reference library's state_dict keys."""
    module = pytest.importorskip(library)
    reference = (
        getattr(module.models, model)() if library == "torchvision" else module.create_model(model)
    )
    assert set(compiled(spec).arch.state_dict()) == set(reference.state_dict())


@pytest.mark.parametrize("name", BUILTIN)
def test_shipped_layouts_read_alike_with_and_without_positions(name: str) -> None:
    """Built-in layouts load through libyaml (start-up); the strict located reader (duplicate
    keys, tags) reads each file the same."""
    assert builtin_layout(name) == load_layout(stdlib_dir() / f"{name}.yaml")
