"""Diagrams: DOT golden files, structure per level, rendered SVG/PNG, DenseNet-201 at scale."""

from __future__ import annotations

import difflib
import os
import re
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archspec.api import compile_text
from archspec.cli import app
from archspec.emit import diagram_goldens, diagram_model
from archspec.emit.dot import LEVELS, emit_dot
from archspec.render import render
from tests.conftest import ROOT, SPECS, ZOO, compiled

GOLDENS = ROOT / diagram_goldens.GOLDENS
ACCEPT = f"{diagram_goldens.ACCEPT}  (from the repository root)"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"
NODE = re.compile(r'^\s*"[^"]+" \[', re.MULTILINE)
EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[(.*)\]$', re.MULTILINE)
MAX_DIFF_LINES = 80


def dot(name: str, level: str, *, collapse: bool = True) -> str:
    return emit_dot(compiled(name).arch, level, collapse=collapse)


def edges(source: str) -> list[tuple[str, str, str]]:
    return EDGE.findall(source)


# --- golden files ----------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", ZOO)
def test_dot_matches_golden(name: str, level: str) -> None:
    path = GOLDENS / diagram_goldens.golden_name(name, level)
    assert path.is_file(), f"{path} is missing; create it with: {ACCEPT}"
    committed = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    fresh = dot(name, level)
    if fresh != committed:
        diff = list(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                fresh.splitlines(keepends=True),
                f"{path.relative_to(ROOT)} (committed)",
                f"{path.relative_to(ROOT)} (fresh)",
            )
        )
        shown = "".join(diff[:MAX_DIFF_LINES])
        more = f"... and {len(diff) - MAX_DIFF_LINES} more diff lines\n" * (
            len(diff) > MAX_DIFF_LINES
        )
        pytest.fail(f"{path.name} is stale:\n{shown}{more}accept with: {ACCEPT}")


def test_no_golden_without_a_spec() -> None:
    expected = {diagram_goldens.golden_name(name, level) for name in ZOO for level in LEVELS}
    extra = sorted(path.name for path in GOLDENS.glob("*.dot") if path.name not in expected)
    assert not extra, f"golden diagrams without a spec: {extra}; remove them with: {ACCEPT}"


def test_goldens_check_mode_reports_stale_files(tmp_path: Path) -> None:
    a, b, old = (diagram_goldens.GOLDENS / f"{name}.block.dot" for name in ("a", "b", "old"))
    files = {a: b"digraph a {}\n", b: b"digraph b {}\n"}
    (tmp_path / a.parent).mkdir(parents=True)
    (tmp_path / a).write_bytes(b"digraph a {}\r\n")
    (tmp_path / old).write_bytes(b"")
    assert diagram_goldens.stale(files, tmp_path) == [b, old]
    assert diagram_goldens.write(files, tmp_path) == [b, old]
    assert sorted(p.name for p in (tmp_path / a.parent).iterdir()) == [a.name, b.name]
    assert diagram_goldens.stale(files, tmp_path) == []


def test_readme_image_is_rendered_from_its_golden() -> None:
    image = ROOT / diagram_goldens.README_IMAGE
    golden = (ROOT / diagram_goldens.README_SOURCE).read_text(encoding="utf-8")
    assert image.read_bytes() == render(golden, "svg"), f"{image} is stale; run: {ACCEPT}"


@pytest.mark.slow
def test_dot_is_identical_in_separate_processes() -> None:
    code = (
        "from archspec.api import compile_file\n"
        "from archspec.emit.dot import emit_dot\n"
        "import sys\n"
        "for name in ('resnest50d', 'densenet121', 'skresnext50_32x4d'):\n"
        "    arch = compile_file(f'specs/{name}.yaml').arch\n"
        "    for level in ('stage', 'block', 'layer'):\n"
        "        sys.stdout.write(emit_dot(arch, level))\n"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=True,
        ).stdout
        for seed in ("1", "4242")
    ]
    assert outputs[0] == outputs[1]


# --- what each level shows ---------------------------------------------------------------------


