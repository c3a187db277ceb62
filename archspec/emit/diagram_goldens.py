"""The DOT golden files: generated/diagrams/<spec>.<level>.dot for every zoo spec and level,
and the README's picture, docs/resnet50.block.svg, rendered from its golden file.

Run from the repository root:

    python -m archspec.emit.diagram_goldens          # rewrite them (accept a change)
    python -m archspec.emit.diagram_goldens --check  # exit 1 if any is stale, missing or extra

tests/test_diagram.py compares fresh output with these files and names the first command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from archspec.api import compile_file
from archspec.emit.dot import LEVELS, emit_dot
from archspec.files import write_atomic
from archspec.render import render

SPECS = Path("specs")
GOLDENS = Path("generated/diagrams")
# The README's picture: rendered from its golden file, so it can never show a stale diagram.
README_IMAGE = Path("docs/resnet50.block.svg")
README_SOURCE = GOLDENS / "resnet50.block.dot"
ACCEPT = "python -m archspec.emit.diagram_goldens"


def golden_name(spec: str, level: str) -> str:
    return f"{spec}.{level}.dot"


def expected(specs: Path = SPECS) -> dict[Path, bytes]:
    """Path (relative to the repository root) -> content, for every golden file."""
    out: dict[Path, bytes] = {}
    for path in sorted(specs.glob("*.yaml")):
        arch = compile_file(path).arch
        for level in LEVELS:
            out[GOLDENS / golden_name(path.stem, level)] = emit_dot(arch, level).encode()
    if README_SOURCE in out:
        out[README_IMAGE] = render(out[README_SOURCE].decode(), "svg")
    return out


def stale(files: dict[Path, bytes], root: Path = Path()) -> list[Path]:
    """Golden files under `root` that differ from `files`, are missing, or have no spec."""
    wrong = [path for path, data in files.items() if not _matches(root / path, data)]
    present = {path.relative_to(root) for path in (root / GOLDENS).glob("*.dot")}
    return sorted(wrong + list(present - files.keys()))


def _matches(path: Path, data: bytes) -> bool:
    return path.is_file() and path.read_bytes().replace(b"\r\n", b"\n") == data


def write(files: dict[Path, bytes], root: Path = Path()) -> list[Path]:
    """Write what changed and delete goldens without a spec; return the paths touched."""
    touched = stale(files, root)
    for path in touched:
        if path in files:
            write_atomic(root / path, files[path])
        else:
            (root / path).unlink()
    return touched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=ACCEPT, description="Regenerate the DOT golden files.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    files = expected()
    paths = stale(files) if args.check else write(files)
    if args.check:
        print("\n".join(f"{path}: stale; run: {ACCEPT}" for path in paths) or "ok")
        return 1 if paths else 0
    print(f"{len(files)} golden files, {len(paths)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
