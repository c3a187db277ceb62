"""Render DOT source to SVG or PNG bytes with graphviz-pure (or a system Graphviz `dot`).

graphviz-pure 0.2.2 (Rust port of Graphviz 16.1.0) is a static binary placed in the
environment's bin/ by its wheel; it holds no Python code, so `python -m` is not an option.
Findings checked against that version:
- HTML-like labels, clusters, record shapes and `rankdir` all lay out and draw as in Graphviz.
- fontname="Helvetica" works without system fonts: the bundled Arimo (metric-compatible)
  is used; SVG says font-family="Helvetica,sans-Serif". Unknown fonts only warn on stderr.
- Output is byte-for-byte identical across runs, for SVG and PNG alike.
- A 200-node graph with 10 clusters and HTML labels: ~0.04 s to SVG, ~0.25 s to PNG
  (200 nodes, 400 random edges: ~0.08 s / ~0.33 s).
- Syntax errors exit 1 with "Error: <stdin>: syntax error in line N near '...'" on stderr;
  empty input exits 0 with no output; formats are svg, png, jpeg, dot, json, ... (no pdf).
- `rank=same` over nodes of different clusters needs graph attribute `newrank=true`; without
  it the nodes are dropped from their clusters and layout fails ("rank N ... is full").
- A table nested in a cell of the graph label is stretched to the cell's width (its cells
  grow), unlike Graphviz; a legend therefore belongs in a node of its own (shape=plain).
- Edge labels make dot add a rank per labelled edge; `xlabel` saves only ~15% height at
  layer level and then overlaps edges and cluster titles, so diagrams use `label`.
"""

from __future__ import annotations

import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from archspec.errors import ArchspecError

FORMATS = frozenset({"svg", "png"})
TIMEOUT_S = 120.0
MAX_STDERR_LINES = 10

_DISTRIBUTION = "graphviz-pure"
# Windows wheels install Scripts/graphviz-pure.exe; elsewhere bin/graphviz-pure.
_EXECUTABLE_NAMES = frozenset({"graphviz-pure", "graphviz-pure.exe"})


class RenderError(ArchspecError):
    """A diagram could not be rendered; the message says what failed and how to fix it."""


def find_renderer() -> list[str]:
    """The command prefix that renders DOT from stdin, e.g. ["/venv/bin/graphviz-pure"]."""
    # The distribution's own file list comes first: it finds the binary even when the
    # venv is not activated (`.venv/bin/python -m pytest`), where bin/ is not on PATH.
    found = _installed_executable() or shutil.which("graphviz-pure") or shutil.which("dot")
    if found is None:
        raise RenderError(
            "no Graphviz renderer found: neither the 'graphviz-pure' executable nor a 'dot' "
            "command is available. Fix: run `pip install graphviz-pure` in the environment "
            "that runs archspec."
        )
    return [found]


def _installed_executable() -> str | None:
    """The graphviz-pure binary recorded in the installed distribution's RECORD, if present."""
    try:
        files = metadata.distribution(_DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name in _EXECUTABLE_NAMES:
            # RECORD stores it relative to site-packages ("../../../bin/graphviz-pure").
            path = Path(file.locate()).resolve()
            if path.is_file():
                return str(path)
    return None


def render(dot_source: str, fmt: str, *, timeout: float = TIMEOUT_S) -> bytes:
    """Lay out `dot_source` with dot and return the image in `fmt` ("svg" or "png")."""
    if fmt not in FORMATS:
        raise RenderError(
            f"cannot render to format {fmt!r}. Fix: use one of {', '.join(sorted(FORMATS))}."
        )
    command = [*find_renderer(), f"-T{fmt}"]
    result = _run(command, dot_source.encode("utf-8"), fmt, timeout)
    if result.returncode != 0:
        raise RenderError(
            f"{command[0]} failed to render {fmt} (exit status {result.returncode}):\n"
            f"{_first_lines(result.stderr)}\n"
            "Fix: correct the DOT source at the place the renderer reports."
        )
    if not result.stdout:
        raise RenderError(
            f"{command[0]} produced no {fmt} output. Fix: check that the DOT source "
            "contains a graph (it may be empty)."
        )
    return result.stdout


def _run(
    command: list[str], stdin: bytes, fmt: str, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """Run the renderer without a shell, mapping launch failures and timeouts to RenderError."""
    try:
        return subprocess.run(
            command, input=stdin, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RenderError(
            f"{command[0]} did not finish rendering {fmt} within {timeout:g} s. Fix: split "
            "or simplify the graph, or render to svg, which is faster than png."
        ) from exc
    except OSError as exc:
        raise RenderError(
            f"could not run {command[0]}: {exc}. Fix: reinstall the renderer with "
            "`pip install --force-reinstall graphviz-pure`."
        ) from exc


def _first_lines(stderr: bytes) -> str:
    """The start of the renderer's stderr, indented, so a long dump stays readable."""
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    shown = [f"  {line}" for line in lines[:MAX_STDERR_LINES]]
    if len(lines) > MAX_STDERR_LINES:
        shown.append(f"  ... ({len(lines) - MAX_STDERR_LINES} more lines)")
    return "\n".join(shown) or "  (no message on stderr)"