def test_stage_level_is_the_stage_table() -> None:
    source = dot("resnet50", "stage")
    chain = [(tail, head) for tail, head, _ in edges(source)]
    assert chain == [
        ("input", "stem"),
        ("stem", "stage1"),
        ("stage1", "stage2"),
        ("stage2", "stage3"),
        ("stage3", "stage4"),
        ("stage4", "head"),
        ("head", "output"),
    ]
    assert "bottleneck x6" in source
    assert "conv 3x3, 256" in source
    assert "dense layer x24 + transition" in dot("densenet121", "stage")


def test_block_level_draws_shortcuts_and_marks_projections() -> None:
    diagram = diagram_model.build(compiled("resnet50").arch, "block", collapse=False)
    roles = [unit.role for unit in diagram.units.values()]
    assert roles.count("body") == 16
    assert roles.count("merge") == 16
    assert roles.count("shortcut") == 4  # the first block of each stage projects
    skips = [link for link in diagram.links if link.skip]
    # Every block's add receives its shortcut: 12 identity edges, 4 into + 4 out of projections.
    assert len(skips) == 12 + 4 + 4
    assert all(diagram.units[link.head].role in ("merge", "shortcut") for link in skips)


def test_identical_blocks_collapse_to_xn() -> None:
    source = dot("resnet50", "block")
    assert "layer3.1 .. layer3.5  (x5)" in source
    assert "218M MACs each" in source
    assert source.count("projection shortcut") == 4
    assert "layer3.3" not in source
    expanded = dot("resnet50", "block", collapse=False)
    assert "layer3.3" in expanded
    assert "(x5)" not in expanded


def test_resnet152_sized_net_fits_a_page() -> None:
    spec = (SPECS / "resnet101.yaml").read_text().replace("[3, 4, 23, 3]", "[3, 8, 36, 3]")
    arch = compile_text(spec.replace("name: resnet101", "name: resnet152")).arch
    svg = ET.fromstring(render(emit_dot(arch, "block"), "svg"))
    height = float(svg.get("height", "0pt").removesuffix("pt"))
    assert "layer3.1 .. layer3.35  (x35)" in emit_dot(arch, "block")
    assert height < 2000  # points: about two A4 pages tall, whatever the depth


def test_layer_level_clusters_stages_blocks_and_branches() -> None:
    source = dot("seresnet50", "layer")
    for cluster in ("stem", "stage1", "layer1.0", "layer1.0/se", "head"):
        assert f'subgraph "cluster_{cluster}" {{' in source
    assert "squeeze-excitation" in source
    assert '"layer1.0.se.mul" [label=<<FONT POINT-SIZE="14"><B>x</B>' in source
    assert "selective kernel" in dot("skresnet18", "layer")
    assert "split attention" in dot("resnest50d", "layer")


@pytest.mark.parametrize("level", LEVELS)
def test_every_edge_carries_its_shape(level: str) -> None:
    for name in ("resnet50", "densenet121", "skresnext50_32x4d", "resnet50_c5_backbone"):
        for _, _, attrs in edges(dot(name, level)):
            assert re.match(r'label="\d+(x\d+)*"', attrs), attrs


def test_boxes_carry_op_params_and_macs() -> None:
    source = dot("resnext50_32x4d", "layer")
    assert "<B>conv 3x3, 256, /2, g32</B>" in source
    assert "conv2 | 18.4K params, 14.5M MACs" in source  # 256 x 8 x 3 x 3
    block = dot("resnext50_32x4d", "block")
    assert "conv 3x3, 128, g32<BR/>conv 1x1, 256" in block


def test_title_has_totals_and_legend_has_the_colours_used() -> None:
    source = dot("resnet50", "layer")
    assert "25,557,032 params | 4,089,184,256 MACs (4.09G) | input 3x224x224" in source
    for entry in ("conv", "batchnorm", "activation", "pooling", "add", "linear"):
        assert f'BORDER="1">{entry}</TD>' in source
    assert "concat</TD>" not in source
    assert ">concat</TD>" in dot("densenet121", "block")


def test_densenet_is_a_concatenation_chain() -> None:
    diagram = diagram_model.build(compiled("densenet121").arch, "block")
    concats = [u.key for u in diagram.units.values() if u.role == "merge"]
    assert len(concats) == 6 + 12 + 24 + 16
    for key in concats:
        feeding = [link for link in diagram.links if link.head == key]
        # The running features (dashed) and the new layer's output: never all earlier layers.
        assert sorted(link.skip for link in feeding) == [False, True]
    assert len(diagram.same_rank) == len(concats)  # each layer beside its concatenation


