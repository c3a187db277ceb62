"""Malformed specs: each gets its exact located message (file:line:col, field, fix) and exit 2.

Cases live in tests/errors/NAME.yaml with the expected stderr and exit code in NAME.txt.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from archspec.cli import app
from tests.conftest import ROOT

CASES = sorted((ROOT / "tests" / "errors").glob("*.yaml"))


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_error_message(case: Path, tmp_path: Path) -> None:
    spec = case.relative_to(ROOT).as_posix()
    result = CliRunner().invoke(app, ["build", spec, "--out", str(tmp_path / "out")])
    expected = case.with_suffix(".txt").read_text()
    assert f"{result.stderr}exit {result.exit_code}\n" == expected
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists(), "a failed build must write nothing"


def test_at_least_ten_cases() -> None:
    assert len(CASES) >= 10


def test_errors_of_several_specs_are_all_reported(tmp_path: Path) -> None:
    bad = [f"tests/errors/{name}.yaml" for name in ("03_unknown_key", "04_wrong_type")]
    result = CliRunner().invoke(app, ["validate", "specs/resnet18.yaml", *bad])
    assert result.exit_code == 2
    assert "03_unknown_key.yaml:5:46" in result.stderr
    assert "04_wrong_type.yaml:5:32" in result.stderr
