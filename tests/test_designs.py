"""Specs that give a design: RegNet (`regnet:`, the stage table generated on load exactly as
pycls or torchvision quantise it) and compound scaling (`width_mult`, `depth_mult`);
`archspec expand` prints the table as an editable spec, and bad designs are located errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from archspec.api import compile_file, compile_text
from archspec.errors import SpecError
from archspec.spec.regnet import regnet_stages
from tests.conftest import ROOT

DESIGN = """
archspec: 1
name: probe
input: [3, 64, 64]
layout: torchvision_regnet
stem: {type: conv_bn_relu, width: 32, args: {stride: 2}}
regnet: {depth: 22, w0: 24, wa: 24.48, wm: 2.54, group_width: 16, rounding: ROUNDING}
head: {num_classes: 10}
"""


def _expand(spec: Path) -> str:
    """`archspec expand SPEC`, as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "archspec", "expand", str(spec)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _refusal(text: str) -> str:
    with pytest.raises(SpecError) as info:
        compile_text(text, "probe.yaml")
    return "\n".join(issue.render() for issue in info.value.issues)


def test_rounding_is_where_pycls_and_torchvision_differ() -> None:
    """RegNetX-400MF's last stage: 392 / 16 = 24.5 rounds to 384 in pycls (half to even) and
    to 400 in torchvision (_make_divisible, half up)."""
    widths = {}
    for rounding in ("pycls", "torchvision"):
        compiled = compile_text(DESIGN.replace("ROUNDING", rounding))
        widths[rounding] = [row.width for row in compiled.loaded.spec.stages]
    assert widths == {"pycls": [32, 64, 160, 384], "torchvision": [32, 64, 160, 400]}


@pytest.mark.slow  # a subprocess: the CLI as a user runs it
def test_expand_prints_a_spec_that_builds_the_same_network(tmp_path: Path) -> None:
    spec = ROOT / "specs" / "regnet_y_800mf.yaml"
    text = _expand(spec)
    data = yaml.safe_load(text)
    assert "regnet" not in data
    assert data["stages"]["depth"] == [1, 3, 8, 2]
    assert data["stages"]["width"] == [64, 144, 320, 784]
    copy = tmp_path / "expanded.yaml"
    copy.write_text(text)
    expanded, designed = compile_file(copy), compile_file(spec)
    assert expanded.stats.totals == designed.stats.totals
    shapes = {k: tuple(v.shape) for k, v in expanded.arch.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in designed.arch.state_dict().items()}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("wm: 2.54", "regnet.wm: must be > 1"),
        ("w0: 24", "regnet.w0"),
        ("depth: 22", "regnet.depth"),
    ],
)
def test_bad_designs_are_located(change: str, words: str) -> None:
    bad = {"wm: 2.54": "wm: 1", "w0: 24": "w0: 20", "depth: 22": "depth: 0"}[change]
    message = _refusal(DESIGN.replace("ROUNDING", "pycls").replace(change, bad))
    assert message.startswith("probe.yaml:")
    assert words.split(":", maxsplit=1)[0] in message


def test_design_and_table_together_are_refused() -> None:
    text = DESIGN.replace("ROUNDING", "pycls") + "stages: {block: basic, depth: 1, width: 8}\n"
    assert "give either `regnet` (a design) or `stages` (a table), not both" in _refusal(text)


@pytest.mark.slow  # a subprocess: the CLI as a user runs it
def test_expand_refuses_a_spec_without_a_design() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "archspec", "expand", str(ROOT / "specs" / "resnet50.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "has no design to expand" in result.stderr


@pytest.mark.slow
def test_every_torchvision_regnet_design_gives_torchvision_stage_table() -> None:
    """All fifteen torchvision RegNets: depths, widths and group widths of BlockParams."""
    import inspect
    import re

    regnet = pytest.importorskip("torchvision.models.regnet")
    source = inspect.getsource(regnet)
    found = re.findall(r"def (regnet_[xy]_\w+)\(.*?from_init_params\((.*?)\)", source, re.S)
    assert len(found) == 15
    for name, text in found:
        kw = dict(re.findall(r"(\w+)=([\d.]+)", text))
        params = {
            "depth": int(kw["depth"]),
            "w0": int(kw["w_0"]),
            "wa": float(kw["w_a"]),
            "wm": float(kw["w_m"]),
            "group_width": int(kw["group_width"]),
            "rounding": "torchvision",
        }
        theirs = regnet.BlockParams.from_init_params(
            depth=params["depth"],
            w_0=params["w0"],
            w_a=params["wa"],
            w_m=params["wm"],
            group_width=params["group_width"],
        )
        ours = [(s.width, s.depth, s.group_width) for s in regnet_stages(params)]
        table = zip(theirs.widths, theirs.depths, theirs.group_widths, strict=True)
        assert ours == list(table), name


@pytest.mark.slow  # a subprocess: the CLI as a user runs it
def test_compound_scaling_expands_to_the_scaled_table(tmp_path: Path) -> None:
    """EfficientNet-B3 = B0's table x width 1.2, depth 1.4 (torchvision's rounding: widths to a
    multiple of 8 never 10% down, depths up)."""
    spec = ROOT / "specs" / "efficientnet_b3.yaml"
    text = _expand(spec)
    data = yaml.safe_load(text)
    assert "width_mult" not in data and "depth_mult" not in data
    assert data["stem"]["width"] == 40
    assert data["stages"]["depth"] == [2, 3, 3, 5, 5, 6, 2]
    assert data["stages"]["width"] == [24, 32, 48, 96, 136, 232, 384]
    assert data["tail"]["width"] == 1536
    copy = tmp_path / "expanded.yaml"
    copy.write_text(text)
    assert compile_file(copy).stats.totals == compile_file(spec).stats.totals


def test_drop_path_rate_needs_a_kind_that_takes_it() -> None:
    text = DESIGN.replace("ROUNDING", "pycls") + "drop_path_rate: 0.1\n"
    assert "no stage kind here has a `drop_prob` param" in _refusal(text)