def test_feature_taps_are_outputs() -> None:
    source = dot("resnet50_c5_backbone", "block")
    for tap in ("stem", "stage1", "stage2", "stage3", "stage4"):
        assert f'"output:{tap}" [label=<<B>{tap} features</B>>' in source
    assert '"output" [' not in source


def test_labels_are_escaped_ascii() -> None:
    spec = (SPECS / "resnet18.yaml").read_text()
    title = re.search(r"^title: .*$", spec, re.MULTILINE)
    assert title is not None
    arch = compile_text(
        spec.replace(title.group(0), 'title: "R&D <net> 32\u00d74d caf\u00e9"')
    ).arch
    source = emit_dot(arch, "stage")
    assert "R&amp;D &lt;net&gt; 32x4d cafe" in source
    assert source.isascii()
    assert "R&amp;D &lt;net&gt; 32x4d cafe" in render(source, "svg").decode()


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="stage, block, layer"):
        emit_dot(compiled("resnet18").arch, "blocks")


# --- rendering --------------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", ["resnet50", "resnext50_32x4d", "densenet121", "resnest50d"])
def test_svg_is_valid_and_shows_the_boxes(name: str, level: str) -> None:
    source = dot(name, level)
    root = ET.fromstring(render(source, "svg"))
    assert root.tag == f"{SVG}svg"
    drawn = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    assert len(drawn) == len(NODE.findall(source))  # the boxes and the legend
    text = " ".join(root.itertext())
    assert compiled(name).arch.title in text
    assert "stem" in text and "head" in text
    assert len(root.findall(f".//{SVG}g[@class='edge']")) == len(edges(source))


@pytest.mark.parametrize(("name", "level"), [("resnet50", "block"), ("densenet121", "layer")])
@pytest.mark.slow
def test_png_is_valid_and_page_sized(name: str, level: str) -> None:
    png = render(dot(name, level), "png")
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert 400 < width < 2500
    assert 1000 < height < 12000


@pytest.mark.parametrize("level", ["block", "layer"])
def test_densenet201_renders_in_seconds_with_linear_edges(level: str) -> None:
    arch = compiled("densenet201").arch
    layers = 6 + 12 + 48 + 32
    source = emit_dot(arch, level)
    started = time.perf_counter()
    svg = render(source, "svg")
    elapsed = time.perf_counter() - started
    assert ET.fromstring(svg).tag == f"{SVG}svg"
    assert elapsed < 10, f"{elapsed:.1f} s"
    ops_per_layer = {"block": 1, "layer": 7}[level]
    # A dense layer adds its ops' chain, its concatenation and the carried features.
    assert len(edges(source)) <= layers * (ops_per_layer + 2) + 40
    fan_in: dict[str, int] = {}
    for _, head, _ in edges(source):
        fan_in[head] = fan_in.get(head, 0) + 1
    assert max(fan_in.values()) <= 2


# --- the command ------------------------------------------------------------------------------


def test_cli_writes_one_dot_and_image_per_spec(tmp_path: Path) -> None:
    args = ["diagram", "specs/resnet18.yaml", "specs/densenet121.yaml", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--level", "stage", "--format", "png"])
    assert result.exit_code == 0, result.output
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [
        "densenet121.stage.dot",
        "densenet121.stage.png",
        "resnet18.stage.dot",
        "resnet18.stage.png",
    ]
    assert (tmp_path / "resnet18.stage.dot").read_text() == dot("resnet18", "stage")


def test_cli_expand_draws_every_block(tmp_path: Path) -> None:
    args = ["diagram", "specs/resnet50.yaml", "--format", "dot", "--out", str(tmp_path)]
    assert CliRunner().invoke(app, [*args, "--expand"]).exit_code == 0
    assert (tmp_path / "resnet50.dot").read_text() == dot("resnet50", "block", collapse=False)


def test_diagram_modules_do_not_import_torch() -> None:
    code = (
        "import sys, archspec.emit.dot, archspec.emit.diagram_goldens, archspec.render\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
