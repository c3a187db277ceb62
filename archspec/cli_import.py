"""The `import` command (registered by archspec.cli; part of the command line, so it prints and
sets exit codes). The work is done in archspec.importer, which prints nothing.

Exit codes: 0 exact; 1 imported but not exact, or not importable (the spec is written only when
exact, or with --force); 2 bad input (a SOURCE that gives no model, a bad option or path)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from archspec.errors import ArchspecError
from archspec.files import write_atomic

EXIT_FAILED, EXIT_INPUT = 1, 2
LIBRARIES = ("timm", "torchvision")


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(EXIT_INPUT)


def import_(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="SOURCE",
            help="torchvision:NAME, timm:NAME, path/to/file.py:factory or package.module:factory "
            "(the last two import and run your code, as importing it would).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Spec to write (default: stdout)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Write the spec even if not exact, the mismatch on top."),
    ] = False,
    survey: Annotated[
        str | None,
        typer.Option(
            "--survey", metavar="LIBRARY", help="Import every CNN of timm or torchvision."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Survey at most this many models.")
    ] = None,
    models: Annotated[
        Path | None,
        typer.Option("--models", metavar="FILE", help="Survey these models (one a line)."),
    ] = None,
) -> None:
    """Turn a PyTorch CNN into a spec and prove it equal: prints `exact`, `imported, not exact:
    ...` or `not importable: ...`."""
    if survey is not None:
        _survey(survey, limit, models, out)
        return
    if source is None:
        _fail("import: error: give a SOURCE, or --survey timm|torchvision")
    from archspec.importer import BadModel, import_source  # noqa: PLC0415 - needs torch

    try:
        result = import_source(source)
    except BadModel as exc:  # untraceable or too large: bad input, not a verdict
        _fail(f"{source}: {exc}")
    except ArchspecError as exc:
        _fail(str(exc))
    typer.echo(result.line, err=True)
    text = result.spec if result.exact else _forced(result.spec, result.line, force)
    if text is not None:
        _emit(text, out)
    if not result.exact:
        raise typer.Exit(EXIT_FAILED)


def _forced(spec: str | None, line: str, force: bool) -> str | None:
    if spec is None or not force:
        return None
    return (
        f"# archspec import: {line}\n# (written with --force: this spec is NOT the model)\n{spec}"
    )


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        write_atomic(out, text.encode())
    except ArchspecError as exc:
        _fail(str(exc))
    typer.echo(f"wrote {out}", err=True)


def _survey(library: str, limit: int | None, models: Path | None, out: Path | None) -> None:
    if library not in LIBRARIES:
        _fail(f"--survey {library}: error: expected one of {', '.join(LIBRARIES)}")
    from archspec.importer.survey import run_survey, summary, table_csv  # noqa: PLC0415

    names = None
    if models is not None:
        try:
            names = [n.strip() for n in models.read_text().splitlines() if n.strip()]
        except OSError as exc:
            _fail(f"{models}: error: {exc.strerror or exc}")
    rows = []
    for row in run_survey(library, limit=limit, names=names):
        typer.echo(f"{row.model}: {row.line}", err=True)
        rows.append(row)
    for line in summary(library, rows):
        typer.echo(line)
    if out is not None:
        try:
            write_atomic(out, table_csv(rows).encode())
        except ArchspecError as exc:
            _fail(str(exc))
        typer.echo(f"wrote {out}", err=True)
