"""Every command and exit code, through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archspec.cli import app
from tests.conftest import GENERATED, ROOT

runner = CliRunner()


def run(*args: str) -> object:
    return runner.invoke(app, list(args))


def test_build_writes_generated_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", "specs/resnet18.yaml", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "resnet18.py").read_bytes()
    assert written == (GENERATED / "resnet18.py").read_bytes()
    assert f"wrote {tmp_path / 'resnet18.py'}" in result.stdout


def test_build_check_exit_codes(tmp_path: Path) -> None:
    args = ["build", "specs/resnet18.yaml", "--out", str(tmp_path)]
    missing = runner.invoke(app, [*args, "--check"])
    assert missing.exit_code == 1
    assert "stale or missing; run: archspec build specs/resnet18.yaml" in missing.stderr
    assert not list(tmp_path.iterdir()), "--check writes nothing"
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, [*args, "--check"]).exit_code == 0
    (tmp_path / "resnet18.py").write_text("# edited\n")
    assert runner.invoke(app, [*args, "--check"]).exit_code == 1


@pytest.mark.slow  # the whole zoo; CI's `archspec build specs/*.yaml --check` too
def test_build_check_of_the_zoo_is_clean() -> None:
    specs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.yaml"))
    result = runner.invoke(app, ["build", *specs, "--check"])
    assert result.exit_code == 0, result.stderr


def test_stats_table_side_by_side() -> None:
    specs = ["specs/resnet50.yaml", "specs/resnext50_32x4d.yaml"]
    result = runner.invoke(app, ["stats", *specs, "--exact"])
    assert result.exit_code == 0
    assert "25,557,032" in result.stdout and "25,028,904" in result.stdout
    assert "4,089,184,256" in result.stdout and "4,230,479,872" in result.stdout


def test_stats_json_per_layer() -> None:
    result = runner.invoke(app, ["stats", "specs/resnet50.yaml", "--per-layer", "--format", "json"])
    document = json.loads(result.stdout)
    assert document["format"] == 1 and len(document["models"]) == 1
    doc = document["models"][0]
    assert doc["totals"] == {
        "params": 25_557_032,
        "buffers": 53_173,
        "macs": 4_089_184_256,
        "acts": 11_114_984,
        "flops": 8_178_368_512,
    }
    conv1 = next(layer for layer in doc["layers"] if layer["path"] == "conv1")
    assert conv1 == {
        "path": "conv1",
        "op": "conv",
        "shape": [64, 112, 112],
        "params": 9408,
        "macs": 118_013_952,
        "acts": 802_816,
        "stage": "stem",
        "block": "",
        "rf": 7,
        "stride": 2,
    }
    assert sum(layer["macs"] for layer in doc["layers"]) == doc["totals"]["macs"]
    assert [s["name"] for s in doc["stages"]] == [
        "stem",
        "stage1",
        "stage2",
        "stage3",
        "stage4",
        "head",
    ]


def test_stats_csv_and_markdown() -> None:
    text = runner.invoke(app, ["stats", "specs/resnet18.yaml", "--format", "csv"]).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    stage1 = next(r for r in rows if r["section"] == "stage" and r["name"] == "stage1")
    shown = {k: stage1[k] for k in ("module", "stage", "kind", "depth", "shape", "params", "macs")}
    assert shown == {
        "module": "layer1",
        "stage": "stage1",
        "kind": "basic",
        "depth": "2",
        "shape": "64x56x56",
        "params": "147968",
        "macs": "462422016",
    }
    assert (stage1["acts"], stage1["rf"], stage1["stride"]) == ("802816", "43", "4")
    md = runner.invoke(app, ["stats", "specs/resnet18.yaml", "--format", "markdown"]).stdout
    assert "| Params | 11.69 M |" in md
    exact = ["stats", "specs/resnet18.yaml", "--format", "markdown", "--exact"]
    assert "| Params | 11,689,512 |" in runner.invoke(app, exact).stdout


def test_validate_ok_and_schema() -> None:
    result = runner.invoke(app, ["validate", "specs/resnet18.yaml"])
    assert result.exit_code == 0
    assert "ok: specs/resnet18.yaml" in result.stdout
    schema = json.loads(runner.invoke(app, ["schema"]).stdout)
    assert "stages" in schema["properties"] and "StageTable" in schema["$defs"]


@pytest.mark.slow
def test_schema_accepts_zoo_specs() -> None:
    jsonschema = __import__("pytest").importorskip("jsonschema")
    import yaml

    schema = json.loads(runner.invoke(app, ["schema"]).stdout)
    for path in (ROOT / "specs").glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_diagram_writes_dot_and_svg(tmp_path: Path) -> None:
    result = runner.invoke(app, ["diagram", "specs/resnet18.yaml", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "resnet18.dot").read_text().startswith("digraph resnet18")
    svg = (tmp_path / "resnet18.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "layer4.1" in svg


@pytest.mark.slow
def test_diagram_png_and_levels(tmp_path: Path) -> None:
    for level in ("stage", "layer"):
        result = runner.invoke(
            app,
            [
                "diagram",
                "specs/resnet18.yaml",
                "--level",
                level,
                "--format",
                "png",
                "--out",
                str(tmp_path),
            ],
        )
        assert result.exit_code == 0, result.output
        assert (tmp_path / f"resnet18.{level}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_usage_errors_exit_2() -> None:
    assert run("build").exit_code == 2  # type: ignore[attr-defined]
    assert run("stats", "specs/resnet18.yaml", "--format", "xml").exit_code == 2  # type: ignore[attr-defined]
    missing = run("validate", "specs/nope.yaml")
    assert missing.exit_code == 2  # type: ignore[attr-defined]
    assert "specs/nope.yaml: error: cannot read" in missing.stderr  # type: ignore[attr-defined]


def test_unwritable_out_is_a_clean_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["build", "specs/resnet18.yaml", "--out", str(blocker / "x")])
    assert result.exit_code == 2
    assert "cannot write here" in result.stderr


@pytest.mark.slow
def test_fast_commands_do_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from archspec.cli import app\n"
        "for args in (['build', 'specs/resnet50.yaml', '--out', sys.argv[1]],\n"
        "             ['stats', 'specs/resnet50.yaml'], ['validate', 'specs/resnet50.yaml'],\n"
        "             ['diagram', 'specs/resnet50.yaml', '--out', sys.argv[1]]):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, exc.code\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_python_api_mirrors_the_cli() -> None:
    import archspec

    net = archspec.compile_file("specs/resnet18.yaml")
    assert net.stats.totals.params == 11_689_512
    assert net.source() == (GENERATED / "resnet18.py").read_text()
    assert net.dot("stage").startswith("digraph resnet18")
