"""Shared fixtures: the zoo, compiled specs, and torch helpers (imported lazily)."""

from __future__ import annotations

import re
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


# The fast loop, `pytest -m "not slow"`, does not even import a module that marks all its
# tests slow (`pytestmark = pytest.mark.slow`): such modules import torch and the reference
# libraries at the top, which alone costs seconds.
_WHOLLY_SLOW = re.compile(r"^pytestmark = pytest\.mark\.slow$", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    fast_loop = re.fullmatch(r"\s*not\s+slow\s*", config.option.markexpr or "") is not None
    if fast_loop and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return _WHOLLY_SLOW.search(collection_path.read_text(encoding="utf-8")) is not None or None
    return None
