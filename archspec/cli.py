"""The command line: the only place that prints or sets exit codes.

Exit codes: 0 ok, 1 `build --check` / `diagram --check` found stale files, 2 bad input
(spec, option, `--set` or path). The `archspec` command enters through archspec_cnn.py.
"""

from __future__ import annotations

import difflib
import json
import shlex
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from archspec import cli_import, cli_sweep
from archspec.api import Compiled, compile_file, header_flag, output_path, unrecordable
from archspec.cli_help import Group
from archspec.conventions import CONVENTIONS, count
from archspec.diff import diff
from archspec.distribution import DISTRIBUTION, version
from archspec.emit import diagram_goldens
from archspec.emit.diff_format import format_diff
from archspec.emit.stats_format import Report, format_reports
from archspec.errors import ArchspecError, SpecError
from archspec.files import write_atomic
from archspec.memory import estimate
from archspec.render import render
from archspec.schema import json_schema
from archspec.spec.design import expanded, expanded_compound, regnet_rows

app = typer.Typer(
    cls=Group,
    add_completion=True,
    no_args_is_help=True,
    help="archspec: compile CNN stage tables (YAML) into exact PyTorch models, stats and diagrams.",
    pretty_exceptions_enable=False,
)

EXIT_STALE = 1
EXIT_INPUT = 2
DEFAULT_OUT = Path("generated")
# Diagrams are not committed (their goldens are, see --golden): an ignored folder by default.
DEFAULT_DIAGRAMS = Path("build/diagrams")

SpecsArg = Annotated[
    list[Path], typer.Argument(metavar="SPEC", help="Spec files (YAML).", show_default=False)
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Output directory.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a spec field (repeatable): --set head.num_classes=10, "
        "--set 'input=[3,320,320]', --set stages.depth.2=8. VALUE is YAML.",
        show_default=False,
    ),
]

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


class RankDir(StrEnum):
    TB = "TB"
    LR = "LR"


def _err(text: str) -> None:
    typer.echo(text, err=True)


def _fail(exc: ArchspecError) -> NoReturn:
    _err(str(exc))
    raise typer.Exit(EXIT_INPUT)


def _compile_all(specs: list[Path], overrides: list[str] | None = None) -> list[Compiled]:
    """Compile every spec (with the `--set` overrides); report all their errors, then exit 2."""
    compiled, reported = [], set()
    for spec in specs:
        try:
            compiled.append(compile_file(spec, overrides or ()))
        except SpecError as exc:
            # A bad --set fails every spec alike: say it once.
            if str(exc) not in reported:
                _err(str(exc))
            reported.add(str(exc))
    if reported:
        raise typer.Exit(EXIT_INPUT)
    return compiled


def _write(path: Path, data: bytes, *, err: bool = False) -> None:
    """Write `data` unless the file already holds it; say which (as formatters do)."""
    if path.is_file() and path.read_bytes() == data:
        typer.echo(f"unchanged {path}", err=err)
        return
    try:
        write_atomic(path, data)
    except ArchspecError as exc:
        _fail(exc)
    typer.echo(f"wrote {path}", err=err)


def _refuse_unrecordable(overrides: list[str]) -> None:
    """`build` records its overrides in the generated header; refuse any it cannot show."""
    bad = [text for text in overrides if unrecordable(text)]
    for text in bad:
        _err(
            f"--set {text}: error: cannot be recorded in the generated file's header "
            "(it must be printable ASCII without quotes or backslashes, and short)\n"
            "  fix: put this value in the spec itself"
        )
    if bad:
        raise typer.Exit(EXIT_INPUT)


def _render(source: str, fmt: str) -> bytes:
    try:
        return render(source, fmt)
    except ArchspecError as exc:
        _fail(exc)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{DISTRIBUTION} {version()}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """archspec: compile CNN stage tables (YAML) into exact PyTorch models, stats and diagrams."""


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
    overrides: SetOpt = None,
) -> None:
    """Generate a standalone PyTorch model file for each spec.

    With --set, the file's header records the overrides in its regenerate command.
    """
    _refuse_unrecordable(overrides or [])
    stale = []
    for compiled in _compile_all(specs, overrides):
        path = output_path(compiled, out, ".py")
        text = compiled.source().encode()
        if check:
            if not path.is_file() or path.read_bytes() != text:
                stale.append(path)
            continue
        _write(path, text)
    command = shlex.join(["archspec", "build", *map(str, specs)])
    command += "".join(f" {header_flag(text)}" for text in overrides or [])
    command += f" --out {shlex.quote(str(out))}" if out != DEFAULT_OUT else ""
    for path in stale:
        _err(f"{path}: stale or missing; run: {command}")
    if stale:
        raise typer.Exit(EXIT_STALE)
    if check:
        typer.echo(f"{len(specs)} file(s) up to date")


