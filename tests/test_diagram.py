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
from tests.conftest import ROOT, SPECS, ZOO, ZOO_PARAMS, compiled

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
@pytest.mark.parametrize("name", ZOO_PARAMS)
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
def test_every_tensor_shows_its_shape_once(level: str) -> None:
    """A tensor feeding several boxes is labelled once ("64x56x56 64x56x56" was noise); at
    layer level an unlabelled edge carries the shape that entered its tail (BN, ReLU, ...)."""
    for name in ("resnet50", "densenet121", "skresnext50_32x4d", "resnet50_c5_backbone"):
        links = diagram_model.build(compiled(name).arch, level).links
        shapes = {(link.tail, link.head): "x".join(map(str, link.shape)) for link in links}
        entering: dict[str, set[str]] = {}
        for (_, head), shape in shapes.items():
            entering.setdefault(head, set()).add(shape)
        said: dict[str, set[str]] = {}
        for tail, head, attrs in edges(dot(name, level)):
            label = re.search(r'label="([^"]*)"', attrs)
            if label:
                assert label.group(1) == shapes[(tail, head)]
                assert label.group(1) not in said.get(tail, set()), (name, tail, label.group(1))
                said.setdefault(tail, set()).add(label.group(1))
        for (tail, _), shape in shapes.items():
            unchanged = level == "layer" and entering.get(tail) == {shape}
            assert shape in said.get(tail, set()) or unchanged, (name, level, tail, shape)


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
    diagram = diagram_model.build(compiled("densenet121").arch, "block", collapse=False)
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
    # DenseNet's layer level is wide (one row per collapsed block of dense layers), not tall.
    assert 400 < width < 3000
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


# --- compact diagrams: dense runs, labels, --rankdir, --stages -----------------------------------


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def test_dense_layers_collapse_to_one_row_per_block() -> None:
    """DenseNet-121 (Huang et al. Table 1): blocks of 6, 12, 24 and 16 layers, growth 32."""
    source = dot("densenet121", "block")
    for count in (6, 12, 24, 16):
        assert f"denselayer1 .. denselayer{count}  (x{count})" in source
    assert "in all" in source and "each reads all earlier outputs" in source
    links = diagram_model.build(compiled("densenet121").arch, "block").links
    body = "features.denseblock1.denselayer1"
    assert [link.shape for link in links if link.head == body] == [(64, 56, 56)]
    out = [link.shape for link in links if link.tail == f"{body}/merge"]
    assert out == [(64 + 6 * 32, 56, 56)]
    _, height = _png_size(render(source, "png"))
    assert height < 2000  # it was 6,677 px with every layer drawn


def test_collapsed_dense_layer_shows_its_input_widths() -> None:
    source = dot("densenet121", "layer")
    assert "<B>batchnorm 64 .. 224</B>" in source  # 64 + 5 x 32 for the sixth layer


def test_layer_level_drops_labels_that_repeat_the_op() -> None:
    source = dot("resnet50", "layer")
    assert "<B>ReLU</B><BR/>" not in source  # no "relu" under ReLU
    assert "<B>maxpool 3x3, /2</B>>" in source
    assert ">conv2 | " in source  # module paths that are state_dict keys stay


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_params_line_is_readable_on_every_box_colour() -> None:
    """WCAG AAA contrast (7:1) on every fill, at no less than 9 pt."""
    from archspec.emit.diagram_labels import STATS_COLOUR, STATS_SIZE
    from archspec.emit.diagram_text import PALETTE

    assert int(STATS_SIZE) >= 9
    for fill, _ in PALETTE.values():
        light, dark = _luminance(fill), _luminance(STATS_COLOUR)
        assert (light + 0.05) / (dark + 0.05) >= 7, fill


def test_rankdir_lr_lays_out_left_to_right() -> None:
    arch = compiled("resnet50").arch
    source = emit_dot(arch, "block", rankdir="LR")
    assert 'rankdir="LR"' in source
    width, height = _png_size(render(source, "png"))
    assert width > 2 * height
    with pytest.raises(ValueError, match="rankdir"):
        emit_dot(arch, "block", rankdir="BT")


@pytest.mark.parametrize(
    ("stages", "kept"),
    [("3..4", {"stage3", "stage4"}), ("2", {"stage2"}), ("1,3", {"stage1", "stage3"})],
)
def test_stages_filter_keeps_those_stages(stages: str, kept: set[str], tmp_path: Path) -> None:
    args = ["diagram", "specs/resnet50.yaml", "--format", "dot", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--stages", stages, "--level", "layer"])
    assert result.exit_code == 0, result.output
    source = (tmp_path / "resnet50.layer.dot").read_text()
    clusters = set(re.findall(r'subgraph "cluster_(stage\d)"', source))
    assert clusters == kept
    assert "stem" not in re.findall(r'subgraph "cluster_([^"]+)"', source)
    for stage in kept:
        before = f"stage{int(stage[-1]) - 1}" if stage != "stage1" else "stem"
        assert (f"<B>from {before}</B>" in source) == (before not in kept)
    ends = {tail for tail, head, _ in edges(source)} | {head for _, head, _ in edges(source)}
    assert all(NODE.search(source) for _ in ends)
    assert len(render(source, "svg")) > 0


def test_stages_filter_wires_entry_and_exit_with_shapes() -> None:
    source = compiled("resnet50").dot("block", stages="3..4")
    assert '"input" [label=<<B>from stage2</B>>' in source
    assert '"input" -> "layer3.0" [label="512x28x28"]' in source
    assert "<B>to head</B>" in source
    assert "resnet50, block level, stage3, stage4 only" in source


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", "resnet50 has no stage 5"),
        ("0..2", "resnet50 has no stage 0"),
        ("4..3", "4..3 is an empty range"),
        ("two", "cannot read 'two'"),
    ],
)
def test_stages_filter_errors_name_the_option(value: str, message: str, tmp_path: Path) -> None:
    args = ["diagram", "specs/resnet50.yaml", "--out", str(tmp_path), "--stages", value]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"error: --stages {value}: {message}" in result.output
    assert "fix: " in result.output and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())
