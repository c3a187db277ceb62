"""How fast a sweep analyses candidates, step by step, against the issue's targets.

Usage (from the repository root, on a quiet machine)::

    .venv/bin/python benchmarks/sweep_throughput.py [--candidates N] [--regnet N] [--skip-dask]

Every step analyses the same resnet50-sized candidates (drawn from
specs/spaces/resnet50_scaling.yaml: per-stage depths 1-8, width x0.5-1.5, four resolutions)
on one core, and prints specs per CPU-second of this process (so a busy machine slows the
wall clock, not the figure) and the speed-up over "today":

1. today: YAML text -> parse_spec (pydantic) -> lower -> all passes -> compute_stats;
2. in memory: the candidate's Spec built from validated parts (no YAML, no field validation);
3. only the passes a sweep needs (no per-layer/per-block rollups of compute_stats);
4. segment cache, cold: each distinct block analysed once within the candidate;
5. segment cache, warm: the same cache kept across candidates (what a sweep worker does).

Then the scale targets: a 10,000-block spec of 4 distinct blocks (target < 50 ms), a RegNet-X
sweep with a MACs constraint on 2 processes (target: 100,000 candidates < 60 s), and Dask's
LocalCluster with 2 workers against the process pool with 2 (target: within 1.5x).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archspec.api import compile_text
from archspec.lower import lower
from archspec.passes import run_passes
from archspec.spec.models import Spec, StageRow
from archspec.stats import compute_stats
from archspec.sweep.candidates import build, spec_text
from archspec.sweep.figures import Analyzer
from archspec.sweep.run import RunOptions, run_sweep
from archspec.sweep.space import read_space

REPO = Path(__file__).resolve().parent.parent


def rate(label: str, action: Callable[[Any], Any], items: list[Any], today: float | None) -> float:
    start = time.process_time()  # CPU time of this process: "per core", and robust to load
    for item in items:
        action(item)
    per_second = len(items) / (time.process_time() - start)
    versus = f"{per_second / today:7.1f}x today" if today else ""
    print(f"  {label:<46}{per_second:>10,.0f} specs/s  {versus}")
    return per_second


def in_memory(candidate: Any) -> Spec:
    rows = [StageRow.model_validate(row) for row in candidate.rows]
    return Spec.model_validate({**candidate.top, "name": "c", "stages": rows})


def steps(count: int) -> None:
    space = read_space(REPO / "specs/spaces/resnet50_scaling.yaml")
    candidates = [build(space, i) for i in range(count)]
    texts = [spec_text(c.spec_data()) for c in candidates]
    specs = [in_memory(c) for c in candidates]
    print(f"resnet50-sized candidates: {count:,}, one core")
    today = rate(
        "1. today: YAML + pydantic + lower + stats", lambda t: compile_text(t).stats, texts, None
    )
    rate(
        "2. in memory (no YAML/validation)",
        lambda s: compute_stats(run_passes(lower(s))),
        specs,
        today,
    )
    rate("3. + only the passes a sweep needs", lambda s: run_passes(lower(s)), specs, today)
    rate(
        "4. + segment cache, cold per candidate",
        lambda c: Analyzer().figures(c.top, c.rows),
        candidates,
        today,
    )
    warm = Analyzer()
    rate(
        "5. + segment cache, warm across candidates",
        lambda c: warm.figures(c.top, c.rows),
        candidates,
        today,
    )


def deep_spec() -> None:
    text = (
        "archspec: 1\nname: deep\ninput: [3, 224, 224]\nstages:\n  block: basic\n"
        "  depth: [2500, 2500, 2500, 2500]\n  width: [64, 128, 256, 512]\n"
    )
    start = time.process_time()
    compiled = compile_text(text)
    _ = compiled.stats
    today = time.process_time() - start
    data = compiled.loaded.spec.model_dump(exclude_unset=True)
    rows = data.pop("stages")
    start = time.process_time()
    Analyzer().figures(data, rows)
    fast = time.process_time() - start
    print(
        f"\n10,000-block spec of 4 distinct blocks: today {today * 1e3:,.0f} ms, "
        f"segment cache {fast * 1e3:.1f} ms ({today / fast:,.0f}x; target < 50 ms)"
    )


def regnet(count: int, skip_dask: bool) -> None:
    space = read_space(REPO / "specs/spaces/regnetx_400mf.yaml")
    space.samples = count
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        table = run_sweep(space, RunOptions(Path(tmp) / "pool.csv", workers=2))
        pool = time.perf_counter() - start
        ok = sum(1 for row in table.rows.values() if row["status"] == "ok")
        print(
            f"\nRegNet-X sweep, {count:,} candidates, MACs in [380M, 420M], 2 processes: "
            f"{pool:.1f} s ({count / pool:,.0f} specs/s, {ok:,} ok)"
            + (
                f"; scaled to 100,000: {pool * 100_000 / count:.0f} s (target < 60 s)"
                if count != 100_000
                else " (target < 60 s)"
            )
        )
        if skip_dask:
            return
        from dask.distributed import LocalCluster

        with LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster:
            start = time.perf_counter()
            run_sweep(
                space, RunOptions(Path(tmp) / "dask.csv", scheduler=cluster.scheduler_address)
            )
            dask = time.perf_counter() - start
        print(
            f"Dask LocalCluster, 2 workers: {dask:.1f} s = {dask / pool:.2f}x the process pool "
            "(target <= 1.5x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--regnet", type=int, default=100_000)
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs\n")
    steps(args.candidates)
    deep_spec()
    if args.regnet:  # --regnet 0 skips the sweeps
        regnet(args.regnet, args.skip_dask)


if __name__ == "__main__":
    main()
