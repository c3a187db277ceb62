"""`archspec report` without a browser: the page's numbers, its structure, size and determinism.

The browser tests (tests/test_report_browser.py) click through the same page in chromium.
"""

from __future__ import annotations

import csv
import io
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
def test_whole_zoo_is_one_page_under_200_kb_a_model(tmp_path: Path) -> None:
    """The page grows with the zoo (64 models: 10.4 MB); each model may add 200 kB on average
    (its tables and stage-by-stage diagram), so the page stays one that a browser opens."""
    out = tmp_path / "zoo.html"
    specs = [f"specs/{name}.yaml" for name in ZOO]
    result = runner.invoke(app, ["report", *specs, "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert len(html.encode()) < 0.2 * MB * len(ZOO)
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


# ---- --sweep: a table written by the real `archspec sweep` ----

SPACE = "specs/spaces/resnext_grid.yaml"  # a 72-candidate grid, some rejected by a constraint


def make_sweep(directory: Path) -> tuple[Path, list[int]]:
    """Run `archspec sweep` in-process on a small space; its table and the front it printed."""
    out = directory / "grid.csv"
    result = runner.invoke(app, ["sweep", SPACE, "-o", str(out), "--workers", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    printed = result.stdout.split("Pareto front (", 1)[1].splitlines()[2:]
    front = [int(line.split()[0]) for line in printed if line.strip()]
    return out, front


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def table_rows(html: str, key: str) -> list[dict[str, str]]:
    """The data-v of every numeric cell of table `key`, by column label."""
    parser = _Cells(key)
    parser.feed(html)
    return [dict(zip(parser.header, row, strict=True)) for row in parser.rows]


class _Cells(HTMLParser):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key, self.inside, self.in_th = key, False, False
        self.header: list[str] = []
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self.inside = found.get("id") == self.key
        elif self.inside and tag == "th":
            self.in_th = True
        elif self.inside and tag == "tr" and self.header:
            self.rows.append([])
        elif self.inside and tag == "td":
            self.rows[-1].append(found.get("data-v") or "")

    def handle_data(self, data: str) -> None:
        if self.in_th and data.strip():
            self.header.append(data.strip())
            self.in_th = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    return make_sweep(tmp_path_factory.mktemp("sweep"))


def sweep_report(path: Path, out: Path, *specs: str) -> str:
    result = runner.invoke(app, ["report", *specs, "--sweep", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text()


def test_sweep_numbers_in_the_page_are_the_csv(sweep: Any, tmp_path: Path) -> None:
    path, _ = sweep
    html = sweep_report(path, tmp_path / "r.html")
    rows = {int(r["index"]): r for r in csv_rows(path)}
    shown = table_rows(html, "s0-front")
    assert shown
    for row in shown:
        source = rows[int(row["index"])]
        assert source["status"] == "ok"
        for column, label in (("params", "params"), ("macs", "MACs"), ("acts", "acts")):
            assert int(row[label]) == int(source[column])
        assert int(row["RF px"]) == int(source["rf"])
    status = [r["status"] for r in rows.values()]
    assert (
        f"{len(rows)} candidates: {status.count('ok')} kept by the constraints, "
        f"{status.count('rejected')} rejected, {status.count('invalid')} invalid; "
        f"{len(shown)} on the Pareto front"
    ) in html
    assert status.count("rejected") > 0 and status.count("ok") > 0
    # Every candidate with figures is drawn (72 < the cap): dots plus ringed front points.
    dots = sum(int(n) for n in re.findall(r'class="cloud \w+" d="[^"]*" data-count="(\d+)"', html))
    assert dots + html.count('class="front-pt"') == sum(1 for r in rows.values() if r["macs"])


def test_sweep_front_is_the_sweeps_own(sweep: Any, tmp_path: Path) -> None:
    from archspec.sweep.select import Axis, pareto_front
    from archspec.sweep.table import read_rows

    path, printed = sweep
    html = sweep_report(path, tmp_path / "r.html")
    shown = [int(r["index"]) for r in table_rows(html, "s0-front")]
    assert sorted(shown) == sorted(printed)  # what `archspec sweep` printed as its front
    own = pareto_front(read_rows(path), Axis.parse("params"), Axis.parse("macs:max"))
    assert sorted(shown) == sorted(int(r["index"]) for r in own)
    macs = [int(r["MACs"]) for r in table_rows(html, "s0-front")]
    assert macs == sorted(macs, reverse=True)


def test_sweep_with_specs_overlays_them(sweep: Any, tmp_path: Path) -> None:
    path, _ = sweep
    html = sweep_report(path, tmp_path / "r.html", "specs/resnext50_32x4d.yaml")
    section = html.split('id="s0"', 1)[1].split("</section>", 1)[0]
    assert 'href="#m0"' in section and ">resnext50_32x4d</text>" in section


def test_sweep_points_are_capped_and_sampled_deterministically(
    sweep: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archspec.report import sweeps

    path, printed = sweep
    monkeypatch.setattr(sweeps, "MAX_POINTS", 40)
    first = sweep_report(path, tmp_path / "a.html")
    assert first == sweep_report(path, tmp_path / "b.html")
    dots = sum(int(n) for n in re.findall(r'data-count="(\d+)"', first))
    assert dots + first.count('class="front-pt"') == 40
    assert first.count('class="front-pt"') == len(printed)  # the front is always drawn
    assert "40 of the 72 candidates with figures" in first


def _with_cell(text: str, row: int, column: str, value: str) -> str:
    """The CSV text with one cell changed (row counted from 1 after the header)."""
    rows = list(csv.reader(io.StringIO(text)))
    rows[row][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda text: "a,b\n1,2\n", "not a sweep table: no column 'index'"),
        (lambda text: text.replace(",ok,", ",okay,", 1), "row 1, column 'status': 'okay'"),
        (lambda text: text.replace("\n3,", "\n1,", 1), "row 4, column 'index': 1 appears twice"),
        (lambda text: _with_cell(text, 3, "params", "x"), "row 3, column 'params': 'x'"),
        (lambda text: _with_cell(text, 2, "macs", "-5"), "row 2, column 'macs': -5 is not"),
    ],
)
def test_bad_sweep_table_exits_2_naming_file_row_and_column(
    sweep: Any, tmp_path: Path, edit: Any, where: str
) -> None:
    path, _ = sweep
    bad = tmp_path / "bad.csv"
    bad.write_text(edit(path.read_text()))
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", "--sweep", str(bad), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert f"--sweep {bad}" in result.stderr and where in result.stderr, result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_report_needs_a_spec_or_a_sweep(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["report", "--sweep", str(tmp_path / "no.csv")])
    assert missing.exit_code == 2 and "no.csv: cannot read the table" in missing.stderr
    empty = runner.invoke(app, ["report", "-o", str(tmp_path / "r.html")])
    assert empty.exit_code == 2 and "--sweep TABLE.csv" in empty.stderr


@pytest.mark.slow
def test_sweep_report_is_byte_identical_across_processes_without_torch(
    sweep: Any, tmp_path: Path
) -> None:
    path, _ = sweep
    code = (
        "import sys\n"
        "from archspec.cli import app\n"
        "try:\n"
        "    app(['report', 'specs/resnet18.yaml', '--sweep', sys.argv[1], '-o', sys.argv[2]])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('torch' in sys.modules)\n"
    )
    pages = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.html"
        command = [sys.executable, "-c", code, str(path), str(out)]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        assert result.stdout.strip().splitlines()[-1] == "False"
        pages.append(out.read_bytes())
    assert pages[0] == pages[1]