@app.command()
def stats(
    specs: SpecsArg,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="One row per op.")] = False,
    per_block: Annotated[
        bool, typer.Option("--per-block", help="One row per block (with --per-layer: both).")
    ] = False,
    fmt: Annotated[StatsFormat, typer.Option("--format", "-f")] = StatsFormat.table,
    exact: Annotated[
        bool,
        typer.Option("--exact", help="Exact integers in tables (JSON and CSV are always exact)."),
    ] = False,
    convention: Annotated[
        list[str] | None,
        typer.Option(
            "--convention",
            "-c",
            metavar="NAME",
            help="Also total as another tool counts: "
            + ", ".join(CONVENTIONS)
            + ", or all (repeatable).",
        ),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(
            "--batch",
            min=1,
            max=1_000_000,
            metavar="N",
            help="Estimate memory for this batch size.",
        ),
    ] = None,
    dtype: Annotated[DType, typer.Option("--dtype", help="dtype of memory estimates.")] = (
        DType.float32
    ),
    plot: Annotated[
        Path | None,
        typer.Option("--plot", metavar="FILE", help="Write a params-vs-MACs scatter (PNG)."),
    ] = None,
    overrides: SetOpt = None,
) -> None:
    """Params, MACs, FLOPs, activations, receptive fields; other tools' conventions; memory.

    Tables show 25.56 M / 4.09 G / 97.5 MiB; --exact, JSON and CSV give exact integers.
    """
    compiled = _compile_all(specs, overrides)
    names = _conventions(convention or [])
    reports = [
        Report(
            c.stats,
            estimate(c.arch, batch, dtype.value) if batch else None,
            [count(c.arch, name) for name in names],
        )
        for c in compiled
    ]
    levels = [level for level, on in (("block", per_block), ("layer", per_layer)) if on]
    sys.stdout.write(format_reports(reports, fmt.value, levels or ["stage"], exact=exact))
    if plot is not None:
        try:
            # Reported on stderr: stdout may be a JSON or CSV document.
            from archspec.emit.plot import scatter_png  # noqa: PLC0415 - matplotlib on demand

            _write(plot, scatter_png([r.stats for r in reports]), err=True)
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
    overrides: SetOpt = None,
) -> None:
    """Per-stage deltas and which state_dict tensors carry over, change shape, or are new.

    --set applies to both specs.
    """
    a, b = _compile_all([spec_a, spec_b], overrides)
    sys.stdout.write(format_diff(diff(a.arch, b.arch), fmt.value))


@app.command()
def diagram(
    specs: SpecsArg,
    level: Annotated[Level, typer.Option("--level", "-l")] = Level.block,
    fmt: Annotated[DiagramFormat, typer.Option("--format", "-f")] = DiagramFormat.svg,
    out: OutOpt = DEFAULT_DIAGRAMS,
    expand: Annotated[
        bool,
        typer.Option(
            "--expand", help="Draw every block; by default identical blocks in a row show once, xN."
        ),
    ] = False,
    rankdir: Annotated[
        RankDir, typer.Option("--rankdir", help="TB: top to bottom; LR: left to right.")
    ] = RankDir.TB,
    stages: Annotated[
        str | None,
        typer.Option(
            "--stages",
            metavar="N..M",
            help="Draw only these stages: 3..4, 2 or 1,3 (stage1 follows the stem).",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help=f"Write nothing; exit 1 if the golden DOT files in {diagram_goldens.GOLDENS}/ "
            "are stale, missing or left from a removed spec.",
        ),
    ] = False,
    golden: Annotated[
        bool,
        typer.Option(
            "--golden",
            help=f"Rewrite the golden DOT files (every level) in {diagram_goldens.GOLDENS}/.",
        ),
    ] = False,
    overrides: SetOpt = None,
) -> None:
    """Draw each spec with Graphviz: always a .dot, plus an SVG or PNG.

    Files are named <name>.dot/.svg at block level and <name>.<level>.dot/.svg otherwise.
    """
    if check or golden:
        given = {
            "--set": bool(overrides),
            "--out": out != DEFAULT_DIAGRAMS,
            "--level": level != Level.block,
            "--format": fmt != DiagramFormat.svg,
            "--expand": expand,
            "--rankdir": rankdir != RankDir.TB,
            "--stages": stages is not None,
        }
        _goldens(specs, [name for name, on in given.items() if on], check=check)
        return
    for compiled in _compile_all(specs, overrides):
        try:
            source = compiled.dot(
                level.value, collapse=not expand, rankdir=rankdir.value, stages=stages
            )
        except ArchspecError as exc:
            _fail(exc)
        suffix = "" if level == Level.block else f".{level.value}"
        # Render before writing anything, so a failed render leaves no mismatched pair.
        image = _render(source, fmt.value) if fmt != DiagramFormat.dot else None
        _write(output_path(compiled, out, f"{suffix}.dot"), source.encode())
        if image is not None:
            _write(output_path(compiled, out, f"{suffix}.{fmt.value}"), image)


