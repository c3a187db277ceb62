"""What the import tests share: running `archspec import`, and a spec's network in numbers."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from archspec.api import compile_loaded
from archspec.cli import app
from archspec.spec import parse_spec

runner = CliRunner()


def run(*args: str) -> Any:
    """`archspec import ARGS` in process."""
    return runner.invoke(app, ["import", *args])


def network(text: str) -> tuple[dict[str, tuple[int, ...]], int, int]:
    """State_dict shapes, params and MACs of a spec at 224 px."""
    compiled = compile_loaded(parse_spec(text, "<t>", ["input=[3, 224, 224]"]))
    shapes = {k: tuple(t.shape) for k, t in compiled.arch.state_dict().items()}
    return shapes, compiled.stats.totals.params, compiled.stats.totals.macs
