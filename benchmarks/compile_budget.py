"""Issue 10's budgets: in-process compile + stats of resnet50, and a whole `archspec stats` process.

    python benchmarks/compile_budget.py                  # this checkout
    python benchmarks/compile_budget.py --against REV    # and a git revision, as ratios

The in-process figure is the best of several rounds (the machine is shared: the minimum is the
least disturbed). The whole-process figure is the median CPU time (user + sys) of fresh
interpreters, which is steadier than wall time on a loaded machine. With --against, the revision
is checked out into a temporary git worktree and measured the same way, alternating runs.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = "specs/resnet50.yaml"
IN_PROCESS = """
import time
from archspec.api import compile_file
best = float("inf")
for _ in range({rounds}):
    start = time.perf_counter()
    for _ in range(50):
        compile_file({spec!r}).stats
    best = min(best, (time.perf_counter() - start) / 50)
print(best)
"""
WHOLE = (
    "import sys; sys.argv = ['archspec', 'stats', {spec!r}]; from archspec.cli import main; main()"
)


def in_process_ms(tree: Path, rounds: int) -> float:
    code = IN_PROCESS.format(rounds=rounds, spec=str(tree / SPEC))
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout) * 1e3


def process_cpu_s(tree: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-c", WHOLE.format(spec=str(tree / SPEC))],
        env={"PYTHONPATH": str(tree)},
        capture_output=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(trees: dict[str, Path], runs: int, rounds: int) -> dict[str, tuple[float, float]]:
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(runs):  # alternate, so load changes hit every tree alike
        for name, tree in trees.items():
            cpu[name].append(process_cpu_s(tree))
    return {
        name: (in_process_ms(tree, rounds), statistics.median(cpu[name]) * 1e3)
        for name, tree in trees.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="a git revision to compare with")
    parser.add_argument("--runs", type=int, default=9, help="whole-process runs per tree")
    parser.add_argument("--rounds", type=int, default=7, help="in-process rounds of 50")
    args = parser.parse_args()
    trees = {"this checkout": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        if args.against:
            other = Path(tmp) / "baseline"
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(ROOT),
                    "worktree",
                    "add",
                    "-q",
                    "--detach",
                    str(other),
                    args.against,
                ],
                check=True,
            )
            trees = {args.against: other, **trees}
        try:
            started = time.perf_counter()
            results = measure(trees, args.runs, args.rounds)
        finally:
            if args.against:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)],
                    check=False,
                )
    print(f"{'tree':<16} {'compile+stats (ms)':>20} {'archspec stats CPU (ms)':>24}")
    for name, (compile_ms, process_ms) in results.items():
        print(f"{name:<16} {compile_ms:>20.2f} {process_ms:>24.0f}")
    if args.against:
        (base_c, base_p), (new_c, new_p) = results[args.against], results["this checkout"]
        print(
            f"ratio (this / {args.against}): compile+stats {new_c / base_c:.2f}x, "
            f"whole process {new_p / base_p:.2f}x"
        )
    print(
        f"budget: compile+stats <= 3.3 ms; whole process no slower than before "
        f"({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
