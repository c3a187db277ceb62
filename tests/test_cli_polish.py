"""Daily use (issue 14): name and version, help, completion, units, JSON/CSV shapes, --set,
unchanged files, where diagrams go, diagram goldens, the plot's resolutions."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import archspec
from archspec import distribution
from archspec.cli import app
from archspec.emit.units import bytes_text, count_text
from tests.conftest import ROOT

runner = CliRunner()
DIST = "archspec-cnn"
# torchvision's figures (README zoo table): resnet50 / resnet18 parameters and MACs at 224.
RESNET50_PARAMS, RESNET50_MACS = 25_557_032, 4_089_184_256
RESNET18_PARAMS, RESNET18_MACS = 11_689_512, 1_814_073_344
SPEC_COMMANDS = ("build", "stats", "diagram", "validate")


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args))


def stats_json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["stats", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, object] = json.loads(result.stdout)
    return doc


def stats_csv(*args: str) -> list[dict[str, str]]:
    result = runner.invoke(app, ["stats", *args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


# --- name, version, the other `archspec` -----------------------------------------------------


def test_version_comes_from_the_installed_metadata() -> None:
    installed = metadata.version(DIST)
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"{DIST} {installed}\n"
    assert archspec.__version__ == installed


def test_version_without_metadata_is_marked_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert distribution.version.__wrapped__() == "0+unknown"


def test_the_other_archspec_is_named_not_a_traceback(tmp_path: Path) -> None:
    """The system-architecture library (conda, Spack) imports as `archspec` too: an
    `archspec/__init__.py` holding only `__version__`, as its 0.2.7 wheel has."""
    other = tmp_path / "archspec"
    other.mkdir()
    (other / "__init__.py").write_text(
        '"""Init file to avoid namespace packages"""\n\n__version__ = "0.2.7"\n'
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-c", "import archspec_cnn; archspec_cnn.main()", "build", "x.yaml"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "version 0.2.7" in result.stderr and str(other) in result.stderr
    assert "conda" in result.stderr and f"pip install {DIST}" in result.stderr


def test_the_launcher_recognises_this_package_without_blaming_it(tmp_path: Path) -> None:
    import archspec_cnn

    assert archspec_cnn.foreign_archspec() is None
    # A copy of ours that fails to import is a bug to report, not the other project.
    broken = tmp_path / "archspec"
    broken.mkdir()
    for name in ("__init__.py", "api.py"):
        shutil.copy(ROOT / "archspec" / name, broken)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-c", "import archspec_cnn; print(archspec_cnn.foreign_archspec())"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "None\n"


@pytest.mark.slow
def test_the_launcher_runs_our_cli() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, archspec_cnn; sys.argv[1:] = ['--version']; archspec_cnn.main()",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{DIST} ")


@pytest.mark.slow
def test_to_module_without_torch_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "from archspec import compile_file\n"
        "try:\n"
        "    compile_file('specs/resnet18.yaml').to_module()\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert f"pip install '{DIST}[torch]'" in result.stdout


# --- help and completion ---------------------------------------------------------------------


COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_every_command_is_checked() -> None:
    assert set(SPEC_COMMANDS) | {"diff", "schema"} <= set(COMMANDS)


@pytest.mark.parametrize("command", [*COMMANDS, None])
def test_help_reads_like_ruff(command: str | None) -> None:
    args = [command, "--help"] if command else ["--help"]
    result = runner.invoke(app, args, prog_name="archspec")
    assert result.exit_code == 0
    text = result.stdout
    for noise in ("<bool>", "<list", "list[", "<path>", "{spec", "<int"):
        assert noise not in text, f"{noise!r} in the help of {command}"
    if command in SPEC_COMMANDS:
        assert f"Usage: archspec {command} [OPTIONS] SPEC..." in text
        assert "KEY=VALUE" in text  # --set is on every spec command
    if command in ("build", "diagram"):
        assert "DIR" in text


def test_shell_completion_is_offered() -> None:
    assert "--install-completion" in runner.invoke(app, ["--help"]).stdout
    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="archspec")
    assert result.exit_code == 0
    assert "_ARCHSPEC_COMPLETE" in result.stdout and "complete" in result.stdout


# --- units -----------------------------------------------------------------------------------


def test_units() -> None:
    assert [count_text(n) for n in (999, 1000, RESNET50_PARAMS, RESNET50_MACS)] == [
        "999",
        "1.00 K",
        "25.56 M",
        "4.09 G",
    ]
    assert [bytes_text(n) for n in (1023, 1536, 3 * 2**30)] == ["1023 B", "1.5 KiB", "3.0 GiB"]


def test_tables_show_human_units_and_exact_on_request() -> None:
    args = ["stats", "specs/resnet50.yaml", "--batch", "8", "--dtype", "float16"]
    human = runner.invoke(app, args).stdout
    assert "25.56 M" in human and "4.09 G" in human and "25,557,032" not in human
    # float16 parameters: 2 bytes each.
    assert f"{2 * RESNET50_PARAMS / 2**20:.1f} MiB" in human
    exact = runner.invoke(app, [*args, "--exact"]).stdout
    assert f"{RESNET50_PARAMS:,}" in exact and f"{2 * RESNET50_PARAMS:,}" in exact


# --- JSON and CSV ----------------------------------------------------------------------------


def test_json_has_one_versioned_shape() -> None:
    one = stats_json("specs/resnet50.yaml")
    two = stats_json("specs/resnet50.yaml", "specs/resnet18.yaml")
    assert one["format"] == two["format"] == 1
    assert set(one) == set(two) == {"format", "models"}
    models = two["models"]
    assert isinstance(models, list)
    assert [m["name"] for m in models] == ["resnet50", "resnet18"]
    assert [m["totals"]["params"] for m in models] == [RESNET50_PARAMS, RESNET18_PARAMS]
    assert one["models"] == models[:1]


def test_csv_is_complete_and_tidy() -> None:
    rows = stats_csv("specs/resnet50.yaml", "--batch", "8", "-c", "fvcore")
    assert len({tuple(row) for row in rows}) == 1  # one header for every row
    totals = {r["quantity"]: int(r["value"]) for r in rows if r["section"] == "totals"}
    assert totals["params"] == RESNET50_PARAMS and totals["macs"] == RESNET50_MACS
    assert totals["flops"] == 2 * RESNET50_MACS
    memory = {r["quantity"]: r for r in rows if r["section"] == "memory"}
    assert int(memory["params_bytes"]["value"]) == 4 * RESNET50_PARAMS  # float32
    assert (memory["params_bytes"]["batch"], memory["params_bytes"]["dtype"]) == ("8", "float32")
    fvcore = [r for r in rows if r["section"] == "convention" and r["quantity"] == "total"]
    # fvcore 0.1.5's FlopCountAnalysis total (README; measured in test_conventions).
    assert [(r["name"], int(r["value"])) for r in fvcore] == [("fvcore", 4_111_512_576)]
    stages = [r for r in rows if r["section"] == "stage"]
    assert sum(int(r["macs"]) for r in stages) == RESNET50_MACS


def test_per_layer_csv_names_stage_and_block() -> None:
    rows = stats_csv("specs/resnet50.yaml", "--per-layer", "--per-block")
    layers = {r["name"]: r for r in rows if r["section"] == "layer"}
    assert (layers["conv1"]["stage"], layers["conv1"]["block"]) == ("stem", "")
    conv = layers["layer3.2.conv2"]
    assert (conv["stage"], conv["block"], conv["op"]) == ("stage3", "layer3.2", "conv")
    assert sum(int(r["macs"]) for r in layers.values()) == RESNET50_MACS
    blocks = [r for r in rows if r["section"] == "block"]
    assert sum(int(r["params"]) for r in blocks) == RESNET50_PARAMS
    assert {r["stage"] for r in blocks if r["module"].startswith("layer2.")} == {"stage2"}


def test_per_layer_and_per_block_together_show_both() -> None:
    args = ["stats", "specs/resnet18.yaml", "--per-layer", "--per-block"]
    text = runner.invoke(app, args).stdout
    assert "per block" in text and "per layer" in text
    model = stats_json("specs/resnet18.yaml", "--per-layer", "--per-block")["models"][0]
    assert "blocks" in model and "layers" in model


# --- files: unchanged, where diagrams go, the diagram goldens ---------------------------------


def test_rebuilding_an_unchanged_spec_says_unchanged(tmp_path: Path) -> None:
    args = ["build", "specs/resnet18.yaml", "--out", str(tmp_path)]
    assert f"wrote {tmp_path / 'resnet18.py'}" in runner.invoke(app, args).stdout
    before = (tmp_path / "resnet18.py").stat().st_mtime_ns
    again = runner.invoke(app, args)
    assert again.stdout == f"unchanged {tmp_path / 'resnet18.py'}\n"
    assert (tmp_path / "resnet18.py").stat().st_mtime_ns == before


def test_diagrams_go_to_an_ignored_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "specs").mkdir()
    shutil.copy(ROOT / "specs" / "resnet18.yaml", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["diagram", "specs/resnet18.yaml", "--format", "dot"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "build" / "diagrams" / "resnet18.dot").is_file()
    assert not (tmp_path / "generated").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_readme_outputs_are_ignored_by_git() -> None:
    outputs = ["build/diagrams/resnet50.svg", "build/zoo.png", "archspec.schema.json"]
    result = subprocess.run(
        ["git", "check-ignore", *outputs], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == outputs


def _golden_tree(tmp_path: Path) -> None:
    """specs/resnet18.yaml and its committed goldens, in a scratch repository root."""
    goldens = tmp_path / "generated" / "diagrams"
    goldens.mkdir(parents=True)
    (tmp_path / "specs").mkdir()
    shutil.copy(ROOT / "specs" / "resnet18.yaml", tmp_path / "specs")
    for path in (ROOT / "generated" / "diagrams").glob("resnet18.*.dot"):
        shutil.copy(path, goldens)


def test_diagram_check_and_golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _golden_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    goldens = tmp_path / "generated" / "diagrams"
    check = ["diagram", "specs/resnet18.yaml", "--check"]
    assert runner.invoke(app, check).exit_code == 0
    (goldens / "resnet18.stage.dot").write_text("digraph stale {}\n")
    (goldens / "gone.block.dot").write_text("digraph gone {}\n")
    stale = runner.invoke(app, check)
    assert stale.exit_code == 1
    assert "generated/diagrams/resnet18.stage.dot: stale" in stale.stderr
    assert "generated/diagrams/gone.block.dot: stale" in stale.stderr
    assert "run: archspec diagram specs/resnet18.yaml --golden" in stale.stderr
    assert runner.invoke(app, ["diagram", "specs/resnet18.yaml", "--golden"]).exit_code == 0
    assert runner.invoke(app, check).exit_code == 0
    assert sorted(p.name for p in goldens.iterdir()) == sorted(
        p.name for p in (ROOT / "generated" / "diagrams").glob("resnet18.*.dot")
    )
    for path in goldens.iterdir():
        assert path.read_bytes() == (ROOT / "generated" / "diagrams" / path.name).read_bytes()


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["--set", "input=[3,64,64]"], "--set"),
        (["--level", "layer", "--out", "x"], "--out, --level"),
    ],
)
def test_diagram_check_refuses_drawing_options(given: list[str], named: str) -> None:
    result = invoke("diagram", "specs/resnet18.yaml", "--check", *given)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert f"fix: drop {named}" in result.stderr  # type: ignore[attr-defined]


def test_diagram_goldens_module_no_longer_imports_the_api() -> None:
    """emit -> api was a cycle (STYLE.md): the CLI compiles, the module only writes."""
    tree = ast.parse((ROOT / "archspec" / "emit" / "diagram_goldens.py").read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not {"archspec.api", "archspec.cli"} & imported


# --- --set -----------------------------------------------------------------------------------


def test_set_changes_input_and_classes() -> None:
    model = stats_json(
        "specs/resnet18.yaml", "--set", "input=[3,320,320]", "--set", "head.num_classes=10"
    )["models"][0]
    fc_1000, fc_10 = 512 * 1000 + 1000, 512 * 10 + 10
    assert model["input"] == [3, 320, 320]
    assert model["totals"]["params"] == RESNET18_PARAMS - fc_1000 + fc_10
    # Every feature map grows by 10/7 per side (7x7 -> 10x10 at the end); the classifier does not.
    conv_macs = (RESNET18_MACS - 512 * 1000) * 100 // 49
    assert model["totals"]["macs"] == conv_macs + 512 * 10


def test_set_list_entries_in_both_table_forms(tmp_path: Path) -> None:
    columnar = stats_json("specs/resnet18.yaml", "--set", "stages.depth.3=3")["models"][0]
    rows = tmp_path / "rows.yaml"
    rows.write_text(
        "archspec: 1\nname: rows\ninput: [3, 64, 64]\nstem: {type: conv3x3, width: 16}\n"
        "stages:\n  - {block: basic, depth: 1, width: 16}\n"
        "  - {block: basic, depth: 1, width: 32}\n"
    )
    by_row = stats_json(str(rows), "--set", "stages.1.depth=2")["models"][0]
    assert [s["depth"] for s in columnar["stages"][1:-1]] == [2, 2, 2, 3]
    assert [s["depth"] for s in by_row["stages"][1:-1]] == [1, 2]


@pytest.mark.parametrize("command", SPEC_COMMANDS)
def test_set_errors_are_located_at_the_argument(command: str) -> None:
    result = invoke(command, "specs/resnet18.yaml", "--set", "head.num_clases=10")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert result.stderr == (  # type: ignore[attr-defined]
        "--set head.num_clases=10: error: head.num_clases: unknown field 'num_clases'\n"
        "  fix: did you mean 'num_classes'?\n"
    )


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("head.num_classes=ten", "head.num_classes: expected a whole number, got 'ten'"),
        ("stages.depth.7=1", "index 7 is out of range: the list has 4 entries"),
        ("stages.2.depth=8", "fix: put the field first: stages.FIELD.2"),
        ("input=[3,0,32]", "input[1]: must be >= 1, got 0"),
        ("depth", "expected KEY=VALUE"),
        ("x=[1", "the value is not YAML"),
        ("a..b=1", "'a..b' is not a field path"),
        ("stem.width.x=1", "stem.width is 64 in the spec, not a mapping"),
        ("heads.num_classes=10", "heads: unknown field 'heads'"),
    ],
)
def test_set_error_messages(override: str, says: str) -> None:
    result = invoke("validate", "specs/resnet18.yaml", "--set", override)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert result.stderr.startswith(f"--set {override}: error: ")  # type: ignore[attr-defined]
    assert says in result.stderr  # type: ignore[attr-defined]


def test_build_records_overrides_and_its_command_reproduces_the_file(tmp_path: Path) -> None:
    sets = ["--set", "input=[3,320,320]", "--set", "head.num_classes=10"]
    args = ["build", "specs/resnet18.yaml", "--out", str(tmp_path)]
    assert runner.invoke(app, [*args, *sets]).exit_code == 0
    built = (tmp_path / "resnet18.py").read_text()
    header = built.split('"""')[1]
    recorded = header.split("and OVERRIDES are\n")[1].split("\nReference")[0]
    assert [line.strip() for line in recorded.splitlines()] == [
        "--set 'input=[3,320,320]'",
        "--set head.num_classes=10",
    ]
    again = [*args, *shlex.split(" ".join(recorded.split())), "--check"]
    assert runner.invoke(app, again).exit_code == 0
    assert runner.invoke(app, [*args, "--check"]).exit_code == 1


