"""Resource limits: absurd specs are refused in well under a second with a message naming the
field and the limit; large but legal specs still compile, and their stats finish in seconds.

The limits: per-field bounds in archspec/spec/models.py (depth <= 100,000, channels <=
1,000,000, input <= 16,384 px, <= 16 stages, <= 8 SK branches), MAX_BLOCKS = 20,000 blocks summed
over the stages, and the YAML reader's bounds (200 kB, 10,000 nodes, 64 levels).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from archspec.api import compile_text
from archspec.cli import app
from archspec.errors import SpecError
from archspec.spec import parse_spec
from archspec.spec.models import MAX_BLOCKS
from tests.hostile import assert_refused, build


def spec_text(stages: object, **fields: object) -> str:
    doc = {"archspec": 1, "name": "big", "input": [3, 64, 64], "stages": stages, **fields}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=10_000_000)


TINY = {"block": "basic", "depth": [1], "width": 8}


def _alias_level(i: int) -> str:
    """Level i of an alias bomb: ten references to level i - 1 (10^8 strings at level 8)."""
    return f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"


# (case, spec text, what the message must say)
ABSURD = [
    (
        "depth_ten_million",
        spec_text({"block": "basic", "depth": [10**7], "width": 64}),
        "stages.depth[0]: must be <= 100000, got 10000000",
    ),
    (
        "width_billion",
        spec_text({"block": "basic", "depth": [1], "width": 10**9}),
        "stages.width: must be <= 1000000",
    ),
    (
        "input_million_squared",
        spec_text({"block": "basic", "depth": [1], "width": 8}, input=[3, 10**6, 10**6]),
        "input[1]: must be <= 16384",
    ),
    (
        "hundred_thousand_stages",
        # Long texts are written out directly: PyYAML dumps them in a second at import time.
        spec_text([]).replace("[]", "\n" + "  - {block: basic, depth: 1, width: 8}\n" * 100_000),
        "bytes; specs are small",
    ),
    (
        "two_thousand_stages",
        spec_text([{"block": "basic", "depth": 1, "width": 8}] * 2_000),  # aliases of one row
        "stages: has 2000 entries; needs at most 16",
    ),
    (
        "sixty_thousand_stage_columns",
        spec_text([]).replace(
            "[]", "{block: basic, width: 8, depth: [" + ", ".join(["1"] * 60_000) + "]}"
        ),
        "more than 10,000 YAML nodes",
    ),
    (
        "seventeen_stages",
        spec_text({"block": "basic", "depth": [1] * 17, "width": 8}),
        "stages: has 17 entries; needs at most 16",
    ),
    (
        "blocks_over_budget_rows",
        spec_text([{"block": "bottleneck", "depth": 10_000, "width": 8}] * 3),
        f"stages[2].depth: the stages hold 30,000 blocks in total; archspec supports at most "
        f"{MAX_BLOCKS:,}",
    ),
    (
        "blocks_over_budget_columns",
        spec_text({"block": "dense", "depth": [100_000] * 6}),
        "stages.depth[0]: the stages hold 600,000 blocks in total",
    ),
    (
        "sk_hundred_kernels",
        spec_text({**TINY, "attention": {"type": "sk", "kernels": [3] * 100}}),
        "stages.attention.kernels: has 100 entries; needs at most 8",
    ),
    (
        "num_classes_trillion",
        spec_text({"block": "basic", "depth": [1], "width": 8}, head={"num_classes": 10**12}),
        "head.num_classes: must be <= 1000000",
    ),
    (
        "title_megabyte_of_aliases",
        "a0: &a0 " + "x" * 400 + "\n" + "".join(map(_alias_level, range(1, 9))) + spec_text(TINY),
        "more than 10,000 YAML nodes",
    ),
    (
        "deep_nesting",
        spec_text(TINY).replace("big", "[" * 50_000 + "]" * 50_000, 1),
        "nesting deeper than 64 levels",
    ),
]


@pytest.mark.parametrize(("case", "text", "message"), ABSURD, ids=[c[0] for c in ABSURD])
def test_absurd_spec_is_refused_quickly(case: str, text: str, message: str, tmp_path: Path) -> None:
    spec = tmp_path / f"{case}.yaml"
    spec.write_text(text)
    outcome = build(spec, tmp_path / "out")
    assert_refused(outcome, spec, limit_s=1.0)
    assert message in outcome.stderr, outcome.stderr
    assert len(outcome.stderr) < 8_000


@pytest.mark.slow
def test_absurd_specs_stay_within_memory_and_time(tmp_path: Path) -> None:
    """All of them in one process capped at 1 GiB of address space: refused, not killed."""
    paths = []
    for case, text, _ in ABSURD:
        paths.append(tmp_path / f"{case}.yaml")
        paths[-1].write_text(text)
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from archspec.cli import main\n"
        "sys.argv = ['archspec', 'validate', *sys.argv[1:]]\n"
        "main()\n"
    )
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", script, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stderr.count(": error: ") >= len(ABSURD)
    assert time.perf_counter() - start < 20


# --- the block budget is generous enough for real (and synthetic) large networks -----------------


def test_budget_boundary() -> None:
    columns = {"block": "bottleneck", "width": 8}
    parse_spec(spec_text({**columns, "depth": [MAX_BLOCKS // 4] * 4}))
    with pytest.raises(SpecError, match=f"at most {MAX_BLOCKS:,}"):
        parse_spec(spec_text({**columns, "depth": [MAX_BLOCKS // 4] * 3 + [MAX_BLOCKS // 4 + 1]}))


def test_ten_thousand_block_resnet_is_legal() -> None:
    parse_spec(spec_text({"block": "basic", "depth": [2500] * 4, "width": [8, 16, 32, 64]}))


def test_densenet_264_compiles_quickly() -> None:
    start = time.perf_counter()
    compiled = compile_text(
        spec_text(
            {"block": "dense", "depth": [6, 12, 64, 48], "growth_rate": 32},
            input=[3, 224, 224],
            stem={"type": "conv7x7", "width": 64},
        )
    )
    assert (
        compiled.stats.totals.params == 33_337_704
    )  # torchvision DenseNet(32, (6, 12, 64, 48), 64)
    assert time.perf_counter() - start < 5


@pytest.mark.slow
def test_stats_of_two_thousand_blocks_finish(tmp_path: Path) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_text(
        spec_text(
            {"block": "bottleneck", "depth": [500] * 4, "width": [8, 16, 32, 64]},
            outputs=["stage1", "stage4"],
        )
    )
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["stats", str(spec), "--format", "json", "--per-block"])
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - start < 10
    blocks = json.loads(result.stdout)["models"][0]["blocks"]
    assert len(blocks) == 2000 + 2  # + stem and head


def test_huge_numbers_stay_exact() -> None:
    """Legal extremes (1,000,000 channels at 16,384 px) are analysed exactly and quickly."""
    start = time.perf_counter()
    compiled = compile_text(
        spec_text(
            {"block": "basic", "depth": [1], "width": 1_000_000},
            input=[3, 16_384, 16_384],
            stem={"type": "conv3x3", "width": 1_000_000},
            head="none",
        )
    )
    totals = compiled.stats.totals
    conv = 1_000_000 * 1_000_000 * 9
    assert totals.params == 3 * 1_000_000 * 9 + 2 * conv + 3 * 2 * 1_000_000
    assert totals.macs == (3 * 1_000_000 * 9 + 2 * conv) * 16_384**2
    assert time.perf_counter() - start < 2
