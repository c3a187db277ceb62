"""The DOT golden files: generated/diagrams/<spec>.<level>.dot for every zoo spec and level,
and the README's picture, docs/resnet50.block.svg, rendered from its golden file.

`archspec diagram specs/*.yaml --check` compares them with fresh output (exit 1 if stale,
missing, or left over from a removed spec); `archspec diagram specs/*.yaml --golden` rewrites
them. The CLI compiles the specs; this module only knows graphs and files. Paths are relative
to the repository root.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from archspec.files import write_atomic
from archspec.ir.graph import ArchGraph
from archspec.render import render

GOLDENS = Path("generated/diagrams")
# The README's picture: rendered from its golden file, so it can never show a stale diagram.
README_IMAGE = Path("docs/resnet50.block.svg")
README_SOURCE = GOLDENS / "resnet50.block.dot"
ACCEPT = "archspec diagram specs/*.yaml --golden"


def golden_name(spec: str, level: str) -> str:
    return f"{spec}.{level}.dot"


def expected(archs: Mapping[str, ArchGraph]) -> dict[Path, bytes]:
    """Path -> content of the golden files of these graphs (spec name -> graph)."""
    from archspec.emit.dot import LEVELS, emit_dot  # noqa: PLC0415 - keeps CLI start-up light

    out: dict[Path, bytes] = {}
    for name, arch in archs.items():
        for level in LEVELS:
            out[GOLDENS / golden_name(name, level)] = emit_dot(arch, level).encode()
    if README_SOURCE in out:
        out[README_IMAGE] = render(out[README_SOURCE].decode(), "svg")
    return out


def stale(
    files: dict[Path, bytes], root: Path = Path(), known: Collection[str] | None = None
) -> list[Path]:
    """Golden files under `root` that differ from `files` or are missing, and goldens left
    without a spec: those not in `files`, or, given `known` spec names, not of one of them."""
    wrong = [path for path, data in files.items() if not _matches(root / path, data)]
    present = {path.relative_to(root) for path in (root / GOLDENS).glob("*.dot")}
    extra = [
        path
        for path in present - files.keys()
        if known is None or path.name.split(".")[0] not in known
    ]
    return sorted(wrong + extra)


def _matches(path: Path, data: bytes) -> bool:
    return path.is_file() and path.read_bytes().replace(b"\r\n", b"\n") == data


def write(
    files: dict[Path, bytes], root: Path = Path(), known: Collection[str] | None = None
) -> list[Path]:
    """Write what changed and delete goldens without a spec; return the paths touched."""
    touched = stale(files, root, known)
    for path in touched:
        if path in files:
            write_atomic(root / path, files[path])
        else:
            (root / path).unlink()
    return touched
