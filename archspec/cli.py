"""The command line: the only place that prints or sets exit codes.

Exit codes: 0 ok, 1 `build --check` found stale files, 2 bad input (spec, option or path).
"""

from __future__ import annotations

import difflib
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from archspec.api import Compiled, compile_file, output_path
from archspec.conventions import CONVENTIONS, count
from archspec.diff import diff
from archspec.emit.diff_format import format_diff
from archspec.emit.plot import scatter_png
from archspec.emit.stats_format import Report, format_reports
from archspec.errors import ArchspecError, SpecError
from archspec.files import write_atomic
from archspec.memory import estimate
from archspec.render import render
from archspec.schema import json_schema

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="archspec: compile CNN stage tables (YAML) into exact PyTorch models, stats and diagrams.",
    pretty_exceptions_enable=False,
)

EXIT_STALE = 1
EXIT_INPUT = 2
DEFAULT_OUT = Path("generated")

SpecsArg = Annotated[list[Path], typer.Argument(help="Spec files (YAML).", show_default=False)]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]

T = TypeVar("T")


class StatsFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class DType(StrEnum):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    float64 = "float64"


class DiffFormat(StrEnum):
    text = "text"
    json = "json"


class Level(StrEnum):
    stage = "stage"
    block = "block"
    layer = "layer"


class DiagramFormat(StrEnum):
    svg = "svg"
    png = "png"
    dot = "dot"


def _err(text: str) -> None:
    typer.echo(text, err=True)


def _fail(exc: ArchspecError) -> NoReturn:
    _err(str(exc))
    raise typer.Exit(EXIT_INPUT)


def _compile_all(specs: list[Path]) -> list[Compiled]:
    """Compile every spec; report all their errors before exiting 2."""
    compiled, failed = [], False
    for spec in specs:
        try:
            compiled.append(compile_file(spec))
        except SpecError as exc:
            _err(str(exc))
            failed = True
    if failed:
        raise typer.Exit(EXIT_INPUT)
    return compiled


def _write(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except ArchspecError as exc:
        _fail(exc)
    typer.echo(f"wrote {path}")


def _render(source: str, fmt: str) -> bytes:
    try:
        return render(source, fmt)
    except ArchspecError as exc:
        _fail(exc)


@app.command()
def build(
    specs: SpecsArg,
    out: OutOpt = DEFAULT_OUT,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 if any generated file is missing or stale."
        ),
    ] = False,
) -> None:
    """Generate a standalone PyTorch model file for each spec."""
    stale = []
    for compiled in _compile_all(specs):
        path = output_path(compiled, out, ".py")
        text = compiled.source().encode()
        if check:
            if not path.is_file() or path.read_bytes() != text:
                stale.append(path)
            continue
        _write(path, text)
    for path in stale:
        _err(
            f"{path}: stale or missing; run: archspec build {' '.join(map(str, specs))}"
            + (f" --out {out}" if out != DEFAULT_OUT else "")
        )
    if stale:
        raise typer.Exit(EXIT_STALE)
    if check:
        typer.echo(f"{len(specs)} file(s) up to date")


@app.command()
def stats(
    specs: SpecsArg,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="One row per op.")] = False,
    per_block: Annotated[bool, typer.Option("--per-block", help="One row per block.")] = False,
    fmt: Annotated[StatsFormat, typer.Option("--format", "-f")] = StatsFormat.table,
    convention: Annotated[
        list[str] | None,
        typer.Option(
            "--convention",
            "-c",
            help="Also total as another tool counts: "
            + ", ".join(CONVENTIONS)
            + ", or all (repeatable).",
        ),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option("--batch", min=1, max=1_000_000, help="Estimate memory for this batch size."),
    ] = None,
    dtype: Annotated[DType, typer.Option("--dtype", help="dtype of memory estimates.")] = (
        DType.float32
    ),
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a params-vs-MACs scatter (PNG).")
    ] = None,
) -> None:
    """Params, MACs, FLOPs, activations, receptive fields; other tools' conventions; memory."""
    compiled = _compile_all(specs)
    names = _conventions(convention or [])
    reports = [
        Report(
            c.stats,
            estimate(c.arch, batch, dtype.value) if batch else None,
            [count(c.arch, name) for name in names],
        )
        for c in compiled
    ]
    granularity = "layer" if per_layer else "block" if per_block else "stage"
    sys.stdout.write(format_reports(reports, fmt.value, granularity))
    if plot is not None:
        try:
            _write(plot, scatter_png([r.stats for r in reports]))
        except ArchspecError as exc:
            _fail(exc)


def _conventions(requested: list[str]) -> list[str]:
    if "all" in requested:
        return list(CONVENTIONS)
    for name in requested:
        if name not in CONVENTIONS:
            close = difflib.get_close_matches(name, list(CONVENTIONS), n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else "use one of " + ", ".join(CONVENTIONS)
            )
            _err(f"error: --convention: unknown convention {name!r}\n  fix: {hint}")
            raise typer.Exit(EXIT_INPUT)
    return list(dict.fromkeys(requested))


@app.command("diff")
def diff_command(
    spec_a: Annotated[Path, typer.Argument(help="The spec you have (e.g. a checkpoint's).")],
    spec_b: Annotated[Path, typer.Argument(help="The spec you compare it with.")],
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.text,
) -> None:
    """Per-stage deltas and which state_dict tensors carry over, change shape, or are new."""
    a, b = _compile_all([spec_a, spec_b])
    sys.stdout.write(format_diff(diff(a.arch, b.arch), fmt.value))


@app.command()
def diagram(
    specs: SpecsArg,
    level: Annotated[Level, typer.Option("--level", "-l")] = Level.block,
    fmt: Annotated[DiagramFormat, typer.Option("--format", "-f")] = DiagramFormat.svg,
    out: OutOpt = DEFAULT_OUT,
    expand: Annotated[
        bool,
        typer.Option(
            "--expand", help="Draw every block; by default identical blocks in a row show once, xN."
        ),
    ] = False,
) -> None:
    """Draw each spec with Graphviz: always a .dot, plus an SVG or PNG.

    Files are named <name>.dot/.svg at block level and <name>.<level>.dot/.svg otherwise.
    """
    for compiled in _compile_all(specs):
        source = compiled.dot(level.value, collapse=not expand)
        suffix = "" if level == Level.block else f".{level.value}"
        # Render before writing anything, so a failed render leaves no mismatched pair.
        image = _render(source, fmt.value) if fmt != DiagramFormat.dot else None
        _write(output_path(compiled, out, f"{suffix}.dot"), source.encode())
        if image is not None:
            _write(output_path(compiled, out, f"{suffix}.{fmt.value}"), image)


@app.command()
def validate(specs: SpecsArg) -> None:
    """Check specs: every error as file:line:col, field, problem and fix; exit 2 on any."""
    for compiled in _compile_all(specs):
        totals = compiled.stats.totals
        typer.echo(
            f"ok: {compiled.loaded.file} ({compiled.name}: {totals.params:,} params, "
            f"{totals.macs:,} MACs)"
        )


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec language (for editor completion)."""
    typer.echo(json.dumps(json_schema(), indent=2))


def main() -> None:
    """Entry point: usage errors exit 2 (click); anything unexpected is reported, not dumped."""
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
    except Exception as exc:  # last resort: a one-line report, never a traceback
        _err(
            f"archspec: internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in archspec; please report it with the spec that caused it"
        )
        sys.exit(70)
