"""Every figure a sweep reports equals what `archspec stats` reports for the same spec.

Candidates are drawn at random from spaces that touch every family and add-on; each is written
back out as a spec file (as --emit-specs does), compiled by the ordinary path, and its stats and
memory estimate are compared with the sweep's row. The RegNet generator is checked against pycls.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from archspec.api import compile_file, compile_text
from archspec.errors import SpecError
from archspec.memory import estimate
from archspec.spec.regnet import adjust_ws_gs_comp, generate_regnet
from archspec.sweep.candidates import build
from archspec.sweep.evaluate import Plan, evaluate
from archspec.sweep.figures import Analyzer, CandidateError, Memory
from archspec.sweep.regnet import regnet_stages
from archspec.sweep.space import parse_space
from tests.conftest import ZOO

SPACES = {
    "residual": """
space: 1
base: {archspec: 1, name: net, input: [3, 96, 80], stem: {type: deep, width: 32},
       stages: {block: bottleneck, depth: [2, 2, 2], width: [16, 32, 64]}}
samples: 1000
vary:
  stages[*].depth: {range: [1, 4]}
  stages[*].width: {log_uniform: [8, 96], quantize: 8}
  stages.groups: [1, 2, 4]
  stages.downsample: [conv, avg]
  stages[*].attention: [none, {type: se, reduction: 4}, {type: sk, reduction: 4},
                        {type: split, radix: 2}]
  stages[2].dilation: [1, 2]
  width_mult: [0.5, 1.0, 1.5]
""",
    "basic": """
space: 1
base: {archspec: 1, name: net, input: [3, 64, 64], stem: {type: conv7x7, width: 16},
       stages: {block: basic, depth: [2, 2, 2, 2], width: [16, 32, 64, 128]}}
samples: 1000
vary:
  stages[*].depth: {range: [1, 3]}
  stages[*].attention: [none, {type: se, reduction: 4}, {type: sk, reduction: 8}]
  output_stride: [null, 16, 8]
  stem.pool: [true, false]
  resolution: [48, 64, 72]
  conv_bias: [false, true]
  head: [none, {type: classifier, num_classes: 10}]
""",
    "preact": """
space: 1
base: {archspec: 1, name: net, input: [3, 64, 64], stem: {type: conv7x7, width: 16},
       stages: {block: preact_bottleneck, depth: [1, 1, 1], width: [8, 16, 32]}}
samples: 1000
vary:
  stages[*].depth: {range: [1, 3]}
  stages.block: [preact_basic, preact_bottleneck]
  stages[*].attention: [none, {type: se, reduction: 4}]
  depth_mult: [1.0, 1.5]
  final_norm: [true, false]
  stages.downsample: [conv, avg]
""",
    "dense": """
space: 1
base: {archspec: 1, name: net, input: [3, 64, 64], stem: {type: conv7x7, width: 16},
       stages: {block: dense, depth: [2, 2, 2], growth_rate: 8}}
samples: 1000
vary:
  stages[*].depth: {range: [1, 4]}
  stages.growth_rate: [4, 8]
""",
    "regnet": """
space: 1
base: {archspec: 1, name: net, input: [3, 64, 64], stem: {type: conv7x7, width: 32, pool: false},
       stages: {block: bottleneck, depth: [1], width: [8]}}
samples: 1000
regnet:
  depth: {uniform: [4, 10]}
  w0: {log_uniform: [8, 64], quantize: 8}
  wa: {log_uniform: [8.0, 64.0], quantize: 0.1}
