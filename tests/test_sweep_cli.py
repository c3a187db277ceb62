"""`archspec sweep` and `archspec fit` end to end: tables, resume, executors, errors, plots."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from archspec.api import compile_file
from archspec.cli import app
from archspec.errors import SpecError
from archspec.sweep import run as run_module
from archspec.sweep.evaluate import Plan, evaluate
from archspec.sweep.figures import Analyzer, Memory
from archspec.sweep.run import RunOptions, run_sweep
from archspec.sweep.space import parse_space, read_space
from tests.conftest import ROOT

runner = CliRunner()

SMALL = """\
space: 1
base: {base}
samples: 60
seed: 3
vary:
  stages[*].depth: {{range: [1, 3]}}
  stages.groups: [1, 4]
  width_mult: [0.5, 1.0]
constraints:
  - params <= 12M
  - nondecreasing(depth) or macs < 1G
"""


def small_space(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.format(base=ROOT / "specs" / "resnext50_32x4d.yaml"))
    return path


def table(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_sweep_writes_a_table_front_top_specs_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    args = ["sweep", str(small_space(tmp_path)), "-o", str(out), "-j", "1", "--no-progress"]
    args += ["--top", "3", "--by", "params:min", "--batch", "4", "--emit-specs", str(tmp_path)]
    args += ["--emit", "top", "--plot", str(tmp_path / "s.svg"), "--edf", str(tmp_path / "e.png")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = table(out)
    assert [int(r["index"]) for r in rows] == list(range(60))
    statuses = {r["status"] for r in rows}
    assert statuses <= {"ok", "rejected", "invalid"} and "ok" in statuses
    for row in rows:
        if row["status"] == "ok":
            assert int(row["params"]) <= 12e6
        assert row["peak_bytes"] or row["status"] != "ok"
    assert "top 3 by params:min" in result.stdout
    emitted = sorted(tmp_path.glob("small_*.yaml"))
    assert len(emitted) == 3
    for spec in emitted:  # each written spec compiles to the figures of its row
        row = next(r for r in rows if r["name"] == spec.stem)
        stats = compile_file(spec).stats.totals
        assert (stats.params, stats.macs) == (int(row["params"]), int(row["macs"]))
    assert (tmp_path / "s.svg").read_bytes().startswith(b"<?xml")
    assert (tmp_path / "e.png").read_bytes().startswith(b"\x89PNG")


def test_resume_repeats_no_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    space = read_space(small_space(tmp_path))
    out = tmp_path / "out.csv"
    options = RunOptions(out, Memory(2), workers=1, chunk=7)
    full = run_sweep(space, options).sorted_rows()
    reference = out.read_text()
    # Interrupted: the table holds the header and the first 25 rows, out of order.
    lines = reference.splitlines(keepends=True)
    out.write_text(lines[0] + "".join(reversed(lines[1:26])))
    evaluated: list[int] = []
    original = run_module.run_chunk

    def counting(space: object, indices: list[int], memory: object) -> object:
        evaluated.extend(indices)
        return original(space, indices, memory)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "run_chunk", counting)
    calls: list[tuple[int, int]] = []
    resumed = run_sweep(space, options, lambda done, total: calls.append((done, total)))
    assert sorted(evaluated) == list(range(25, 60))
    assert calls[0] == (25, 60)
    assert out.read_text() == reference
    assert [r["index"] for r in resumed.sorted_rows()] == [r["index"] for r in full]
    evaluated.clear()
    run_sweep(space, options)  # finished: nothing to do
    assert evaluated == []


def test_more_samples_extend_a_sweep(tmp_path: Path) -> None:
    space = read_space(small_space(tmp_path))
    out = tmp_path / "out.csv"
    first = run_sweep(space, RunOptions(out, workers=1)).sorted_rows()
    space.samples = 90
    extended = run_sweep(space, RunOptions(out, workers=1)).sorted_rows()
    assert extended[:60] == first and len(extended) == 90


def test_resume_refuses_a_table_of_another_sweep(tmp_path: Path) -> None:
    path = small_space(tmp_path)
    out = tmp_path / "out.csv"
    args = ["sweep", str(path), "-o", str(out), "-j", "1", "--no-progress"]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, [*args, "--seed", "4"])
    assert result.exit_code == 2
    assert "different sweep" in result.stderr and "--restart" in result.stderr
    assert runner.invoke(app, [*args, "--seed", "4", "--restart"]).exit_code == 0


@pytest.mark.slow
def test_process_pool_gives_the_same_table(tmp_path: Path) -> None:
    space = read_space(small_space(tmp_path))
    inline = run_sweep(space, RunOptions(tmp_path / "a.csv", workers=1)).sorted_rows()
    pooled = run_sweep(space, RunOptions(tmp_path / "b.csv", workers=2, chunk=9)).sorted_rows()
    assert pooled == inline


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_table(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    space = read_space(small_space(tmp_path))
    inline = run_sweep(space, RunOptions(tmp_path / "a.csv", workers=1)).sorted_rows()
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        options = RunOptions(tmp_path / "b.csv", scheduler=cluster.scheduler_address, chunk=9)
        assert run_sweep(space, options).sorted_rows() == inline


@pytest.mark.slow
def test_unreachable_scheduler_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(run_module, "SCHEDULER_TIMEOUT_S", 2)
    args = ["sweep", str(small_space(tmp_path)), "-o", str(tmp_path / "o.csv"), "--no-progress"]
    result = runner.invoke(app, [*args, "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler" in result.stderr


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("space: 1\nbase: {base}\nvary: {{stages.widht: [1]}}\nfoo: 1\n", ":4:1:", "unknown field"),
        (
            "space: 1\nbase: {base}\nconstraints:\n  - macs <= 2G and parms < 1\n",
            ":4:20:",
            "'params'",
        ),
        ("space: 1\nbase: {base}\nconstraints:\n  - 'macs <= (2G'\n", ":4:", "invalid syntax"),
        ("space: 1\nbase: {base}\nconstraints:\n  - __import__('os')\n", ":4:5:", "not a function"),
        ("space: 1\nbase: {base}\nvary:\n  stages[9].depth: [1]\n", ":4:3:", "has 4 stages"),
        (
            "space: 1\nbase: {base}\nvary:\n  width_mult: {{log_uniform: [0.5, 2]}}\n",
            ":4:",
            "samples",
        ),
        (
            "space: 1\nbase: {base}\nvary:\n  x: {{uniform: [3, 1]}}\nsamples: 3\n",
            ":4:",
            "low <= high",
        ),
        ("base: {base}\n", ":1:1:", "space: 1"),
        (
            "space: 1\nbase: {base}\nvary:\n  stages[*].depth: {{range: [1, 99999]}}\n",
            ":4:3:",
            "grid",
        ),
    ],
)
def test_space_errors_are_located(tmp_path: Path, text: str, where: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text.format(base=ROOT / "specs" / "resnet50.yaml"))
    result = runner.invoke(app, ["sweep", str(path), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2, result.output
    assert f"{path}{where}" in result.stderr, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_base_names_its_path(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("space: 1\nbase: missing.yaml\n")
    result = runner.invoke(app, ["sweep", str(path)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'missing.yaml'}: error: cannot read" in result.stderr


def test_invalid_candidates_are_rows_not_crashes(tmp_path: Path) -> None:
    text = """