def _goldens(specs: list[Path], options: list[str], *, check: bool) -> None:
    """`diagram --check` / `--golden`: the committed DOT goldens of the specs as written.

    `options`: the drawing options given, which the goldens (every level, defaults) refuse."""
    if options:
        _err(
            f"error: {', '.join(options)}: --check and --golden cover the specs as written, "
            f"every level with the default options, in {diagram_goldens.GOLDENS}/\n"
            f"  fix: drop {', '.join(options)}"
        )
        raise typer.Exit(EXIT_INPUT)
    compiled = _compile_all(specs)
    try:
        files = diagram_goldens.expected({c.name: c.arch for c in compiled})
    except ArchspecError as exc:
        _fail(exc)
    # Goldens of specs not named here stay unless their spec file is gone.
    known = {path.stem for spec in specs for path in spec.parent.glob("*.yaml")}
    accept = shlex.join(["archspec", "diagram", *map(str, specs), "--golden"])
    if check:
        paths = diagram_goldens.stale(files, known=known)
        for path in paths:
            _err(f"{path}: stale, missing or without a spec; run: {accept}")
        if paths:
            raise typer.Exit(EXIT_STALE)
        typer.echo(f"{len(files)} golden file(s) up to date")
        return
    try:
        touched = diagram_goldens.write(files, known=known)
    except ArchspecError as exc:
        _fail(exc)
    for path in touched:
        typer.echo(f"{'wrote' if path in files else 'removed'} {path}")
    typer.echo(f"{len(files)} golden file(s), {len(touched)} changed")


@app.command()
def report(
    specs: Annotated[
        list[Path] | None,
        typer.Argument(metavar="SPEC", help="Spec files (YAML).", show_default=False),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="The HTML file to write.")
    ] = Path("build/report.html"),
    batch: Annotated[
        int,
        typer.Option("--batch", min=1, max=1_000_000, metavar="N", help="Memory at this batch."),
    ] = 1,
    dtype: Annotated[DType, typer.Option("--dtype", help="dtype of memory estimates.")] = (
        DType.float32
    ),
    overrides: SetOpt = None,
    sweeps: Annotated[
        list[Path] | None,
        typer.Option(
            "--sweep",
            metavar="TABLE.csv",
            help="Add a sweep's table (`archspec sweep -o`): its plot and Pareto front.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """One self-contained HTML page: totals, tables and a diagram that opens stage by stage.

    Several specs add a comparison, a params-vs-MACs plot and the diff view; --sweep, sweeps.
    """
    if not specs and not sweeps:
        _err("error: nothing to report\n  fix: name at least one SPEC, or pass --sweep TABLE.csv")
        raise typer.Exit(EXIT_INPUT)
    from archspec.report import read_sweep, render_report  # noqa: PLC0415 - only `report` needs it

    compiled = _compile_all(specs or [], overrides)
    try:
        tables = [read_sweep(path) for path in sweeps or []]
    except ArchspecError as exc:
        _fail(exc)
    _write(output, render_report(compiled, batch, dtype.value, tables).encode())


@app.command()
def validate(specs: SpecsArg, overrides: SetOpt = None) -> None:
    """Check specs: every error as file:line:col, field, problem and fix; exit 2 on any."""
    for compiled in _compile_all(specs, overrides):
        totals = compiled.stats.totals
        typer.echo(
            f"ok: {compiled.loaded.file} ({compiled.name}: {totals.params:,} params, "
            f"{totals.macs:,} MACs)"
        )


@app.command()
def expand(
    spec: Annotated[Path, typer.Argument(help="A spec with a design (regnet:, width_mult).")],
) -> None:
    """Print the stage table a design or a compound scaling compiles to, as a spec to edit."""
    compiled = _compile_all([spec])[0]
    data, loaded = compiled.loaded.source.data, compiled.loaded.spec
    if isinstance(data, dict) and loaded.regnet is not None:
        typer.echo(expanded(data, regnet_rows(loaded.regnet)), nl=False)
    elif isinstance(data, dict) and (loaded.width_mult or loaded.depth_mult):
        typer.echo(expanded_compound(data, loaded), nl=False)
    else:
        message = "has no design to expand (regnet:, or width_mult / depth_mult)"
        _err(f"{compiled.loaded.file}: {message}")
        raise typer.Exit(2)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec language (for editor completion)."""
    typer.echo(json.dumps(json_schema(), indent=2))


app.command()(cli_sweep.sweep)
app.command()(cli_sweep.fit)
app.command(name="import")(cli_import.import_)


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
