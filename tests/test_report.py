"""`archspec report` without a browser: the page's numbers, its structure, size and determinism.

The browser tests (tests/test_report_browser.py) click through the same page in chromium.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from archspec.api import compile_text
from archspec.cli import app
from archspec.conventions import CONVENTIONS, count
from archspec.report import render_report
from archspec.report.boxes import box
from archspec.report.diffs import runs
from archspec.report.layers import Item, layout
from tests.conftest import ROOT, SPECS, ZOO, compiled

runner = CliRunner()
MB = 1_000_000


class _Page(HTMLParser):
    """The attributes of every element, in document order, with the text of <td> cells."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {key: value or "" for key, value in attrs}))


def parse(html: str) -> list[tuple[str, dict[str, str]]]:
    page = _Page()
    page.feed(html)
    return page.elements


def stats_json(*names: str) -> list[dict[str, Any]]:
    """`archspec stats --format json`, read in today's versioned shape or the older ones."""
    result = runner.invoke(app, ["stats", *(f"specs/{n}.yaml" for n in names), "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    if isinstance(doc, dict) and "models" in doc:
        return list(doc["models"])
    return doc if isinstance(doc, list) else [doc]


def totals_in_page(html: str) -> list[dict[str, int]]:
    """Per model section, the exact figures the summary card carries (data-total/data-value)."""
    sections: list[dict[str, int]] = []
    for tag, attrs in parse(html):
        if tag == "section" and "model" in attrs.get("class", ""):
            sections.append({})
        elif "data-total" in attrs and "data-value" in attrs and sections:
            sections[-1][attrs["data-total"]] = int(attrs["data-value"])
    return sections


def report(*names: str) -> str:
    return render_report([compiled(name) for name in names])


def test_totals_in_the_page_are_the_stats_json() -> None:
    names = ("resnet50", "densenet121", "seresnext50_32x4d")
    pages = totals_in_page(report(*names))
    expected = stats_json(*names)
    assert len(pages) == len(expected) == 3
    for shown, model in zip(pages, expected, strict=True):
        for key in ("params", "buffers", "macs", "flops", "acts"):
            assert shown[key] == model["totals"][key], (model["name"], key)
    # torchvision's published ResNet-50 figures (the model card's params and GFLOPS column).
    assert pages[0]["params"] == 25_557_032
    assert round(pages[0]["macs"] / 1e9, 2) == 4.09


def test_memory_and_field_are_the_stats_figures() -> None:
    args = ["stats", "specs/resnet18.yaml", "-f", "json", "--batch", "8", "--per-layer"]
    doc = json.loads(runner.invoke(app, args).stdout)
    model = doc["models"][0] if "models" in doc else doc
    net = compiled("resnet18")
    shown = totals_in_page(render_report([net], batch=8))[0]
    for key in ("params_bytes", "inference_peak_bytes", "training_saved_bytes"):
        assert shown[key] == model["memory"][key]
    # The model's field is that of its last feature map, before the global pool.
    last = [layer for layer in model["layers"] if layer["rf"] is not None][-1]
    assert last["path"] == "layer4.1.relu#2"
    assert (shown["rf"], shown["stride"]) == (last["rf"], last["stride"])
    # By hand: 11 px after the 7x7/2 stem and 3x3/2 pool; each 3x3 conv then adds 2 x its
    # input stride: 4 x 8, 8 + 3 x 16, 16 + 3 x 32, 32 + 3 x 64 -> 11 + 32 + 56 + 112 + 224.
    assert shown["rf"] == 435
    assert shown["stride"] == 32


def test_conventions_are_shown_with_their_totals() -> None:
    html = report("resnet50")
    arch = compiled("resnet50").arch
    for name in CONVENTIONS:
        assert f"{count(arch, name).total:,}" in html, name
    # fvcore counts BN (2 per element) on top of the MACs: 22,328,320 more on ResNet-50.
    assert "+22,328,320" in html


def model_data(html: str, anchor: str = "m0") -> dict[str, Any]:
    """The JSON a model section carries for the page's script (layer rows, ops of blocks)."""
    found = re.search(f'<script type="application/json" id="{anchor}-data">(.*?)</script>', html)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_every_op_and_block_is_in_the_diagram() -> None:
    for name in ("resnet50", "densenet121", "skresnet18", "resnet50_c5_backbone"):
        net = compiled(name)
        html = render_report([net])
        svg = html[html.index('<svg class="dg"') : html.index("</svg>")]
        groups = model_data(html)["groups"]
        ops = [n for n, data in net.arch.nodes() if data["stage"] != "input"]
        blocks = {data["block"] for _, data in net.arch.nodes() if data["block"]}
        # Every op is drawn once, in the group of its block (or of its run outside blocks).
        assert sum(len(group["boxes"]) for group in groups.values()) == len(ops), name
        assert svg.count("data-group=") == len(groups)
        assert svg.count('class="node block"') == len(blocks), name
        assert svg.count('class="node stage"') == len(net.stats.stages), name


def test_layer_rows_are_the_per_layer_stats() -> None:
    result = runner.invoke(app, ["stats", "specs/resnet18.yaml", "--per-layer", "-f", "json"])
    doc = json.loads(result.stdout)
    expected = (doc["models"][0] if "models" in doc else doc)["layers"]
    rows = model_data(report("resnet18"))["layers"]
    assert [r[0] for r in rows] == [layer["path"] for layer in expected]
    assert [r[4:6] for r in rows] == [[layer["params"], layer["macs"]] for layer in expected]
    assert [r[8:] for r in rows] == [[layer["rf"], layer["stride"]] for layer in expected]


def test_shortcut_sits_beside_the_body_of_its_block() -> None:
    """In a projection block the downsample conv is drawn right of conv1, at its height."""

    def item(key: str, *inputs: str) -> Item:
        return Item(key, box([("row", key)], "conv", key), inputs, (False,) * len(inputs))

    placed = layout(
        [
            item("conv1", "x"),
            item("bn1", "conv1"),
            item("down", "x"),
            item("add", "bn1", "down"),
        ]
    )
    at = {p.key: p for p in placed.boxes}
    assert at["conv1"].x == at["bn1"].x == at["add"].x == 0
    assert at["down"].x > at["conv1"].x and at["down"].y == at["conv1"].y
    assert at["conv1"].y < at["bn1"].y < at["add"].y
    assert len(placed.edges) == 5


def test_diff_pairs_match_archspec_diff() -> None:
    html = report("resnet50", "resnet101")
    data = re.search(r'<script type="application/json" id="diff-data">(.*?)</script>', html)
    assert data is not None
    pair = json.loads(data.group(1))["pairs"]["0 1"]
    cli = runner.invoke(app, ["diff", "specs/resnet50.yaml", "specs/resnet101.yaml", "-f", "json"])
    expected = json.loads(cli.stdout)
    assert pair["unchanged"] == len(expected["unchanged"])
    assert sum(pair["added"][1::2]) == len(expected["added"])
    assert sum(pair["removed"][1::2]) == len(expected["removed"])
    assert [s[0] for s in pair["stages"]] == [s["stage"] for s in expected["stages"]]
    # ResNet-101 = ResNet-50 + 17 bottlenecks in layer3 (6 tensors each: 3 convs, 3 BNs x 5).
    assert sum(pair["added"][1::2]) == 17 * (3 + 3 * 5)


def test_runs_encode_index_lists() -> None:
    assert runs([]) == []
    assert runs([3, 4, 5, 9]) == [3, 3, 9, 1]
    assert runs([0, 2, 3]) == [0, 1, 2, 2]


def test_spec_text_is_escaped() -> None:
    spec = (SPECS / "resnet18.yaml").read_text()
    hostile = "</script><script>alert(1)</script> & <b>"
    net = compile_text(spec.replace("title: ResNet-18", f"title: {json.dumps(hostile)}"))
    html = render_report([net, compiled("resnet18")])
    assert "<script>alert(1)" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in html
    assert html.count("<script") == 4  # 2 models' data, the diff data, the page's script


def test_page_is_self_contained() -> None:
    html = report("resnet50", "resnext50_32x4d")
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?(https?:|//|data:)", html)
    assert not re.search(r"(?i)<link|@import|url\((?!#)", html)
    assert "default-src 'none'" in html  # the browser refuses any fetch the page might try


@pytest.mark.slow
def test_report_is_byte_identical_in_separate_processes(tmp_path: Path) -> None:
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.html"
        command = [sys.executable, "-m", "archspec", "report", "specs/resnet18.yaml"]
        command += ["specs/densenet_bc_100_k12.yaml", "-o", str(out)]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_resnet50_alone_is_under_1_mb() -> None:
    assert len(report("resnet50").encode()) < 1 * MB


@pytest.mark.slow
def test_whole_zoo_is_one_page_under_10_mb(tmp_path: Path) -> None:
    out = tmp_path / "zoo.html"
    specs = [f"specs/{name}.yaml" for name in ZOO]
    result = runner.invoke(app, ["report", *specs, "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert len(html.encode()) < 10 * MB
    assert len(totals_in_page(html)) == len(ZOO)


def test_cli_writes_the_page_and_rejects_bad_specs(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    ok = runner.invoke(app, ["report", "specs/resnet18.yaml", "-o", str(out), "--batch", "4"])
    assert ok.exit_code == 0, ok.output
    assert f"wrote {out}" in ok.stdout
    assert "batch 4, float32" in out.read_text()
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("archspec: 1\nname: bad\n")
    missing = tmp_path / "missing.html"
    bad = runner.invoke(app, ["report", str(bad_spec), "-o", str(missing)])
    assert bad.exit_code == 2
    assert "bad.yaml" in bad.stderr and "Traceback" not in bad.output
    assert not missing.exists()


@pytest.mark.slow
def test_report_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from archspec.cli import app\n"
        "try:\n"
        "    app(['report', 'specs/resnet50.yaml', 'specs/resnet18.yaml', '-o', sys.argv[1]])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "r.html")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "False"
