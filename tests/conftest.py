"""Shared fixtures: the zoo, compiled specs, and torch helpers (imported lazily)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from archspec.api import Compiled, compile_file

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GENERATED = ROOT / "generated"
ZOO = sorted(path.stem for path in SPECS.glob("*.yaml"))


@cache
def compiled(name: str) -> Compiled:
    """Compile a zoo spec with the spec path as the CLI sees it from the repository root."""
    return compile_file(Path("specs") / f"{name}.yaml")


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Generated headers name the spec relative to cwd: run everything from the checkout root.
    monkeypatch.chdir(ROOT)
