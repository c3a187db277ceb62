"""Blocks as data: the block language, its generic lowering and emitter, and user blocks.

ECA (archspec/stdlib/blocks/eca.yaml) is checked against timm in test_fidelity.py; here: the
kernel-size rule against timm's EcaModule and the paper's formula, an inline block nobody has
written before against FlopCounterMode and its own parameters, a kind defined in a temporary
directory, and refusals of bad definitions, bad names and injected code.
"""

from __future__ import annotations

import copy
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from archspec.api import compile_file, compile_text
from archspec.blocks.language import OPS
from archspec.blocks.syntax import Construct
from archspec.emit.block_class import member_call
from archspec.errors import SpecError
from tests.conftest import ROOT

PROBE = ROOT / "tests" / "fixtures" / "blocks" / "gated_se.yaml"
OPTIONAL = ROOT / "tests" / "fixtures" / "blocks" / "optional_member.yaml"
NESTED = ROOT / "tests" / "fixtures" / "blocks" / "nested.yaml"
PREACT = ROOT / "tests" / "fixtures" / "blocks" / "preact_eca.yaml"
CHANNELS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]


def _probe() -> dict[str, Any]:
    return dict(yaml.safe_load(PROBE.read_text()))


def _refusal(data: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as info:
        compile_text(yaml.safe_dump(data, sort_keys=False), "probe.yaml")
    return "\n".join(issue.render() for issue in info.value.issues)


def _eca_kernel(channels: int) -> int:
    """The paper's rule (Wang et al. 2020, eq. 12 with gamma 2, b 1), written independently."""
    t = int(abs(math.log2(channels) + 1) / 2)
    return max(t if t % 2 else t + 1, 3)


def _eca_spec(width: int) -> str:
    return f"""
archspec: 1
name: eca_probe
input: [3, 32, 32]
stem: {{type: conv3x3, width: {width}}}
stages: [{{block: basic, depth: 1, width: {width}, stride: 1, attention: {{type: eca}}}}]
head: {{num_classes: 10}}
"""


@pytest.mark.parametrize("channels", CHANNELS)
def test_eca_kernel_follows_the_paper(channels: int) -> None:
    state = compile_text(_eca_spec(channels)).arch.state_dict()
    assert state["layer1.0.se.conv.weight"].shape == (1, 1, _eca_kernel(channels))


def test_language_words_emit_what_their_ops_emit() -> None:
    """A member's generated constructor is the op's own torch call (Op.module_call)."""
    samples = {int: 3, bool: False, float: 0.25}
    for name, word in OPS.items():
        values = tuple(samples[arg.kind] for arg in word.args)
        if name == "adaptive_avgpool":
            values = (1,)  # the global average module; larger sizes are the head's
        op = word.build(*values)
        assert member_call(word, Construct(name, values, ())) == op.module_call(), name


def test_inline_block_builds_and_draws(tmp_path: Path) -> None:
    compiled = compile_file(PROBE)
    source = compiled.source()
    assert "class GatedSqueeze(nn.Module):" in source
    assert "out += x" in source
    assert "se=GatedSqueeze(" in source
    assert "layer1.0.se.fc1.weight" in compiled.arch.state_dict()
    assert "gate se" in compiled.dot("block")  # the kind names its add-on


def test_optional_member_exists_only_where_its_condition_holds() -> None:
    compiled = compile_file(OPTIONAL)
    source = compiled.source()
    assert "def __init__(self, proj: nn.Module | None = None) -> None:" in source
    assert "        if self.proj is not None:\n            identity = self.proj(x)\n" in source
    keys = [key for key in compiled.arch.state_dict() if ".se." in key]
    assert keys == ["layer2.0.se.proj.weight"]


def test_residual_add_is_in_place_only_on_a_value_of_its_own() -> None:
    data = _probe()
    data["blocks"]["gate_se"]["forward"][2] = "out = x"  # out is the input: `+=` would write it
    data["blocks"]["gate_se"]["forward"][3] = "out = out + s * x"
    data["blocks"]["gate_se"]["forward"][1] = "s = gate(fc2(act(fc1(s))))"
    source = compile_text(yaml.safe_dump(data, sort_keys=False), "probe.yaml").source()
    assert "out = out + s * x" in source
    assert "+=" not in source.split("class GatedSqueeze")[1].split("class ")[0]


def test_block_members_are_built_by_the_caller() -> None:
    compiled = compile_file(NESTED)
    source = compiled.source()
    assert "def __init__(self, first: nn.Module, second: nn.Module) -> None:" in source
    assert "se=DoubleEca(first=EcaModule(), second=EcaModule())" in source  # lets folded
    keys = [key for key in compiled.arch.state_dict() if key.startswith("layer1.0.se.")]
    assert keys == ["layer1.0.se.first.conv.weight", "layer1.0.se.second.conv.weight"]


def _nested(members: dict[str, str], forward: list[str]) -> dict[str, Any]:
    data = yaml.safe_load(NESTED.read_text())
    data["blocks"]["double_eca"].update(members=members, forward=forward)
    return dict(data)


@pytest.mark.parametrize(
    ("members", "forward", "expected"),
    [
        ({"again": "double_eca(channels)"}, ["return again(x)"], "builds itself directly"),
        ({"gate": "eac(channels)"}, ["return gate(x)"], "did you mean 'eca'"),
        ({"gate": "eca()"}, ["return gate(x)"], "eca needs channels"),
        ({"gate": "eca(channels, 3)"}, ["return gate(x)"], "at most 1 arguments"),
        ({"gate": "eca(chanels=channels)"}, ["return gate(x)"], "did you mean 'channels'"),
        ({"gate": "eca(channels)"}, ["y = gate(x)", "return gate(y)"], "weights"),
    ],
)
def test_bad_block_members_are_refused(
    members: dict[str, str], forward: list[str], expected: str
) -> None:
    assert expected in _refusal(_nested(members, forward))


def test_mutual_recursion_is_refused() -> None:
    data = _nested({"inner": "ping(channels)"}, ["return inner(x)"])
    data["blocks"]["ping"] = {
        "class_name": "Ping",
        "params": {"channels": {"type": "int"}},
        "members": {"back": "double_eca(channels)"},
        "forward": ["return back(x)"],
    }
    assert "blocks may not be recursive" in _refusal(data)


def test_optional_member_is_called_alone() -> None:
    data = yaml.safe_load(OPTIONAL.read_text())
    data["blocks"]["shortcut_gate"]["forward"] = ["return x * gate(proj(x))"]
    assert "must be called alone" in _refusal(data)


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    config = str(ROOT / "pyproject.toml")
    return subprocess.run(
        [ruff, *args, "--config", config, "--no-cache"], capture_output=True, text=True, check=False
    )


def test_emitted_blocks_are_ruff_fixed_points(tmp_path: Path) -> None:
    """Emitted classes, including a constructor too long for one line, are what `ruff format`
    would write."""
    long = _probe()
    block = long["blocks"]["gate_se"]
    block["let"] = {
        "reduced_channel_count": "max(channels // reduction, 8)",
        "a_rather_long_kernel_size": "1",
    }
    block["members"]["fc1"] = "conv2d(channels, reduced_channel_count, a_rather_long_kernel_size)"
    block["members"]["fc2"] = "conv2d(reduced_channel_count, channels, 1, bias=true)"
    texts = {
        "gated": PROBE.read_text(),
        "optional": OPTIONAL.read_text(),
        "long": yaml.safe_dump(long, sort_keys=False),
    }
    for name, text in texts.items():
        source = compile_text(text, f"{name}.yaml").source()
        assert compile_text(text, f"{name}.yaml").source() == source
        (tmp_path / f"{name}.py").write_text(source)
    check = _ruff("check", str(tmp_path))
    assert check.returncode == 0, check.stdout + check.stderr
    formatted = _ruff("format", "--diff", str(tmp_path))
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_kind_defined_in_a_folder_needs_no_registry(tmp_path: Path) -> None:
    data = _probe()
    block = data["blocks"].pop("gate_se")
    (tmp_path / "kinds").mkdir()
    (tmp_path / "kinds" / "gated.yaml").write_text(yaml.safe_dump(block))
    data["blocks"]["gate_se"] = "kinds/gated.yaml"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    inline = compile_file(PROBE).stats.totals
    from_file = compile_file(spec).stats.totals
    assert (from_file.params, from_file.macs) == (inline.params, inline.macs)


@pytest.mark.parametrize("path", ["../outside.yaml", "kinds/../../outside.yaml", "/etc/x.yaml"])
def test_block_files_stay_inside_the_spec_folder(tmp_path: Path, path: str) -> None:
    (tmp_path / "outside.yaml").write_text("block: 1\n")
    folder = tmp_path / "specs"
    (folder / "kinds").mkdir(parents=True)
    data = _probe()
    data["blocks"]["gate_se"] = path
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(SpecError) as info:
        compile_file(spec)
    assert "blocks.gate_se" in info.value.issues[0].render()


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


BLOCK = ("blocks", "gate_se")
MEMBERS = (*BLOCK, "members")
REFUSED = {
    "unknown op": (_set((*MEMBERS, "fc1"), "conv2(channels, reduced, 1)"), "did you mean 'conv2d'"),
    "unknown argument": (
        _set((*MEMBERS, "fc1"), "conv2d(channels, reduced, 1, bais=true)"),
        "did you mean 'bias'",
    ),
    "too many arguments": (_set((*MEMBERS, "act"), "relu(1)"), "at most 0 arguments"),
    "missing argument": (_set((*MEMBERS, "fc1"), "conv2d(channels, reduced)"), "needs kernel_size"),
    "unknown value": (
        _set((*MEMBERS, "fc1"), "conv2d(channels, reducd, 1)"),
        "did you mean 'reduced'",
    ),
    "member dunder": (_set((*MEMBERS, "__class__"), "relu()"), "taken by nn.Module"),
    "member builtin": (_set((*MEMBERS, "print"), "relu()"), "keyword, builtin"),
    "member module attribute": (_set((*MEMBERS, "forward"), "relu()"), "taken by nn.Module"),
    "member generated global": (_set((*MEMBERS, "torch"), "relu()"), "keyword, builtin"),
    "param keyword": (_set((*BLOCK, "params", "lambda"), {"default": 1}), "keyword, builtin"),
    "param self": (_set((*BLOCK, "params", "self"), {"default": 1}), "keyword, builtin"),
    "let import": (_set((*BLOCK, "let", "reduced"), "__import__('os')"), "reduced"),
    "let attribute": (_set((*BLOCK, "let", "reduced"), "channels.real"), "attribute access"),
    "let lambda": (_set((*BLOCK, "let", "reduced"), "(lambda: 1)()"), "reduced"),
    "member expression": (
        _set((*MEMBERS, "fc1"), "conv2d(channels, reduced * 2, 1)"),
        "compute it under `let:`",
    ),
    "step attribute": (_set((*BLOCK, "forward", 0), "s = x.__class__"), "names, calls"),
    "step statement": (_set((*BLOCK, "forward", 0), "s = mean(x)\nimport os"), "one line"),
    "step subscript": (_set((*BLOCK, "forward", 0), "s = x[0]"), "names, calls"),
    "step undefined": (
        _set((*BLOCK, "forward", 1), "s = gate(fc2(act(fc1(t))))"),
        "reads 't' before it is set",
    ),
    "step unknown call": (_set((*BLOCK, "forward", 0), "s = maen(x)"), "did you mean 'mean'"),
    "member arity": (_set((*BLOCK, "forward", 0), "s = act(x, x)"), "takes one value"),
    "no return": (_set((*BLOCK, "forward"), ["s = mean(x)"]), "is `return"),
    "unused member": (_set((*MEMBERS, "extra"), "relu()"), "never called"),
    "in place on the input": (_set((*BLOCK, "forward", 0), "s = mean(act(x))"), "in place"),
    "in place on a live value": (
        _set(
            (*BLOCK, "forward"), ["s = mean(x)", "t = act(s)", "return x * gate(fc2(fc1(s + t)))"]
        ),
        "would overwrite 's'",
    ),
    "step too long": (
        _set((*BLOCK, "forward", 1), "s = " + "act(" * 12 + "fc1(s)" + ")" * 12),
        "too long for one line",
    ),
    "shared weights": (_set((*BLOCK, "forward", 1), "s = gate(fc2(act(fc1(fc1(s)))))"), "weights"),
    "unknown field": (_set((*BLOCK, "forwrd"), []), "did you mean 'forward'"),
    "let not whole": (_set((*BLOCK, "let", "reduced"), "channels / 3"), "must be a whole number"),
    "add shapes": (
        _set((*BLOCK, "forward", 3), "out = out + s"),
        "forward[3]: block 'gate_se': at layer1.0.se.add (stage1): cannot add tensors",
    ),
    "concat sizes": (
        _set((*BLOCK, "forward", 3), "out = cat(out, s)"),
        "forward[3]: block 'gate_se': at layer1.0.se.cat (stage1): cannot concatenate",
    ),
    "unknown kind": (_set(("stages", "attention"), {"type": "gate_sx"}), "did you mean 'gate_se'"),
    "unknown kind field": (
        _set(("stages", "attention"), {"type": "gate_se", "reductoin": 2}),
        "did you mean 'reduction'",
    ),
    "param below min": (
        _set(("stages", "attention"), {"type": "gate_se", "reduction": 0}),
        "reduction = 0 is below 1",
    ),
    "unused definition": (_set(("blocks", "spare"), {"class_name": "Spare"}), "blocks.spare"),
    "class name": (_set((*BLOCK, "class_name"), "print"), "class_name"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_definitions_are_refused_with_a_location(case: str) -> None:
    mutate, expected = REFUSED[case]
    data = copy.deepcopy(_probe())
    mutate(data)
    text = _refusal(data)
    assert expected in text
    assert "probe.yaml:" in text


@pytest.mark.slow
def test_eca_kernel_equals_timm() -> None:
    timm_layers = pytest.importorskip("timm.layers")
    for channels in CHANNELS:
        state = compile_text(_eca_spec(channels)).arch.state_dict()
        reference = timm_layers.EcaModule(channels)
        assert state["layer1.0.se.conv.weight"].shape == tuple(reference.conv.weight.shape)


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec",
    [PROBE, OPTIONAL, NESTED, PREACT],
    ids=["gated_se", "optional_member", "nested", "preact_eca"],
)
def test_user_block_runs_and_counts_exactly(spec: Path) -> None:
    """Generated module = analytic model: parameters, state_dict shapes, and MACs =
    FlopCounterMode / 2."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    compiled = compile_file(spec)
    model = compiled.to_module().eval()
    totals = compiled.stats.totals
    assert sum(p.numel() for p in model.parameters()) == totals.params
    assert sum(t.numel for t in compiled.arch.state_dict().values() if t.trainable) == totals.params
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {k: t.shape for k, t in compiled.arch.state_dict().items()}
    x = torch.randn(1, *compiled.arch.input_shape)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model(x)
    assert out.shape == (1, 10)
    assert counter.get_total_flops() == 2 * totals.macs


def test_every_standard_library_definition_loads_and_checks() -> None:
    """The standard library loads kind by kind on use: here every file is read and checked."""
    from archspec.blocks.library import _read_block, builtin_blocks, stdlib_dir

    names = sorted(path.stem for path in stdlib_dir().glob("*.yaml"))
    assert names == sorted(builtin_blocks())
    for name in names:
        block = builtin_blocks()[name]
        assert block.class_name and block.doc, name
        # Shipped files load through libyaml without positions; the strict, located reader
        # (duplicate keys, tags) reads them the same.
        assert _read_block(stdlib_dir() / f"{name}.yaml")[0] == block, name
