"""`archspec report` in a real browser: Debian's chromium, driven by Playwright's Python API.

Playwright's own browser download cannot reach its servers here, so the tests launch the
system chromium (`apt-get install chromium`). Without it they skip, saying how to install it;
under CI (env CI set) they fail instead, because CI must run them. One browser serves the
whole module; every test gets a fresh page and, on teardown, checks that the page logged no
error and requested nothing but its own file.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from archspec.cli import app
from archspec.diff import diff
from archspec.report.diagram import tree
from tests.conftest import SPECS, compiled
from tests.test_report import make_sweep, stats_json

pytestmark = pytest.mark.slow

# ARCHSPEC_CHROMIUM points at another Chromium or Chrome binary (other distributions, macOS).
CHROMIUM = os.environ.get("ARCHSPEC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
INSTALL = (
    "install it with `sudo apt-get install chromium` (Debian/Ubuntu) or set ARCHSPEC_CHROMIUM "
    "to a Chromium binary, and `pip install -e '.[test]'` (Playwright's Python package)"
)
NAMES = ("resnet50", "densenet121", "seresnext50_32x4d")
VIEWPORT = {"width": 1280, "height": 800}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}; CI must run the browser tests: {INSTALL}", pytrace=False)
    pytest.skip(f"{reason}; {INSTALL}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not Path(CHROMIUM).is_file():
        _unavailable(f"no chromium executable ({CHROMIUM})")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    specs = [str(SPECS / f"{name}.yaml") for name in NAMES]
    result = CliRunner().invoke(app, ["report", *specs, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


@dataclass
class Loaded:
    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_page(browser: Any, path: Path, scheme: str = "light") -> tuple[Any, Loaded]:
    context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
    loaded = Loaded(context.new_page())
    loaded.page.on("console", lambda m: m.type == "error" and loaded.errors.append(m.text))
    loaded.page.on("pageerror", lambda e: loaded.errors.append(str(e)))
    loaded.page.on("request", lambda r: loaded.requests.append(r.url))
    loaded.page.goto(path.as_uri())
    return context, loaded


def assert_clean(loaded: Loaded, path: Path) -> None:
    assert loaded.errors == [], "the page logged errors"
    assert loaded.requests == [path.as_uri()], "the page made requests beyond loading itself"


@pytest.fixture
def loaded(browser: Any, report_file: Path) -> Iterator[Loaded]:
    context, page = open_page(browser, report_file)
    yield page
    assert_clean(page, report_file)
    context.close()


def stage(page: Any, model: int, name: str) -> Any:
    return page.locator(f'#m{model}-dg .node.stage[aria-label^="{name} "]')


def test_page_loads_offline_with_every_model(loaded: Loaded) -> None:
    page = loaded.page
    assert page.locator("section.model").count() == len(NAMES)
    assert page.locator("nav.side a").count() == len(NAMES) + 2
    assert page.locator("svg.dg").count() == len(NAMES)
    assert page.locator("svg.dg > title").count() == len(NAMES)
    assert page.locator("table").count() >= 5 * len(NAMES)


def test_totals_in_the_dom_equal_stats_json(loaded: Loaded) -> None:
    shown = loaded.page.evaluate(
        """() => Array.from(document.querySelectorAll('section.model')).map(s => {
            const out = {};
            s.querySelectorAll('[data-total][data-value]').forEach(e => {
                out[e.dataset.total] = [Number(e.dataset.value), e.textContent];
            });
            return out;
        })"""
    )
    expected = stats_json(*NAMES)
    for model, figures in zip(expected, shown, strict=True):
        for key in ("params", "buffers", "macs", "flops", "acts"):
            value, text = figures[key]
            assert value == model["totals"][key], (model["name"], key)
            assert f"{value:,}" in text, (model["name"], key, text)


def test_clicking_a_stage_opens_its_blocks_and_a_block_its_layers(loaded: Loaded) -> None:
    page = loaded.page
    arch = compiled("resnet50").arch
    blocks = list(dict.fromkeys(d["block"] for _, d in arch.nodes() if d["stage"] == "stage2"))
    node = stage(page, 0, "stage2")
    assert node.locator(".node.block:visible").count() == 0
    node.locator(":scope > .box").click()
    assert node.get_attribute("aria-expanded") == "true"
    shown = node.locator(".node.block:visible")
    assert shown.count() == len(blocks) == 4
    labels = [shown.nth(i).get_attribute("aria-label") for i in range(shown.count())]
    assert [label.split(":")[0] for label in labels] == blocks
    first = shown.nth(0)
    first.locator(":scope > .box").click()
    ops = [n for n, d in arch.nodes() if d["block"] == blocks[0]]
    assert first.locator(".op:visible").count() == len(ops)
    # The open block's title bar closes it again.
    first.locator(":scope > .frame .head").click()
    assert first.locator(".op:visible").count() == 0
    assert first.get_attribute("aria-expanded") == "false"


def test_hovering_an_op_shows_its_shapes_counts_and_field(loaded: Loaded) -> None:
    page = loaded.page
    net = compiled("resnet50")
    drawn = tree(net.arch, net.stats)
    tips = {p.key: p.box.tip for group in drawn.groups for p in group.layout.boxes}
    stage(page, 0, "stage2").locator(":scope > .box").click()
    page.locator('#m0-dg .node.block[aria-label^="layer2.0:"] > .box').click()
    block = page.locator('#m0-dg .node.block[aria-label^="layer2.0:"]')
    # The script words each op's tooltip from its layer row as archspec words it.
    shown = block.locator(".op > title").all_text_contents()
    keys = [n for n, d in net.arch.nodes() if d["block"] == "layer2.0"]
    assert shown == [tips[key] for key in keys]
    assert any("layer2.0.relu#2: ReLU" in tip for tip in shown)
    op = page.locator("#m0-dg .op").filter(has_text="conv 3x3, 128, /2")
    assert "in 128x56x56 -> out 128x28x28" in tips["layer2.0.conv2"]
    op.hover()
    floating = page.locator("div.floating")
    assert floating.is_visible()
    assert floating.inner_text() == tips["layer2.0.conv2"]
    page.mouse.move(2, 2)
    assert floating.is_hidden()
    assert op.locator("title").text_content() == tips["layer2.0.conv2"]


def test_level_buttons_open_everything(loaded: Loaded) -> None:
    page = loaded.page
    arch = compiled("densenet121").arch
    page.locator('#m1 button[data-level="layer"]').click()
    ops = [n for n, d in arch.nodes() if d["stage"] != "input"]
    assert page.locator("#m1-dg .op:visible").count() == len(ops)
    page.locator('#m1 button[data-level="stage"]').click()
    assert page.locator("#m1-dg .op:visible").count() == 0


def test_tab_reaches_stage_toggles_and_enter_opens_them(loaded: Loaded) -> None:
    page = loaded.page
    page.locator('#m0 button[data-zoom="fit"]').focus()
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('.node.stage')"):
            break
    focused = page.evaluate_handle("document.activeElement")
    assert page.evaluate("document.activeElement.matches('#m0-dg .node.stage')")
    assert focused.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")
    assert focused.get_attribute("aria-expanded") == "true"
    # The info line tells a keyboard user what the focused box holds.
    assert "params" in page.locator("#m0 .info").inner_text()


def _column(page: Any, table: str, header: str) -> list[float]:
    return page.evaluate(
        """([table, header]) => {
            const t = document.getElementById(table);
            const heads = Array.from(t.tHead.rows[0].cells).map(c => c.textContent.trim());
            const i = heads.indexOf(header);
            return Array.from(t.tBodies[0].rows).filter(r => !r.hidden)
                .map(r => Number(r.cells[i].dataset.v));
        }""",
        [table, header],
    )


def test_layer_table_sorts_by_macs(loaded: Loaded) -> None:
    page = loaded.page
    page.locator("#m0 details.more summary", has_text="Per-layer table").click()
    header = page.locator("#m0-layers th").filter(has_text=re.compile(r"^MACs$"))
    expected = [row.macs for row in compiled("resnet50").stats.layers]
    header.locator("button").click()
    assert _column(page, "m0-layers", "MACs") == sorted(expected, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    header.locator("button").click()
    assert _column(page, "m0-layers", "MACs") == sorted(expected)


def test_layer_table_filters_rows(loaded: Loaded) -> None:
    page = loaded.page
    page.locator("#m0 details.more summary", has_text="Per-layer table").click()
    page.locator('input[data-filter="m0-layers"]').fill("layer3. conv")
    layers = compiled("resnet50").stats.layers
    # Every row holding both words: layer3's convolutions, its projection shortcut's included.
    wanted = [r for r in layers if r.path.startswith("layer3.") and r.op == "conv"]
    assert page.locator("#m0-layers tbody tr:visible").count() == len(wanted) == 6 * 3 + 1
    assert page.locator("#m0-layers-count").inner_text() == f"19 of {len(layers)} rows"


def _view_box(page: Any) -> list[float]:
    return [float(v) for v in page.locator("#m0-dg").get_attribute("viewBox").split()]


def test_diagram_zooms_and_pans(loaded: Loaded) -> None:
    page = loaded.page
    before = _view_box(page)
    page.locator('#m0 button[data-zoom="in"]').click()
    zoomed = _view_box(page)
    assert zoomed[2] == pytest.approx(before[2] / 1.25, rel=1e-3)
    box = page.locator("#m0-dg").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)
    page.keyboard.up("Control")
    page.wait_for_function(f"document.querySelector('#m0-dg').viewBox.baseVal.width < {zoomed[2]}")
    wheeled = _view_box(page)
    # A drag pans the view and opens nothing.
    page.mouse.move(box["x"] + 60, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(box["x"] + 160, box["y"] + 110, steps=5)
    page.mouse.up()
    panned = _view_box(page)
    assert panned[2] == wheeled[2]
    assert panned[0] < wheeled[0] and panned[1] < wheeled[1]
    assert page.locator('#m0-dg .node[aria-expanded="true"]').count() == 0


def test_diff_view_between_any_two(loaded: Loaded) -> None:
    page = loaded.page
    page.select_option("#diff-a", label="resnet50")
    page.select_option("#diff-b", label="seresnext50_32x4d")
    result = diff(compiled("resnet50").arch, compiled("seresnext50_32x4d").arch)
    counts = page.locator("#diff-out .counts b").all_inner_texts()
    shown = [int(text.replace(",", "")) for text in counts]
    assert shown[1:] == [
        len(result.unchanged),
        len(result.reshaped),
        len(result.added),
        len(result.removed),
    ]
    new = page.locator("#diff-out details", has_text="New in seresnext50_32x4d")
    new.locator("summary").click()
    assert new.locator("li").count() == len(result.added)
    assert "layer1.0.se.fc1.weight" in new.inner_text()


def test_screenshots_in_light_and_dark(browser: Any, report_file: Path, tmp_path: Path) -> None:
    backgrounds = {}
    for scheme in ("light", "dark"):
        context, loaded = open_page(browser, report_file, scheme)
        page = loaded.page
        page.locator('nav a[href="#m0"]').click()
        stage(page, 0, "stage2").locator(":scope > .box").click()
        page.evaluate("window.scrollTo(0, document.getElementById('m0').offsetTop)")
        shot = tmp_path / f"report-{scheme}.png"
        print(f"screenshot: {shot}")
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 20_000
        backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert_clean(loaded, report_file)
        context.close()
    assert backgrounds["light"] == "rgb(255, 255, 255)"
    assert backgrounds["dark"] == "rgb(28, 33, 40)"


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of one spec and a sweep table the real `archspec sweep` wrote."""
    directory = tmp_path_factory.mktemp("sweep")
    table, _ = make_sweep(directory)
    out = directory / "sweep.html"
    spec = str(SPECS / "resnext50_32x4d.yaml")
    result = CliRunner().invoke(app, ["report", spec, "--sweep", str(table), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_sweep_section_renders_and_its_front_sorts_by_macs(
    browser: Any, sweep_file: Path, tmp_path: Path
) -> None:
    context, loaded = open_page(browser, sweep_file)
    page = loaded.page
    page.locator('nav a[href="#s0"]').click()
    section = page.locator("section.sweep#s0")
    assert section.locator("svg > title").text_content().startswith("Parameters against MACs")
    assert section.locator("path.cloud").count() >= 1
    assert section.locator(".front-pt").count() == section.locator("#s0-front tbody tr").count()
    assert section.locator("a.pt").count() == 1  # the spec, overlaid
    assert "candidates:" in section.locator(".counts").inner_text()
    header = page.locator("#s0-front th").filter(has_text=re.compile(r"^MACs$"))
    header.locator("button").click()  # numbers sort largest first, then smallest first
    macs = _column(page, "s0-front", "MACs")
    assert macs == sorted(macs, reverse=True) and len(set(macs)) > 1
    header.locator("button").click()
    assert _column(page, "s0-front", "MACs") == sorted(macs)
    page.locator('input[data-filter="s0-front"]').fill("none")
    assert page.locator("#s0-front tbody tr:visible").count() < len(macs)
    page.evaluate(
        "window.scrollTo({top: document.getElementById('s0').offsetTop, behavior: 'instant'})"
    )
    shot = tmp_path / "report-sweep.png"
    print(f"screenshot: {shot}")
    page.screenshot(path=str(shot))
    assert_clean(loaded, sweep_file)
    context.close()
