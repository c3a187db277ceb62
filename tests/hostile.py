"""Helpers for the hostile-input tests: run the real CLI and check the failure contract.

The contract (issue 6): bad input exits 2 with a message naming the file (and line:col where the
input has a position), never prints a traceback, never raises out of the CLI, writes nothing.
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from archspec.cli import app

# File-level problems have no line:col (nothing in the file can be pointed at).
UNLOCATED = (
    "is a directory",
    "is not a regular file",
    "cannot read",
    "bytes; specs are small",
    "is not UTF-8 text",
)


@dataclass
class Outcome:
    result: Result
    seconds: float
    out: Path

    @property
    def stderr(self) -> str:
        return self.result.stderr

    def written(self) -> list[Path]:
        return sorted(self.out.rglob("*")) if self.out.exists() else []


def build(spec: Path | str, out: Path, *extra: str) -> Outcome:
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["build", str(spec), "--out", str(out), *extra])
    return Outcome(result, time.perf_counter() - start, out)


def assert_clean(outcome: Outcome) -> None:
    """Whatever happened, it happened on purpose: no exception escaped, no traceback."""
    result = outcome.result
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"exception escaped the CLI: {result.exception!r}") from (
            result.exception
        )
    assert "Traceback" not in result.output
    assert "internal error" not in result.output


def assert_refused(outcome: Outcome, spec: Path | str, limit_s: float = 1.0) -> None:
    """Exit 2, every error names the file (with line:col where one exists), nothing written."""
    assert_clean(outcome)
    assert outcome.result.exit_code == 2, (outcome.result.exit_code, outcome.result.output)
    errors = [line for line in outcome.stderr.splitlines() if ": error: " in line]
    assert errors, outcome.stderr
    prefix = re.escape(str(spec))
    for line in errors:
        located = re.match(rf"{prefix}:\d+:\d+: error: ", line)
        if not located:
            assert re.match(rf"{prefix}: error: ", line), line
            assert any(reason in line for reason in UNLOCATED), f"not located: {line}"
    assert not outcome.written(), "a refused build must write nothing"
    assert outcome.seconds < limit_s, f"took {outcome.seconds:.2f} s"


def assert_built(outcome: Outcome) -> Path:
    """Exit 0 and one generated module that parses."""
    assert_clean(outcome)
    assert outcome.result.exit_code == 0, outcome.result.output
    (written,) = outcome.written()
    ast.parse(written.read_text(encoding="utf-8"))
    return written
