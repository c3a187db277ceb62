"""Golden files: generated/ is exactly what the compiler writes today, byte for byte."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GENERATED, ROOT, ZOO, ZOO_PARAMS, compiled

ACCEPT = "archspec build specs/*.yaml"


@pytest.mark.parametrize("name", ZOO_PARAMS)
def test_generated_file_is_current(name: str) -> None:
    fresh = compiled(name).source()
    path = GENERATED / f"{name}.py"
    assert path.is_file(), f"{path} is missing; create it with: {ACCEPT}"
    committed = path.read_text().replace("\r\n", "\n")
    if fresh != committed:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                fresh.splitlines(keepends=True),
                f"generated/{name}.py (committed)",
                f"generated/{name}.py (fresh)",
            )
        )
        pytest.fail(f"generated/{name}.py is stale:\n{diff}\naccept with: {ACCEPT}")


def test_no_extra_generated_files() -> None:
    extra = sorted(p.name for p in GENERATED.glob("*.py") if p.stem not in ZOO)
    assert not extra, f"generated files without a spec: {extra}"


def _build(out: Path, seed: str) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "archspec",
            "build",
            *sorted(f"specs/{name}.yaml" for name in ZOO),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.slow
def test_builds_in_separate_processes_are_identical(tmp_path: Path) -> None:
    first = _build(tmp_path / "a", "1")
    second = _build(tmp_path / "b", "4242")
    assert first == second
    assert len(first) == len(ZOO)


def test_generated_files_pass_ruff() -> None:
    ruff = [sys.executable, "-m", "ruff"]
    check = subprocess.run(
        [*ruff, "check", "generated"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [*ruff, "format", "--check", "generated"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert fmt.returncode == 0, fmt.stdout


@pytest.mark.slow
def test_generated_files_import_only_torch() -> None:
    import ast

    for name in ZOO:
        tree = ast.parse((GENERATED / f"{name}.py").read_text())
        modules = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        modules |= {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert modules == {"torch"}, name