""",
}


def reference(text: str, memory: Memory) -> tuple[Any, ...]:
    compiled = compile_text(text)
    stats, mem = compiled.stats, estimate(compiled.arch, memory.batch, memory.dtype)
    last = [row for row in stats.stages if row.stage.startswith("stage")][-1]
    totals = stats.totals
    return (
        totals.params,
        totals.buffers,
        totals.macs,
        totals.flops,
        totals.acts,
        last.rf,
        last.stride,
        mem.params_bytes,
        mem.inference_peak_bytes,
        mem.training_saved_bytes,
    )


FIELDS = ("params", "buffers", "macs", "flops", "acts", "rf", "stride")
FIELDS += ("params_bytes", "peak_bytes", "saved_bytes")
MEMORY = Memory(3, "bfloat16")
ANALYZER = Analyzer(MEMORY)


@pytest.mark.parametrize("kind", list(SPACES))
@settings(max_examples=40, deadline=None, derandomize=True)
@given(index=st.integers(0, 999))
def test_sweep_row_equals_stats_of_the_emitted_spec(kind: str, index: int) -> None:
    space = parse_space(SPACES[kind], f"{kind}.yaml")
    row = evaluate(space, Plan.of(space), index, ANALYZER)
    try:
        text = build(space, index).spec_yaml(space)
    except CandidateError:
        assert row["status"] == "invalid"
        return
    if row["status"] == "invalid":
        with pytest.raises(Exception, match=r"error"):
            compile_text(text)
        return
    assert tuple(row[name] for name in FIELDS) == reference(text, MEMORY)


# Three families in the fast loop; the whole zoo with the slow tests.
FAST_ZOO = ("resnet50", "densenet121", "mobilenet_v2")


@pytest.mark.parametrize(
    "name",
    [n if n in FAST_ZOO else pytest.param(n, marks=pytest.mark.slow) for n in ZOO],
)
def test_zoo_figures_equal_stats(name: str) -> None:
    compiled = compile_file(Path("specs") / f"{name}.yaml")
    data = compiled.loaded.spec.model_dump(exclude_unset=True)
    rows = data.pop("stages")
    figures = Analyzer(Memory(2)).figures(data, rows)
    got = (*(getattr(figures, n) for n in FIELDS[:5]), figures.rf, figures.stride)
    got += (figures.params_bytes, figures.peak_bytes, figures.saved_bytes)
    assert got == reference(Path(f"specs/{name}.yaml").read_text(), Memory(2))


@pytest.mark.slow
def test_ten_thousand_block_spec_equals_stats() -> None:
    text = (
        "archspec: 1\nname: deep\ninput: [3, 64, 64]\nstages:\n  block: basic\n"
        "  depth: [2500, 2500, 2500, 2500]\n  width: [8, 16, 32, 64]\n"
    )
    compiled = compile_text(text)
    data = compiled.loaded.spec.model_dump(exclude_unset=True)
    rows = data.pop("stages")
    figures = Analyzer(Memory(1)).figures(data, rows)
    assert (figures.params, figures.macs, figures.rf) == (
        compiled.stats.totals.params,
        compiled.stats.totals.macs,
        compiled.stats.stages[-2].rf,
    )
    mem = estimate(compiled.arch, 1)
    assert (figures.peak_bytes, figures.saved_bytes) == (
        mem.inference_peak_bytes,
        mem.training_saved_bytes,
    )


@pytest.mark.slow
def test_regnet_generator_equals_pycls() -> None:
    pycls_regnet = pytest.importorskip("pycls.models.regnet")
    rng = random.Random(0)
    checked = 0
    for _ in range(3000):
        wa, w0 = round(rng.uniform(8, 256), 1), 8 * rng.randint(1, 32)
        wm, depth = round(rng.uniform(1.5, 3.0), 3), rng.randint(12, 28)
        gw = rng.choice([1, 2, 4, 8, 16, 24, 32, 48])
        ws, num, max_stage, _ = pycls_regnet.generate_regnet(wa, w0, wm, depth)
        assert generate_regnet(wa, w0, wm, depth) == (ws, num, int(max_stage))
        s_ws, s_ds = pycls_regnet.get_stages_from_blocks(ws, ws)
        s_ws, s_gs = pycls_regnet.adjust_ws_gs_comp(s_ws, [1.0] * len(s_ws), [gw] * len(s_ws))
        assert adjust_ws_gs_comp(s_ws, [1.0] * len(s_ws), [gw] * len(s_ws)) == (s_ws, s_gs)
        if num == max_stage:
            params = {"wa": wa, "w0": w0, "wm": wm, "depth": depth, "group_width": gw}
            stages = regnet_stages(params)
            assert [(s.width, s.depth, s.group_width) for s in stages] == list(
                zip(s_ws, s_ds, s_gs, strict=True)
            )
            checked += 1
    assert checked > 500


@pytest.mark.slow
def test_regnet_candidate_blocks_equal_pycls_blocks() -> None:
    """The bottleneck rows reproduce pycls's ResBottleneckBlock params and MACs exactly."""
    anynet = pytest.importorskip("pycls.models.anynet")
    space = parse_space(SPACES["regnet"], "regnet.yaml")
    matched = 0
    for index in range(200):
        try:
            candidate = build(space, index)
        except CandidateError:
            continue
        compiled = compile_text(candidate.spec_yaml(space))
        stem = next(r for r in compiled.stats.stages if r.name == "stem")
        head = next(r for r in compiled.stats.stages if r.name == "head")
        body = compiled.stats.totals.params - stem.params - head.params
        w_in, expected, size = 32, 0, 32
        for row in candidate.rows:
            w = row["width"] * row["expansion"]
            gw = w // row["groups"]
            for i in range(row["depth"]):
                cx = {"h": size, "w": size, "flops": 0, "params": 0, "acts": 0}
                cx = anynet.ResBottleneckBlock.complexity(cx, w_in, w, 2 if i == 0 else 1, 1.0, gw)
                expected += cx["params"]  # pycls counts BN affine params as archspec does
                size, w_in = cx["h"], w
        assert body == expected
        matched += 1
    assert matched > 20


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        # stride_at on a basic stage: stats refuses it, so a sweep must too.
        (
            [
                {"block": "basic", "depth": 1, "width": 16},
                {"block": "basic", "depth": 1, "width": 32, "stride_at": "1x1"},
            ],
            "stages[1].stride_at",
        ),
        # downsample on the one stage with no projection shortcut.
        (
            [
                {"block": "basic", "depth": 1, "width": 64, "downsample": "avg"},
                {"block": "basic", "depth": 1, "width": 128},
            ],
            "stages[0].downsample",
        ),
        ([{"block": "basic", "depth": 1, "width": 16}, {"block": "dense", "depth": 1}], None),
    ],
)
def test_candidates_stats_refuses_are_refused(
    rows: list[dict[str, Any]], field: str | None
) -> None:
    top = {"archspec": 1, "name": "probe", "input": [3, 64, 64]}
    text = yaml.safe_dump({**top, "stages": rows}, sort_keys=False)
    with pytest.raises(SpecError):
        compile_text(text)
    with pytest.raises(CandidateError) as caught:
        Analyzer().figures(top, rows)
    assert field is None or caught.value.field == field
