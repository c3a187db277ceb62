"""Receptive fields, memory estimates, per-block rows, diff, plot, and scale."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from archspec.api import compile_text
from archspec.cli import app
from archspec.diff import diff
from archspec.memory import estimate
from tests.conftest import ROOT, compiled


def _features_field(name: str) -> tuple[int, int]:
    stages = compiled(name).stats.stages
    last = next(row for row in reversed(stages) if row.rf is not None)
    assert last.rf is not None and last.stride is not None
    return last.rf, last.stride


def test_receptive_field_of_resnet50() -> None:
    assert _features_field("resnet50") == (427, 32)
    # With the stride on the first 1x1 (Caffe / Mask R-CNN backbone) the field grows.
    assert _features_field("resnet50_c5_backbone") == (483, 32)


def test_floor_in_output_size() -> None:
    text = (ROOT / "specs" / "resnet50.yaml").read_text().replace("[3, 224, 224]", "[3, 225, 225]")
    assert compile_text(text).stats.totals.macs == 4_626_713_792


def test_per_block_rows_sum_to_totals() -> None:
    stats = compiled("resnext50_32x4d").stats
    assert len([b for b in stats.blocks if b.module.startswith("layer")]) == 16
    assert sum(b.params for b in stats.blocks) == stats.totals.params
    assert sum(b.macs for b in stats.blocks) == stats.totals.macs


@pytest.mark.parametrize(
    "name",
    [
        "resnet50",
        "densenet121",
        "seresnet50",
        "resnest50d",
        "skresnet18",
        "resnetv2_50",
        "mobilenet_v2",  # in-place ReLU6 keeps an input clone
        "mobilenet_v3_small",  # hard swish in place, SE gates, dropout in place
        "efficientnet_b0",  # SiLU in place, stochastic depth in training
        "vgg11_bn",  # dropout masks in the head
        "regnet_y_400mf",
        "convnext_tiny",  # layer norms' mean and rstd, permuted views, layer scale
        "resnet50_gn",  # group norms' mean and rstd per group
        "res2net50_26w_4s",  # chunk views, a cascade of adds, concatenations
        "tf_efficientnet_b0",  # "same" padding: a strided conv keeps its padded input
    ],
)
@pytest.mark.slow
def test_training_memory_estimate_matches_autograd(name: str) -> None:
    """Saved-for-backward bytes within 1% of what autograd really saves (batch 2, fp32)."""
    torch = pytest.importorskip("torch")
    spec = compiled(name)
    model = spec.to_module().train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(torch.randn(2, *spec.arch.input_shape))
    measured = sum(saved.values())
    estimated = estimate(spec.arch, batch=2).training_saved_bytes
    assert abs(estimated - measured) / measured < 0.01


def test_memory_scales_with_batch_and_dtype() -> None:
    arch = compiled("resnet50").arch
    one, eight = estimate(arch, 1), estimate(arch, 8, "float16")
    assert one.params_bytes == 25_557_032 * 4
    assert eight.params_bytes == 25_557_032 * 2
    assert eight.inference_peak_bytes == one.inference_peak_bytes * 4
    # The peak holds at least the largest single feature map (stage 1: 256 x 56 x 56).
    assert one.inference_peak_bytes >= 256 * 56 * 56 * 4


def test_diff_resnet50_resnet101_names_new_tensors() -> None:
    d = diff(compiled("resnet50").arch, compiled("resnet101").arch)
    assert len(d.unchanged) == 320 and not d.reshaped and not d.removed
    assert "layer3.6.conv1.weight" in d.added and "layer3.22.bn3.running_var" in d.added
    assert len(d.added) == 17 * 18  # 17 more bottlenecks in stage 3, 18 tensors each
    stage3 = next(s for s in d.stages if s.stage == "stage3")
    block = next(b for b in compiled("resnet50").stats.blocks if b.name == "layer3.5")
    assert stage3.params == 17 * block.params


def test_diff_cli_reports_reshaped_tensors() -> None:
    result = CliRunner().invoke(app, ["diff", "specs/resnet50.yaml", "specs/wide_resnet50_2.yaml"])
    assert result.exit_code == 0
    assert "layer1.0.conv1.weight: 64x64x1x1 -> 128x64x1x1" in result.stdout


@pytest.mark.slow
def test_plot_writes_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "zoo.png"
    result = CliRunner().invoke(
        app, ["stats", "specs/resnet50.yaml", "specs/resnet18.yaml", "--plot", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stats_convention_cli() -> None:
    result = CliRunner().invoke(app, ["stats", "specs/resnet50.yaml", "-c", "all", "-f", "json"])
    doc = result.stdout
    assert '"fvcore"' in doc and '"total": 4111512576' in doc
    bad = CliRunner().invoke(app, ["stats", "specs/resnet50.yaml", "-c", "fvcroe"])
    assert bad.exit_code == 2 and "did you mean 'fvcore'?" in bad.stderr


def _synthetic(blocks: int) -> str:
    per_stage = blocks // 4
    return (
        "archspec: 1\nname: deep\ninput: [3, 64, 64]\nstem: {type: conv3x3, width: 16}\n"
        f"stages:\n  block: basic\n  depth: [{per_stage}, {per_stage}, {per_stage}, "
        f"{per_stage}]\n  width: [16, 32, 64, 128]\n"
    )


@pytest.mark.slow
def test_stats_time_grows_linearly() -> None:
    """1,000 vs 4,000 blocks: time grows ~4x (under 8x: no quadratic pass)."""
    timings = []
    for blocks in (1000, 4000):
        start = time.perf_counter()
        spec = compile_text(_synthetic(blocks))
        assert spec.stats.totals.params > 0
        timings.append(time.perf_counter() - start)
    assert timings[1] < 8 * timings[0] + 0.5


def test_per_layer_rows_show_attention_internals() -> None:
    paths = {row.path for row in compiled("seresnet50").stats.layers}
    assert {"layer1.0.se.fc1", "layer1.0.se.fc2", "layer1.0.se.gate"} <= paths
    paths = {row.path for row in compiled("skresnet18").stats.layers}
    assert {"layer1.0.conv1.paths.1.conv", "layer1.0.conv1.attn.fc_select"} <= paths
    paths = {row.path for row in compiled("resnest14d").stats.layers}
    assert {"layer2.0.conv2.fc1", "layer2.0.conv2.group_softmax", "layer2.0.avd_last"} <= paths


def test_ir_converts_to_networkx() -> None:
    networkx = pytest.importorskip("networkx")
    arch = compiled("densenet121").arch
    graph = arch.to_networkx()
    assert graph.number_of_nodes() == arch.graph.number_of_nodes()
    assert graph.number_of_edges() == arch.graph.number_of_edges()
    assert networkx.is_directed_acyclic_graph(graph)
    order = list(networkx.topological_sort(graph))
    assert order[0] == "input" and graph.nodes["features.conv0"]["shape"] == (64, 112, 112)
