"""Rendering DOT to SVG/PNG through graphviz-pure."""

from __future__ import annotations

import os
import struct
import subprocess
import xml.etree.ElementTree as ET
from importlib import metadata
from typing import Any

import pytest

from archspec.render import RenderError, find_renderer, render

SMALL_DOT = """
digraph G {
  rankdir=LR;
  node [fontname="Helvetica", shape=box];
  subgraph cluster_stem {
    label="Stem";
    conv [label=<<b>Conv 3x3</b><br/><font point-size="9">64 channels</font>>];
  }
  block [shape=record, label="{ResBlock|{in|out}}"];
  conv -> block;
}
"""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"


def test_svg_is_xml_with_cluster_and_html_label() -> None:
    root = ET.fromstring(render(SMALL_DOT, "svg"))
    assert root.tag == f"{SVG_NS}svg"
    text = " ".join(root.itertext())
    assert "Conv 3x3" in text
    assert "64 channels" in text
    assert "Stem" in text
    assert any(g.get("class") == "cluster" for g in root.iter(f"{SVG_NS}g"))


def test_png_has_signature_and_size() -> None:
    png = render(SMALL_DOT, "png")
    assert png.startswith(PNG_SIGNATURE)
    # The first chunk is IHDR: length(4) type(4) then big-endian width and height.
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 50
    assert height > 50


RANK_ACROSS_CLUSTERS = """
digraph G {
  newrank=true;
  subgraph cluster_a { a1 -> a2; }
  subgraph cluster_b { b1 -> b2; }
  a2 -> b1;
  {rank=same; a1; b2;}
}
"""


def _centre_y(svg: bytes, title: str) -> float:
    for group in ET.fromstring(svg).iter(f"{SVG_NS}g"):
        ellipse = group.find(f"{SVG_NS}ellipse")
        if group.findtext(f"{SVG_NS}title") == title and ellipse is not None:
            return float(ellipse.get("cy", "nan"))
    raise AssertionError(f"node {title} not drawn")


def test_rank_same_across_clusters_with_newrank() -> None:
    # The DenseNet ladders put boxes of different clusters side by side this way.
    svg = render(RANK_ACROSS_CLUSTERS, "svg")
    assert _centre_y(svg, "a1") == _centre_y(svg, "b2")
    assert _centre_y(svg, "a2") > _centre_y(svg, "a1")


def test_svg_is_deterministic() -> None:
    assert render(SMALL_DOT, "svg") == render(SMALL_DOT, "svg")


def test_invalid_dot_reports_renderer_message() -> None:
    with pytest.raises(RenderError, match="syntax error"):
        render("digraph { a -> ; }", "svg")


def test_empty_source_is_an_error() -> None:
    with pytest.raises(RenderError, match="no svg output"):
        render("", "svg")


def test_unsupported_format() -> None:
    with pytest.raises(RenderError, match="'pdf'"):
        render(SMALL_DOT, "pdf")


def test_timeout_becomes_render_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def too_slow(command: list[str], **kwargs: Any) -> None:
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", too_slow)
    with pytest.raises(RenderError, match="within 120 s"):
        render(SMALL_DOT, "svg")


def test_renderer_found_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # CI runs .venv/bin/python without activating the venv, so bin/ is not on PATH.
    try:
        metadata.distribution("graphviz-pure")
    except metadata.PackageNotFoundError:
        pytest.skip("graphviz-pure is not installed in this environment")
    monkeypatch.setenv("PATH", "")
    command = find_renderer()
    assert os.path.isabs(command[0])
    assert os.access(command[0], os.X_OK)
    assert render(SMALL_DOT, "svg").lstrip().startswith(b"<?xml")


def test_missing_renderer_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", not_installed)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RenderError, match="pip install graphviz-pure"):
        find_renderer()
