"""Cost of `archspec stats` versus runtime FLOP/MAC counters, each run as a fresh process.

Usage (from the repository root)::

    .venv/bin/python benchmarks/stats_vs_counters.py [--repeat N] [--spec PATH --model NAME]

Every measurement is a whole new process: interpreter start-up, imports, model construction
(for the peers) and the count itself. The tools are run round-robin, ``--repeat`` times each,
and the table reports the median wall time and median peak RSS, plus the totals each tool
printed next to archspec's, so that disagreements in the counts are visible.

Peers (all on the torchvision model named by ``--model``, input shape taken from the spec):

* fvcore ``FlopCountAnalysis(...).total()`` and ``parameter_count`` (fvcore's "flops" are MACs);
* ptflops ``get_model_complexity_info(..., backend="pytorch")`` (MACs);
* torchinfo ``summary(...)`` (mult-adds), shown as n/a when torchinfo is not installed;
* ``torch.utils.flop_counter.FlopCounterMode`` on CPU and on the ``meta`` device
  (FLOPs, 2 per MAC; it counts matmul/conv only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULT_MARK = "@@RESULT "

# Shared prelude of every peer process: argv[1] is the torchvision model name, argv[2] the
# input shape (C, H, W) as JSON. `emit` prints one marked JSON line that the parent parses;
# anything else the tool prints (warnings, banners) is ignored.
_PRELUDE = f"""
import json, sys
import torch, torchvision
NAME, SHAPE = sys.argv[1], tuple(json.loads(sys.argv[2]))
def build(device="cpu"):
    with torch.device(device):
        return torchvision.models.get_model(NAME).eval()
def emit(total, unit, macs, params):
    rec = dict(total=int(total), unit=unit, macs=int(macs), params=int(params))
    print({RESULT_MARK!r} + json.dumps(rec), flush=True)
"""

# Reference row: the floor every peer pays before counting anything.
_IMPORT_ONLY = """
pass
"""

_FVCORE = """
from fvcore.nn import FlopCountAnalysis, parameter_count
model = build()
fca = FlopCountAnalysis(model, torch.randn(1, *SHAPE))
fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
total = fca.total()
emit(total, "flops (=MACs)", total, parameter_count(model)[""])
"""

_PTFLOPS = """
from ptflops import get_model_complexity_info
macs, params = get_model_complexity_info(
    build(), SHAPE, as_strings=False, backend="pytorch", print_per_layer_stat=False)
emit(macs, "MACs", macs, params)
"""

_TORCHINFO = """
from torchinfo import summary
stats = summary(build(), (1, *SHAPE), verbose=0, device="cpu")
emit(stats.total_mult_adds, "mult-adds", stats.total_mult_adds, stats.total_params)
"""

# FlopCounterMode has no parameter counter of its own: params is torch's numel() sum.
_FLOP_COUNTER = """
from torch.utils.flop_counter import FlopCounterMode
DEVICE = sys.argv[3]
model = build(DEVICE)
x = torch.randn(1, *SHAPE, device=DEVICE)
with torch.no_grad(), FlopCounterMode(display=False) as counter:
    model(x)
flops = counter.get_total_flops()
emit(flops, "FLOPs", flops // 2, sum(p.numel() for p in model.parameters()))
"""


class ChildFailedError(RuntimeError):
    """A measured process exited non-zero; keeps its output for the caller to show."""

    def __init__(self, returncode: int, output: str) -> None:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        last = lines[-1] if lines else "(no output)"
        super().__init__(f"exit {returncode}: {last.replace('|', '/')}")
        self.output = output


@dataclass(frozen=True)
class Report:
    """The numbers one tool printed; `macs` is `total` converted to multiply-accumulates."""

    total: int
    unit: str
    macs: int
    params: int


@dataclass(frozen=True)
class Sample:
    wall_s: float
    rss_mib: float
    output: str


@dataclass(frozen=True)
class Tool:
    label: str
    argv: list[str]
    is_baseline: bool = False
    counts: bool = True  # False: a reference row that only measures the import floor


@dataclass(frozen=True)
class Row:
    label: str
    wall_s: float | None
    rss_mib: float | None
    report: Report | None
    error: str | None


def archspec_executable() -> Path:
    """The `archspec` console script of the running interpreter's environment.

    `python -m archspec.cli` is not usable: archspec/cli.py defines `main()` but has no
    `if __name__ == "__main__"` guard (and there is no archspec/__main__.py), so it would
    import the module and exit 0 without doing anything. The console script next to
    sys.executable is what a user actually runs.
    """
    script = Path(sys.executable).with_name("archspec")
    if not script.exists():
        raise SystemExit(f"error: no archspec console script next to {sys.executable}")
    return script


def peer(
    label: str, body: str, model: str, shape: list[int], *extra: str, counts: bool = True
) -> Tool:
    argv = [sys.executable, "-c", _PRELUDE + body, model, json.dumps(shape), *extra]
    return Tool(label, argv, counts=counts)


def tools(spec: Path, model: str, shape: list[int]) -> list[Tool]:
    cli = [str(archspec_executable()), "stats", str(spec), "--format", "json"]
    return [
        Tool("archspec stats (CLI)", cli, is_baseline=True),
        peer("fvcore FlopCountAnalysis", _FVCORE, model, shape),
        peer("ptflops (pytorch backend)", _PTFLOPS, model, shape),
        peer("torchinfo summary", _TORCHINFO, model, shape),
        peer("FlopCounterMode (cpu)", _FLOP_COUNTER, model, shape, "cpu"),
        peer("FlopCounterMode (meta)", _FLOP_COUNTER, model, shape, "meta"),
        peer("(ref) import torch+torchvision", _IMPORT_ONLY, model, shape, counts=False),
    ]


def _rss_mib(ru_maxrss: int) -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    return ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def measure(argv: list[str]) -> Sample:
    """Run argv once as a fresh process; return wall time, peak RSS and its output.

    Peak RSS comes from os.wait4() on that exact child: the kernel's rusage for the one
    process we started, its whole lifetime (start-up and teardown included), no wrapper
    code inside the workload and no dependence on /usr/bin/time. RUSAGE_CHILDREN is a
    running maximum over all children ever reaped, so deltas of it are meaningless once a
    bigger child has run; self-reporting from inside the child would need a wrapper around
    the CLI and would miss everything after the report is printed.
    Output goes to a temporary file rather than a pipe so that a chatty child can never
    block on a full pipe while we sit in wait4().
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by us, not by Popen
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        raise ChildFailedError(proc.returncode, output)
    return Sample(wall, _rss_mib(usage.ru_maxrss), output)


def parse_archspec(output: str) -> Report:
    totals = json.loads(output)["models"][0]["totals"]
    return Report(totals["macs"], "MACs", totals["macs"], totals["params"])


def parse_peer(output: str) -> Report:
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_MARK):
            rec: dict[str, Any] = json.loads(line.removeprefix(RESULT_MARK))
            return Report(rec["total"], rec["unit"], rec["macs"], rec["params"])
    raise RuntimeError("no result line in output")