def test_build_refuses_overrides_its_header_cannot_show(tmp_path: Path) -> None:
    override = 'title=a "quoted" title'
    built = invoke("build", "specs/resnet18.yaml", "--out", str(tmp_path), "--set", override)
    assert built.exit_code == 2  # type: ignore[attr-defined]
    assert "put this value in the spec" in built.stderr  # type: ignore[attr-defined]
    assert not list(tmp_path.iterdir())
    assert invoke("validate", "specs/resnet18.yaml", "--set", override).exit_code == 0  # type: ignore[attr-defined]


def test_diff_applies_overrides_to_both_specs() -> None:
    args = ["diff", "specs/resnet18.yaml", "specs/resnet34.yaml", "--format", "json"]
    doc = json.loads(runner.invoke(app, [*args, "--set", "head.num_classes=10"]).stdout)
    head = next(stage for stage in doc["stages"] if stage["stage"] == "head")
    assert (head["shape_a"], head["shape_b"], head["params"]) == ([10], [10], 0)
    bad = runner.invoke(app, [*args, "--set", "head.num_clases=10"])
    assert bad.exit_code == 2
    assert bad.stderr.count("error:") == 1  # the same bad --set, said once


# --- --plot ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_plot_groups_specs_by_input_resolution(tmp_path: Path) -> None:
    from archspec.emit.plot import by_resolution

    specs = ("resnet18", "resnet18_cifar", "resnet50", "senet18_cifar")
    stats = [archspec.compile_file(f"specs/{name}.yaml").stats for name in specs]
    groups = by_resolution(stats)
    assert {k: [s.name for s in v] for k, v in groups.items()} == {
        "224x224": ["resnet18", "resnet50"],
        "32x32": ["resnet18_cifar", "senet18_cifar"],
    }
    pytest.importorskip("matplotlib")
    out = tmp_path / "zoo.png"
    result = runner.invoke(app, ["stats", *(f"specs/{n}.yaml" for n in specs), "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out}" in result.stderr  # stdout stays the table (or JSON, CSV)


@pytest.mark.parametrize(
    "override",
    [
        "=",
        "==1",
        ".=1",
        "stages=",
        "stages.depth.99999999=1",
        "input.0.0=1",
        "stages.depth=[]",
        "stages={}",
        "stages=[]",
        "head={}",
        "name=class",
        "class_name=int",
        "\x00=1",
        "input=\x00",
        "input=!!python/object/apply:os.system [echo]",
        "input=&a [3, *a]",
        "stages.attention={type: sk}",
        "head.num_classes=1e400",
        "stages.depth.0=" + "9" * 500,
        "stem=none",
    ],
)
def test_any_override_is_applied_or_refused_cleanly(override: str, tmp_path: Path) -> None:
    for args in (["validate"], ["build", "--out", str(tmp_path)]):
        result = runner.invoke(app, [*args, "specs/resnet18.yaml", "--set", override])
        assert result.exit_code in (0, 2), (override, result.output)
        assert "internal error" not in result.output and "Traceback" not in result.output


def test_fast_loop_skips_wholly_slow_modules_without_importing_them() -> None:
    """`pytest -m "not slow"` must not pay for torch: test_fidelity imports it at the top."""
    from tests import conftest

    def config(markexpr: str) -> Any:
        return SimpleNamespace(option=SimpleNamespace(markexpr=markexpr))

    fidelity, cli = ROOT / "tests" / "test_fidelity.py", ROOT / "tests" / "test_cli.py"
    assert conftest.pytest_ignore_collect(fidelity, config("not slow")) is True
    assert conftest.pytest_ignore_collect(fidelity, config("")) is None
    assert conftest.pytest_ignore_collect(cli, config("not slow")) is None
