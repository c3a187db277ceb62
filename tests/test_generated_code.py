"""The generated file reads like a hand-written one: runs of identical blocks are one constructor
call in a comprehension, no constructor takes a parameter that no call passes, and the fuse
pairs sit on the class that builds them. Variants beyond the zoo stay ruff-clean and exact."""

from __future__ import annotations

import ast
import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archspec.api import compile_text
from archspec.ir.ops import helper_sources
from tests.conftest import GENERATED, ROOT, ZOO_PARAMS, compiled

# Parameters a block takes only when some network needs them.
OPTIONAL = {"se", "dilation", "first_dilation", "groups"}


def _tree(name: str) -> ast.Module:
    return ast.parse((GENERATED / f"{name}.py").read_text())


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _callee(call: ast.Call) -> str:
    return ast.unparse(call.func)


@pytest.mark.parametrize("name", ZOO_PARAMS)
def test_identical_blocks_are_one_comprehension(name: str) -> None:
    for call in _calls(_tree(name)):
        if _callee(call) != "nn.Sequential":
            continue
        dumped = [ast.dump(arg) for arg in call.args]
        assert all(a != b for a, b in itertools.pairwise(dumped)), (
            f"{name}: a run of identical children is unrolled in {ast.unparse(call)[:120]}"
        )


@pytest.mark.slow
def test_stages_use_comprehensions_and_keep_keys() -> None:
    """resnet101's 23-block stage is one call; its state_dict still has every index."""
    pytest.importorskip("torch")
    from tests.conftest import compiled

    text = (GENERATED / "resnet101.py").read_text()
    assert "for _ in range(22)" in text
    spec = compiled("resnet101")
    model = spec.to_module()
    assert list(model.state_dict()) == list(spec.arch.state_dict())
    assert len(text.splitlines()) < 250


@pytest.mark.parametrize("name", ZOO_PARAMS)
def test_no_unused_constructor_parameters(name: str) -> None:
    tree = _tree(name)
    passed = {(_callee(call), keyword.arg) for call in _calls(tree) for keyword in call.keywords}
    # Block classes are written for the model; the op helpers (Conv2dSame, ...) are fixed code.
    helpers = set(helper_sources())
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name not in helpers):
        init = next(
            (f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None
        )
        if init is None:
            continue
        params = {arg.arg for arg in init.args.args} & OPTIONAL
        unused = {p for p in params if (cls.name, p) not in passed}
        assert not unused, f"{name}: {cls.name} never receives {sorted(unused)}"


@pytest.mark.parametrize("name", ZOO_PARAMS)
def test_fuse_pairs_are_per_class(name: str) -> None:
    """Each class carries a short `fusible` table; no model-wide table is left."""
    tree = _tree(name)
    assert not any(
        isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "FUSIBLE"
        for node in tree.body
    )
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        for node in cls.body:
            if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "fusible":
                pairs = ast.literal_eval(node.value)
                # Blocks hold a few pairs; the model the stem's and the projections' (and, in
                # torchvision's flat VGG layout, every layer's: VGG has no block classes), and
                # those in lists it builds for blocks (lists with optional items, as Res2Net's
                # convs.i / bns.i: which items exist is each block's arguments' business).
                model = cls.name == compiled(name).arch.class_name
                if model:
                    pairs = [p for p in pairs if not _in_passed_list(*p)]
                assert len(pairs) <= (20 if model else 8), f"{name}.{cls.name}: {len(pairs)}"
                assert model or pairs, f"{name}.{cls.name}: an empty table"


def _in_passed_list(conv: str, norm: str) -> bool:
    """(block.convs.i, block.bns.i): items of two lists a block receives built."""
    conv_parts, norm_parts = conv.split("."), norm.split(".")
    if len(conv_parts) < 3 or len(norm_parts) != len(conv_parts):
        return False
    same_block = conv_parts[:-2] == norm_parts[:-2] and conv_parts[-2] != norm_parts[-2]
    return same_block and conv_parts[-1].isdigit() and conv_parts[-1] == norm_parts[-1]


VARIANT = """\
archspec: 1
name: {name}
input: [3, 64, 64]
stem: {{type: {stem}, width: {stem_width}}}
stages:
  block: {block}
  depth: [2, 3, 3]
  width: [{width}, {width2}, {width3}]
  stride: [1, 2, 1]
  dilation: [1, 1, 2]
{extra}head: {{type: classifier, num_classes: 10}}
"""

SE = "  attention: {type: se, reduction: 4}\n"
VARIANTS = {
    "dilated_se_basic": ("basic", SE),
    "dilated_se_bottleneck": ("bottleneck", SE + "  groups: 2\n  base_width: 64\n"),
    "dilated_se_preact_basic": ("preact_basic", SE),
    "dilated_preact_bottleneck": ("preact_bottleneck", "  groups: 4\n"),
    "dilated_resnest": (
        "bottleneck",
        "  groups: 2\n  base_width: 64\n  attention: {type: split, radix: 2}\n",
    ),
    "wide_dilated_bottleneck": ("bottleneck", "  stride_at: 1x1\n"),
}


def _variant(name: str) -> str:
    block, extra = VARIANTS[name]
    wide = name.startswith("wide")
    return VARIANT.format(
        name=name,
        stem="deep" if "resnest" in name else "conv3x3",
        stem_width=32,
        block=block,
        width=262144 if wide else 32,
        width2=262144 if wide else 64,
        width3=524288 if wide else 128,
        extra=extra,
    )


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    config = str(ROOT / "pyproject.toml")
    return subprocess.run(
        [ruff, *args, "--config", config, "--no-cache"], capture_output=True, text=True, check=False
    )


def test_variants_are_ruff_fixed_points(tmp_path: Path) -> None:
    """Dilation, groups, SE, stride on the 1x1 and six-digit widths: the conditional template
    lines and the comprehension wrapping still match `ruff format` byte for byte."""
    for name in VARIANTS:
        source = compile_text(_variant(name)).source()
        assert compile_text(_variant(name)).source() == source
        (tmp_path / f"{name}.py").write_text(source)
    check = _ruff("check", str(tmp_path))
    assert check.returncode == 0, check.stdout + check.stderr
    formatted = _ruff("format", "--diff", str(tmp_path))
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in VARIANTS if not n.startswith("wide")])
def test_variants_run_exactly(name: str) -> None:
    """The specialised constructors still build the analytic model, and fuse() still folds
    every pair the IR allows."""
    torch = pytest.importorskip("torch")
    from archspec.emit.fusion import fusible

    spec = compile_text(_variant(name))
    model = spec.to_module().eval()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {
        k: tuple(t.shape) for k, t in spec.arch.state_dict().items()
    }
    x = torch.randn(2, 3, 48, 40)
    with torch.no_grad():
        expected = model(x)
        folded = spec.to_module()
        folded.load_state_dict(model.state_dict())
        folded.fuse()
        torch.testing.assert_close(folded(x), expected, rtol=1e-4, atol=1e-4)
    identities = sum(isinstance(m, torch.nn.Identity) for m in folded.modules()) - sum(
        isinstance(m, torch.nn.Identity) for m in model.modules()
    )
    assert identities == len(fusible(spec.arch))