def spec_input_shape(spec: Path) -> list[int]:
    """Input (C, H, W) as archspec reports it, so the peers count on the same input."""
    sample = measure([str(archspec_executable()), "stats", str(spec), "--format", "json"])
    shape: list[int] = json.loads(sample.output)["models"][0]["input"]
    return shape


def run_all(all_tools: list[Tool], repeat: int) -> list[Row]:
    """Round-robin over the tools `repeat` times, so drift hits every tool alike."""
    samples: dict[str, list[Sample]] = {t.label: [] for t in all_tools}
    errors: dict[str, str] = {}
    for i in range(repeat):
        for tool in all_tools:
            if tool.label in errors:
                continue
            print(f"  [{i + 1}/{repeat}] {tool.label}", file=sys.stderr, flush=True)
            try:
                samples[tool.label].append(measure(tool.argv))
            except RuntimeError as exc:
                errors[tool.label] = str(exc)
    return [summarize(t, samples[t.label], errors.get(t.label)) for t in all_tools]


def summarize(tool: Tool, samples: list[Sample], error: str | None) -> Row:
    if error is not None or not samples:
        return Row(tool.label, None, None, None, error or "no samples")
    parse = parse_archspec if tool.is_baseline else parse_peer
    try:
        report = parse(samples[-1].output) if tool.counts else None
    except (RuntimeError, ValueError, KeyError) as exc:
        return Row(tool.label, None, None, None, f"unparsable output: {exc!r}")
    return Row(
        tool.label,
        statistics.median(s.wall_s for s in samples),
        statistics.median(s.rss_mib for s in samples),
        report,
        None,
    )


def _ratio(value: float | None, base: float | None) -> str:
    return "-" if value is None or not base else f"{value / base:.1f}x"


def _delta(value: int, base: int) -> str:
    if value == base:
        return "exact"
    return f"{value - base:+,} ({(value - base) / base:+.3%})"


def table(rows: list[Row]) -> list[str]:
    base = rows[0]  # tools() lists the archspec CLI first
    head = [
        "tool",
        "wall s",
        "t/arch",
        "RSS MiB",
        "mem/arch",
        "reported total",
        "params",
        "MACs vs archspec",
        "params vs archspec",
    ]
    body: list[list[str]] = []
    for r in rows:
        cost = [
            "-" if r.wall_s is None else f"{r.wall_s:.2f}",
            _ratio(r.wall_s, base.wall_s),
            "-" if r.rss_mib is None else f"{r.rss_mib:.0f}",
            _ratio(r.rss_mib, base.rss_mib),
        ]
        if r.error is not None:
            counts = [f"n/a: {r.error}", "-", "-", "-"]
        elif r.report is None or base.report is None:
            counts = ["(no count)", "-", "-", "-"]
        else:
            counts = [
                f"{r.report.total:,} {r.report.unit}",
                f"{r.report.params:,}",
                _delta(r.report.macs, base.report.macs),
                _delta(r.report.params, base.report.params),
            ]
        body.append([r.label, *cost, *counts])
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    numeric = {1, 2, 3, 4, 6}

    def fmt(cells: list[str]) -> str:
        padded = (
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i in numeric else ("-" * (w + 2)) for i, w in enumerate(widths)
        )
        + "|"
    )
    return [fmt(head), rule, *(fmt(cells) for cells in body)]


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def machine_line(repeat: int) -> str:
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs ({platform.machine()}) | "
        f"python {platform.python_version()} | torch {torch_version} | "
        f"median of {repeat} fresh processes per tool"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per tool (default 5)")
    parser.add_argument("--spec", type=Path, default=REPO / "specs" / "resnet50.yaml")
    parser.add_argument("--model", default="resnet50", help="torchvision model name")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    spec: Path = args.spec.resolve()
    try:
        shape = spec_input_shape(spec)
    except ChildFailedError as exc:
        raise SystemExit(f"error: archspec stats {spec} failed:\n{exc.output}") from exc
    rows = run_all(tools(spec, args.model, shape), args.repeat)
    print(machine_line(args.repeat))
    print(
        f"spec: {spec.relative_to(REPO) if spec.is_relative_to(REPO) else spec} | "
        f"torchvision model: {args.model} | input: 1x{'x'.join(map(str, shape))}"
    )
    print()
    print("\n".join(table(rows)))


if __name__ == "__main__":
    main()
