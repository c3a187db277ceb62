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
# One spec of each family and layout: the per-spec golden and code checks run on these in the
# fast loop, and on the whole zoo with the slow tests (CI also runs `build --check` and
# `diagram --check` on every spec).
FAST_ZOO = {
    "convnext_tiny_timm",
    "densenet121",
    "efficientnet_b0_timm",
    "mobilenet_v3_small",
    "regnet_y_400mf",
    "res2net50_26w_4s",
    "resnest14d",
    "resnet50",
    "resnetv2_50",
    "skresnet18",
    "tf_efficientnet_b0",
    "vgg16_bn_timm",
}
ZOO_PARAMS = [pytest.param(n, marks=() if n in FAST_ZOO else pytest.mark.slow) for n in ZOO]


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
