"""The `sweep` and `fit` commands (registered by archspec.cli; part of the command line, so they
print and set exit codes). The work is done in archspec.sweep, which prints nothing."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from archspec.errors import ArchspecError, SpecError
from archspec.files import write_atomic
from archspec.memory import DTYPE_BYTES

EXIT_INPUT = 2
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="KEY=VALUE", help="Override a base-spec field first (repeatable, YAML)."
    ),
]
DTypeOpt = Annotated[
    str, typer.Option("--dtype", help="dtype of memory figures: " + ", ".join(DTYPE_BYTES))
]


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(EXIT_INPUT)


def _write(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except ArchspecError as exc:
        _fail(str(exc))
    typer.echo(f"wrote {path}", err=True)


def sweep(
    space_file: Annotated[Path, typer.Argument(metavar="SPACE", help="Design-space file (YAML).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="FILE", help="Table (CSV); default build/sweeps/NAME.csv."
        ),
    ] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", min=1, help="Override the space's `samples`.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Override the space's `seed`.")
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(
            "--batch", min=1, max=1_000_000, help="Add memory figures at this batch size."
        ),
    ] = None,
    dtype: DTypeOpt = "float32",
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", min=1, help="Processes (default: every core).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="Run on a dask.distributed scheduler (needs the `dask` extra).",
        ),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Discard an existing table instead of resuming it.")
    ] = False,
    pareto: Annotated[
        str, typer.Option("--pareto", metavar="X,Y", help="Front axes, FIGURE[:min|:max].")
    ] = "params,macs:max",
    top_k: Annotated[
        int | None, typer.Option("--top", metavar="K", min=1, help="Show the best K rows.")
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar="FIGURE", help="Rank --top by this figure (:min for smallest)."
        ),
    ] = "macs:max",
    emit_specs: Annotated[
        Path | None,
        typer.Option("--emit-specs", metavar="DIR", help="Write candidates as spec files."),
    ] = None,
    emit: Annotated[
        str, typer.Option("--emit", metavar="WHICH", help="Rows to write: front, top, ok or all.")
    ] = "front",
    plot: Annotated[
        Path | None,
        typer.Option("--plot", metavar="FILE", help="Scatter with the Pareto front (.png/.svg)."),
    ] = None,
    edf: Annotated[
        Path | None, typer.Option("--edf", metavar="FILE", help="EDF of --edf-figure (.png/.svg).")
    ] = None,
    edf_figure: Annotated[str, typer.Option("--edf-figure", metavar="FIGURE")] = "macs",
    compare: Annotated[
        list[Path] | None,
        typer.Option("--compare", metavar="CSV", help="Other sweeps' tables drawn in the EDF."),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")
    ] = True,
    overrides: SetOpt = None,
) -> None:
    """Sample or enumerate a design space; figures, constraints, Pareto front, top K."""
    from archspec.sweep.figures import Memory  # noqa: PLC0415 - keeps `--help` fast
    from archspec.sweep.run import RunOptions, run_sweep  # noqa: PLC0415
    from archspec.sweep.select import Axis, pareto_front, top  # noqa: PLC0415
    from archspec.sweep.space import read_space  # noqa: PLC0415

    if dtype not in DTYPE_BYTES:
        _fail(
            f"error: --dtype: unknown dtype {dtype!r}\n  fix: use one of {', '.join(DTYPE_BYTES)}"
        )
    if emit not in ("front", "top", "ok", "all"):
        _fail(f"error: --emit: {emit!r}\n  fix: use front, top, ok or all")
    try:
        space = read_space(space_file, overrides or ())
        x, y = _axes(pareto)
        rank = Axis.parse(by, default_max=True)
    except ArchspecError as exc:
        _fail(_option_error(exc))
    if samples is not None:
        space.samples = samples
    if seed is not None:
        space.seed = seed
    out = out or Path("build/sweeps") / f"{space.name}.csv"
    memory = Memory(batch, dtype) if batch else None
    options = RunOptions(out, memory, workers, scheduler, restart=restart)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with _Bar(progress, space.size) as bar:
            table = run_sweep(space, options, bar.update)
    except (ArchspecError, OSError) as exc:
        _fail(f"error: {exc}")
    rows = table.sorted_rows()
    front = pareto_front(rows, x, y)
    best = top(rows, top_k, rank) if top_k else []
    _summary(rows, out)
    _show("Pareto front", front, [x.figure, y.figure], space)
    if top_k:
        _show(f"top {top_k} by {by}", best, [rank.figure], space)
    if emit_specs is not None:
        chosen = {
            "front": front,
            "top": best,
            "ok": [r for r in rows if r["status"] == "ok"],
            "all": rows,
        }
        _emit(space, chosen[emit], emit_specs)
    _plots(space, rows, front, (x, y), (plot, edf, edf_figure, compare or []))


def _option_error(exc: ArchspecError) -> str:
    return str(exc) if isinstance(exc, SpecError) else f"error: {exc}"


def _axes(text: str) -> tuple[Any, Any]:
    from archspec.sweep.select import Axis, SelectError  # noqa: PLC0415

    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) != 2:
        raise SelectError(f"--pareto takes two figures, X,Y; got {text!r}")
    return Axis.parse(parts[0]), Axis.parse(parts[1])


class _Bar:
    """A rich progress bar (rate and ETA) on stderr; silent when turned off."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total
        self.progress: Any = None
        self.task: Any = None
        self.first: int | None = None  # rows done before this run (resumed)

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.console import Console  # noqa: PLC0415 - loaded on demand
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>9} specs/s"),
                TimeElapsedColumn(),
                TextColumn("ETA {task.fields[eta]}"),
                console=Console(stderr=True),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("sweep", total=self.total, rate="", eta="-")
        self.clock = time.perf_counter()
        return self

    def update(self, done: int, total: int) -> None:
        if self.progress is None:
            return
        if self.first is None:
            self.first = done
        elapsed = max(time.perf_counter() - self.clock, 1e-9)
        rate = (done - self.first) / elapsed
        # Rate and ETA over this run only: rows resumed from the table took no time now.
        eta = "-" if rate <= 0 else _clock((total - done) / rate)
        self.progress.update(self.task, completed=done, total=total, rate=f"{rate:,.0f}", eta=eta)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _summary(rows: list[dict[str, Any]], out: Path) -> None:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    parts = ", ".join(f"{counts.get(k, 0):,} {k}" for k in ("ok", "rejected", "invalid"))
    typer.echo(f"{len(rows):,} candidates: {parts}; table: {out}")


