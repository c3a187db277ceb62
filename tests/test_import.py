"""`archspec import`: library and user models become specs, proven equal, or an honest verdict.

Every model here is built and run in torch, so the whole module is slow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from archspec.cli import app
from archspec.spec import parse_spec
from tests.conftest import ROOT, SPECS

pytest.importorskip("torch")
pytest.importorskip("timm")

pytestmark = pytest.mark.slow

runner = CliRunner()
FIXTURE = "tests/fixtures/import_custom_model.py"
EXPECTED_EXACT = ROOT / "tests" / "fixtures" / "import_survey_expected.txt"
# Stage fields a person leaves out when they hold their default.
DEFAULTS = ("groups: 1\n", "base_width: 64", "dilation: 1\n", "downsample: conv", "stride_at")


def meant(row: Any) -> dict[str, Any]:
    """A stage row with SK's `split_input` default spelled out (the zoo writes it)."""
    data: dict[str, Any] = row.model_dump()
    attention = data.get("attention") or {}
    if attention.get("type") == "sk" and attention.get("split_input") is None:
        attention["split_input"] = row.block == "basic"
    return data


def run(*args: str) -> Any:
    return runner.invoke(app, ["import", *args])


@pytest.mark.parametrize(
    ("source", "zoo"),
    [
        ("torchvision:resnet50", "resnet50"),
        ("torchvision:wide_resnet50_2", "wide_resnet50_2"),
        ("timm:resnet50d", "resnet50d"),
        ("timm:ecaresnet50d", "ecaresnet50d"),
        ("timm:resnet26t", "resnet26t"),
        ("timm:resnetrs50", "resnetrs50"),
        ("timm:skresnet18", "skresnet18"),
        ("timm:resnest14d", "resnest14d"),
        ("timm:resnetv2_50", "resnetv2_50"),
        ("torchvision:densenet121", "densenet121"),
    ],
)
def test_imports_exactly_as_the_zoo_writes_it(source: str, zoo: str, tmp_path: Path) -> None:
    out = tmp_path / f"{zoo}.yaml"
    result = run(source, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "exact" in result.output.splitlines()[0]
    text = out.read_text()
    written = parse_spec(text, str(out)).spec
    person = parse_spec((SPECS / f"{zoo}.yaml").read_text()).spec
    assert [meant(row) for row in written.stages] == [meant(row) for row in person.stages]
    assert (written.stem, written.head, written.final_norm) == (
        person.stem,
        person.head,
        person.final_norm,
    )
    data = yaml.safe_load(text)
    assert isinstance(data["stages"], dict)  # columnar
    assert data["reference"] == source.replace(":", ".models.")
    assert not any(default in text for default in DEFAULTS)


def test_seresnext26d_written_as_a_person_would(tmp_path: Path) -> None:
    out = tmp_path / "s.yaml"
    assert run("timm:seresnext26d_32x4d", "-o", str(out)).exit_code == 0
    stages = yaml.safe_load(out.read_text())["stages"]
    assert stages == {
        "block": "bottleneck",
        "depth": [2, 2, 2, 2],
        "width": [64, 128, 256, 512],
        "groups": 32,
        "base_width": 4,
        "downsample": "avg",
        "attention": {"type": "se"},
    }


def test_user_block_class_with_library_member_names_is_exact(tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    result = run(f"{FIXTURE}:my_resnet", "-o", str(out))
    assert result.exit_code == 0, result.output
    spec = parse_spec(out.read_text()).spec
    assert [row.depth for row in spec.stages] == [2, 2, 2, 2]
    assert spec.head is not None and spec.head.num_classes == 10


@pytest.mark.parametrize(
    ("factory", "verdict"),
    [
        ("plain_sum_resnet", "imported, not exact: output of layer1."),
    ],
)
def test_honest_verdicts_write_nothing(factory: str, verdict: str, tmp_path: Path) -> None:
    out = tmp_path / "x.yaml"
    result = run(f"{FIXTURE}:{factory}", "-o", str(out))
    assert result.exit_code == 1
    assert result.output.startswith(verdict), result.output
    assert not out.exists()


def test_force_writes_a_mismatch_with_the_reason_on_top(tmp_path: Path) -> None:
    out = tmp_path / "x.yaml"
    result = run(f"{FIXTURE}:plain_sum_resnet", "-o", str(out), "--force")
    assert result.exit_code == 1
    text = out.read_text()
    assert text.startswith("# archspec import: imported, not exact: output of layer1.")
    parse_spec(text)  # still a valid spec


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (f"{FIXTURE}:broken", "broken() raised ValueError: checkpoint path not configured"),
        (f"{FIXTURE}:not_a_module", "not_a_module() returned dict, not a torch.nn.Module"),
        (f"{FIXTURE}:NOT_CALLABLE", "'NOT_CALLABLE' is a int, not a callable"),
        (f"{FIXTURE}:missing", "has no 'missing'"),
        ("tests/fixtures/no_such_file.py:f", "no such file"),
        ("no_such_package.mod:f", "cannot import no_such_package"),
        ("timm:resnet5O", "timm has no model 'resnet5O' (did you mean resnet50"),
        ("torchvision:resnet", "torchvision has no classification model 'resnet'"),
        ("resnet50", "expected torchvision:NAME"),
    ],
)
def test_bad_input_exits_2_located_and_writes_nothing(
    source: str, message: str, tmp_path: Path
) -> None:
    out = tmp_path / "x.yaml"
    result = run(source, "-o", str(out))
    assert result.exit_code == 2
    assert f"{source}: error: " in result.output and message in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


def test_a_raising_factory_names_its_frame() -> None:
    result = run(f"{FIXTURE}:broken")
    assert "import_custom_model.py:" in result.output and "in broken" in result.output


def test_survey_of_the_fixed_sample_stays_exact(tmp_path: Path) -> None:
    names = EXPECTED_EXACT.read_text().split()
    assert len(names) >= 40
    table = tmp_path / "survey.csv"
    result = run("--survey", "timm", "--models", str(EXPECTED_EXACT), "-o", str(table))
    assert result.exit_code == 0, result.output
    rows = {line.split(",")[0]: line for line in table.read_text().splitlines()[1:]}
    not_exact = [rows[name] for name in names if ",exact," not in rows[name]]
    assert not not_exact
    assert f"{len(names)} of {len(names)} timm CNN models import exactly" in result.output
