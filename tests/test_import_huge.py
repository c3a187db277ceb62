"""Bad and extreme input to `archspec import`: a model too large to import is refused as bad
input (exit 2); a model of thousands of children gets a short, located verdict and nothing is
written; a network whose activations overflow float32 is still proven equal (in float64), not
called "not exact"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from archspec.cli import app
from tests.conftest import ROOT

pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytestmark = pytest.mark.slow
MODELS = ROOT / "tests" / "fixtures" / "import_huge_models.py"


def _import(factory: str, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["import", f"{MODELS}:{factory}", "-o", str(out)])
    return result.exit_code, result.output


def test_thousands_of_children_get_a_short_verdict(tmp_path: Path) -> None:
    out = tmp_path / "spec.yaml"
    code, output = _import("many_children", out)
    assert code == 1 and not out.exists()
    assert "not importable: (model): Sequential (children: 0, 1, 2" in output
    assert "... and 4992 more) is in no layout archspec knows" in output
    assert len(output) < 300


def test_activations_beyond_float32_are_compared_in_float64(tmp_path: Path) -> None:
    out = tmp_path / "spec.yaml"
    code, output = _import("overflowing_resnet18", out)
    assert code == 0, output
    assert output.splitlines()[0] == "exact"
    assert "block: basic" in out.read_text()


def test_a_model_too_large_is_bad_input(tmp_path: Path) -> None:
    out = tmp_path / "spec.yaml"
    code, output = _import("too_many_modules", out)
    assert code == 2 and not out.exists()
    assert (
        "too_many_modules: error: (model): has 24,001 modules; archspec imports at most" in output
    )