space: 1
base: {base}
vary:
  stages[1].attention: [none, {{type: split, radix: 3}}, {{type: nonsense}}]
  stages[0].width: [0, 64]
"""
    space = parse_space(text.format(base=ROOT / "specs" / "resnet50.yaml"), "s.yaml")
    rows = run_sweep(space, RunOptions(tmp_path / "o.csv", workers=1)).sorted_rows()
    reasons = [r["reason"] for r in rows if r["status"] == "invalid"]
    assert len(rows) == 6 and len(reasons) == 5
    assert any("stages[0].width" in reason for reason in reasons)
    assert any("attention" in reason for reason in reasons)


@pytest.mark.slow
def test_fit_finds_the_largest_width_under_the_budget(tmp_path: Path) -> None:
    out = tmp_path / "fit.yaml"
    args = ["fit", "specs/resnext50_32x4d.yaml", "--macs", "2G", "--params", "15M", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "stages.width" in result.stderr and "before" in result.stderr
    fitted = compile_file(out)
    totals = fitted.stats.totals
    assert totals.macs <= 2e9 and totals.params <= 15e6
    # One divisor step wider on every width breaks the budget: it is the largest.
    spec = fitted.loaded.spec
    wider = [f"stages.width.{i}={row.width + 8}" for i, row in enumerate(spec.stages)]
    bigger = compile_file(out, [*wider, f"stem.width={spec.stem.width + 8}"]).stats.totals
    assert bigger.macs > 2e9 or bigger.params > 15e6
    assert spec.stages[0].groups == 32


@pytest.mark.slow
def test_fit_compound_and_errors(tmp_path: Path) -> None:
    args = ["fit", "specs/resnet50.yaml", "--macs", "8G", "--vary", "width,depth,resolution"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "input:" in result.stderr and "stages.depth" in result.stderr
    bad = runner.invoke(app, ["fit", "specs/resnet50.yaml", "--macs", "2 giga"])
    assert bad.exit_code == 2 and "--macs" in bad.stderr
    none = runner.invoke(app, ["fit", "specs/resnet50.yaml", "--macs", "1k"])
    assert none.exit_code == 2 and "budget" in none.stderr
    vary = runner.invoke(app, ["fit", "specs/resnet50.yaml", "--macs", "1G", "--vary", "colour"])
    assert vary.exit_code == 2 and "--vary" in vary.stderr


@pytest.mark.slow
def test_sweep_and_fit_do_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from archspec.cli import app\n"
        "for args in (['sweep', sys.argv[1], '-o', sys.argv[2], '-j', '2', '--no-progress'],\n"
        "             ['fit', 'specs/resnet18.yaml', '--macs', '1G']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, exc.code\n"
        "print('torch' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    space = small_space(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", code, str(space), str(tmp_path / "o.csv")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "False False"


MUTATION_TOKENS = ["[", "]", "{", "}", ":", ",", "-", " ", "\n", "0", "-1", "1e9", "none", "'", "*"]
MUTATION_TOKENS += ["stages[*].", "range", "log_uniform", "quantize", "__import__", "9**9**9"]


@pytest.mark.slow
@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(MUTATION_TOKENS)), max_size=4))
def test_mutated_spaces_fail_cleanly(edits: list[tuple[int, str]]) -> None:
    """Hostile space files: a located SpecError, or candidates that are rows; nothing else."""
    text = SMALL.format(base=ROOT / "specs" / "resnet18.yaml")
    for offset, token in edits:
        at = offset % (len(text) + 1)
        text = text[:at] + token + text[at:]
    try:
        space = parse_space(text, "fuzz.yaml")
    except SpecError:
        return
    space.samples = min(space.samples or 3, 3)
    analyzer = Analyzer()
    for index in range(min(space.size, 3)):
        row = evaluate(space, Plan.of(space), index, analyzer)
        assert row["status"] in ("ok", "rejected", "invalid")


def test_parquet_copy_when_pyarrow_is_installed(tmp_path: Path) -> None:
    parquet = pytest.importorskip("pyarrow.parquet")
    space = read_space(small_space(tmp_path))
    rows = run_sweep(space, RunOptions(tmp_path / "t.csv", workers=1)).sorted_rows()
    frame = parquet.read_table(tmp_path / "t.parquet").to_pydict()
    assert frame["index"] == list(range(60))
    assert frame["params"] == [row.get("params") for row in rows]
    assert frame["status"] == [row["status"] for row in rows]


@pytest.mark.parametrize("path", sorted((ROOT / "specs" / "spaces").glob("*.yaml")), ids=str)
def test_example_spaces_run(path: Path, tmp_path: Path) -> None:
    space = read_space(path)
    space.samples = None if space.samples is None else 40
    rows = run_sweep(space, RunOptions(tmp_path / "t.csv", workers=1)).sorted_rows()
    statuses = {row["status"] for row in rows}
    if space.regnet is None:
        assert "ok" in statuses and "invalid" not in statuses
    else:  # draws that pycls itself rejects (a skipped stage) are invalid rows
        assert statuses & {"ok", "rejected"}