def _show(title: str, rows: list[dict[str, Any]], figures: list[str], space: Any) -> None:
    varied = [f"regnet.{k}" for k in space.regnet or {}] + [a.name for a in space.axes]
    names = ["index", *dict.fromkeys([*figures, "params", "macs"]), *varied]
    typer.echo(f"\n{title} ({len(rows)} rows):")
    if not rows:
        return
    cells = [[_fmt(row.get(n)) for n in names] for row in rows[:50]]
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    typer.echo("  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True)))
    for c in cells:
        typer.echo("  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)))
    if len(rows) > 50:
        typer.echo(f"... and {len(rows) - 50} more")


def _fmt(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _emit(space: Any, rows: list[dict[str, Any]], directory: Path) -> None:
    from archspec.sweep.candidates import build  # noqa: PLC0415

    for row in rows:
        if row["status"] == "invalid":
            continue
        candidate = build(space, int(row["index"]))
        _write(directory / f"{candidate.name}.yaml", candidate.spec_yaml(space).encode())


def _plots(
    space: Any, rows: list[dict[str, Any]], front: list[Any], axes: Any, wanted: Any
) -> None:
    from archspec.sweep import plots  # noqa: PLC0415
    from archspec.sweep.select import ok_rows  # noqa: PLC0415
    from archspec.sweep.table import read_rows  # noqa: PLC0415

    plot, edf, figure, compare = wanted
    try:
        if plot is not None:
            x, y = axes
            image = plots.scatter(ok_rows(rows, x, y), front, x, y, _format(plot), space.name)
            _write(plot, image)
        if edf is not None:
            series: dict[str, list[float]] = {space.name: _values(ok_rows(rows), figure)}
            for path in compare:
                series[path.stem] = _values(ok_rows(read_rows(path)), figure)
            _write(edf, plots.edf(series, figure, _format(edf), f"EDF of {figure}"))
    except ArchspecError as exc:
        _fail(f"error: {exc}")


def _values(rows: list[dict[str, Any]], figure: str) -> list[float]:
    return [float(r[figure]) for r in rows if r.get(figure) not in (None, "")]


def _format(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def fit(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec whose shape to scale.")],
    macs: Annotated[
        str | None, typer.Option("--macs", metavar="N", help="MACs budget, e.g. 2G.")
    ] = None,
    params: Annotated[
        str | None, typer.Option("--params", metavar="N", help="Parameter budget, e.g. 15M.")
    ] = None,
    vary: Annotated[
        str,
        typer.Option(
            "--vary",
            metavar="DIMS",
            help="width, depth, resolution (2 or 3 scale together, EfficientNet-style).",
        ),
    ] = "width",
    divisor: Annotated[
        int, typer.Option("--divisor", min=1, max=1024, help="Widths round to multiples of this.")
    ] = 8,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="FILE", help="Write the fitted spec here (default: stdout)."
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", metavar="KEY=VALUE", help="Override a spec field first (repeatable)."
        ),
    ] = None,
) -> None:
    """The largest network of SPEC's shape under a MACs and/or params budget."""
    from archspec.spec import read_spec  # noqa: PLC0415
    from archspec.sweep.candidates import spec_text  # noqa: PLC0415
    from archspec.sweep.figures import CandidateError  # noqa: PLC0415
    from archspec.sweep.fit import Budget, fit_spec  # noqa: PLC0415

    budget = Budget(_budget("--macs", macs), _budget("--params", params))
    try:
        loaded = read_spec(spec, overrides or ())
        data = loaded.spec.model_dump(exclude_unset=True)
        rows = data.pop("stages")
        result = fit_spec(data, rows, budget, tuple(v.strip() for v in vary.split(",")), divisor)
    except SpecError as exc:
        _fail(str(exc))
    except CandidateError as exc:
        _fail(f"{spec}: error: {exc}")
    except ArchspecError as exc:
        _fail(f"error: {exc}")
    header = (
        f"fitted from {spec} by archspec fit ("
        + ", ".join(f"{k}={v:.4g}" for k, v in result.knobs.items())
        + ")"
    )
    data = {k: v for k, v in result.top.items() if k not in ("class_name", "title")}
    data["name"] = f"{data['name'][:60]}_fit"
    text = spec_text({**data, "stages": result.rows}, header)
    _report_fit(result)
    if out is None:
        sys.stdout.write(text)
    else:
        _write(out, text.encode())


def _budget(option: str, text: str | None) -> float | None:
    from archspec.expr import ExprError, parse_number  # noqa: PLC0415 - only fit needs it

    if text is None:
        return None
    try:
        value = parse_number(text)
    except ExprError as exc:
        _fail(f"error: {option}: {exc.message}\n  fix: write a number such as 2G, 15M or 4e9")
    if value <= 0:
        _fail(f"error: {option}: must be positive, got {text}")
    return float(value)


def _report_fit(result: Any) -> None:
    lines = ["changed:"]
    lines += [f"  {name}: {before} -> {after}" for name, before, after in result.changes]
    lines.append(f"{'':8}{'before':>16}{'after':>16}")
    for name in ("params", "macs", "acts"):
        a, b = getattr(result.before, name), getattr(result.after, name)
        lines.append(f"{name:8}{a:>16,}{b:>16,}")
    typer.echo("\n".join(lines), err=True)
