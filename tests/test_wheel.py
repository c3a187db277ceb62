"""The wheel carries its templates: install it in a fresh venv and build a spec from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import GENERATED, ROOT


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git for a clean copy")
@pytest.mark.slow
def test_wheel_installs_and_builds(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("archspec_cnn-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "archspec/templates/model.py.jinja" in names
    assert "archspec/templates/report/page.html.jinja" in names
    # Every block is a definition: no block template ships.
    assert not any(name.startswith("archspec/templates/blocks/") for name in names)
    for layout in ("torchvision_resnet", "timm_resnetv2", "torchvision_densenet"):
        assert f"archspec/stdlib/layouts/{layout}.yaml" in names
    shipped = {p.name for p in (ROOT / "archspec" / "stdlib" / "blocks").glob("*.yaml")}
    assert {"split_attention.yaml", "stem_deep.yaml", "dense_block.yaml"} <= shipped
    for kind in sorted(shipped):
        assert f"archspec/stdlib/blocks/{kind}" in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        env=pip_env,
    )
    work = tmp_path / "work"
    (work / "specs").mkdir(parents=True)
    shutil.copy(ROOT / "specs" / "resnet50.yaml", work / "specs")
    result = subprocess.run(
        [str(env_dir / "bin" / "archspec"), "build", "specs/resnet50.yaml", "--out", "out"],
        cwd=work,
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (work / "out" / "resnet50.py").read_bytes() == (GENERATED / "resnet50.py").read_bytes()
    # A block written as data (ECA) loads from the installed standard library.
    shutil.copy(ROOT / "specs" / "ecaresnet50d.yaml", work / "specs")
    eca = subprocess.run(
        [str(env_dir / "bin" / "archspec"), "build", "specs/ecaresnet50d.yaml", "--out", "out"],
        cwd=work,
        check=False,
        capture_output=True,
        text=True,
    )
    assert eca.returncode == 0, eca.stderr
    expected = (GENERATED / "ecaresnet50d.py").read_bytes()
    assert (work / "out" / "ecaresnet50d.py").read_bytes() == expected
    # The report's templates, styles and script load from the installed package too.
    report = subprocess.run(
        [str(env_dir / "bin" / "archspec"), "report", "specs/resnet50.yaml", "-o", "r.html"],
        cwd=work,
        check=False,
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0, report.stderr
    assert "25,557,032" in (work / "r.html").read_text()
    shown = subprocess.run(
        [str(env_dir / "bin" / "archspec"), "--version"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert shown.stdout == f"archspec-cnn {metadata.version('archspec-cnn')}\n", shown.stderr
