"""Per-op knowledge lives on the op: every op states every facet, and no pass forgets one.

Each concrete op class must define each facet (torch emission, every counting convention, what
autograd saves, storage aliasing, receptive-field window, diagram text and colour) itself or on a
deliberate abstract base, never inherit one from `Op` or from another concrete op. A new op that
forgets a facet fails here by name.

The totals fixture is a refactor guard: it was recorded from the isinstance-chain passes before
the facets moved onto the ops, and every zoo spec must still give exactly those numbers. (That
the numbers are *right* is proven elsewhere, against the real tools: test_conventions.py,
test_fidelity.py, test_analysis.py.) After a deliberate change of numbers, re-record with
`python -m tests.test_op_facets` and review the fixture's diff.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import json
import sys
from functools import cache
from typing import Any, ClassVar

import pytest

from archspec.conventions import CONVENTIONS, count, pycls_acts
from archspec.emit.diagram_text import PALETTE
from archspec.ir import ops
from archspec.ir.code import Call
from archspec.ir.ops import Op, Site, Uncounted, Window, helper_sources
from archspec.memory import estimate
from archspec.names import GENERATED_GLOBALS
from tests.conftest import ROOT, compiled

FIXTURE = ROOT / "tests" / "fixtures" / "op_facet_totals.json"
# What every op must state; the abstract methods of Op must include all of these.
METHODS = {
    "module_call",  # emission
    "macs",  # conventions
    "fvcore",
    "ptflops",
    "pycls",
    "pycls_acts",
    "saved_for_backward",  # memory
    "saved_index_elements",
    "saved_private_elements",
    "aliases_input",
    "window",  # receptive field
    "describe",  # diagram text
}
CLASS_VARS = ("kind", "category")  # table name; breakdown key and diagram colour
# The modules that used to switch on op classes: they may import only the op protocol.
ASKING_MODULES = (
    "archspec/conventions.py",
    "archspec/memory.py",
    "archspec/passes/receptive_field.py",
    "archspec/emit/source.py",
    "archspec/emit/diagram_text.py",
)
PROTOCOL = {"Op", "Shape", "Site", "Costs", "Window", "POINTWISE", "TensorInfo", "ShapeError"}


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def concrete_ops(root: type = Op) -> list[type[Op]]:
    """Every op class archspec defines: those that name their own `kind`. The others are
    deliberate bases (Uncounted, the pool, merge and view bases)."""
    found = [c for c in _subclasses(root) if c.__module__.startswith("archspec.")]
    return sorted({c for c in found if "kind" in vars(c)}, key=lambda c: c.__name__)


def _definer(cls: type, name: str) -> type | None:
    return next((k for k in cls.__mro__ if name in vars(k)), None)


def missing_facets(cls: type) -> list[str]:
    """Facets the class neither defines itself nor takes from a deliberate base.

    Inheriting from Op itself or from another op does not count: Conv1d(Conv2d) must state
    its own window and emission.
    """
    missing = []
    for name in sorted(Op.__abstractmethods__ | set(CLASS_VARS)):
        where = _definer(cls, name)
        base = where is not None and where is not Op and "kind" not in vars(where)
        if where is not cls and not base:
            missing.append(name)
    return missing


def _sample(cls: type[Op]) -> Op:
    """An instance with every required field set to 2 (all required fields are sizes)."""
    required = [
        f
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    return cls(*[2] * len(required))


OPS = concrete_ops()


def test_op_declares_every_facet_abstract() -> None:
    assert METHODS <= Op.__abstractmethods__
    assert not Op.__abstractmethods__ & {"infer", "tensors"}  # true defaults, documented
    assert all(not hasattr(Op, name) for name in CLASS_VARS)


def test_every_op_is_found() -> None:
    # Every class the package exports is an op with its own kind, a deliberate base, or no op.
    exported = {getattr(ops, n) for n in ops.__all__ if isinstance(getattr(ops, n), type)}
    assert set(OPS) == {c for c in exported if issubclass(c, Op) and "kind" in vars(c)}
    assert {"Conv2d", "ZeroPad2d", "GroupWeightedSum", "Input"} <= {c.__name__ for c in OPS}


@pytest.mark.parametrize("cls", OPS, ids=lambda c: c.__name__)
def test_op_states_every_facet(cls: type[Op]) -> None:
    assert missing_facets(cls) == []
    assert not inspect.isabstract(cls)
    assert cls.category in PALETTE, f"{cls.__name__}.category has no diagram colour"


def test_kinds_are_unique() -> None:
    kinds = [cls.kind for cls in OPS]
    assert len(kinds) == len(set(kinds))


@pytest.mark.parametrize("cls", OPS, ids=lambda c: c.__name__)
def test_facets_answer_in_their_types(cls: type[Op]) -> None:
    op = _sample(cls)
    site = Site([(2, 8, 8)], (2, 4, 4))
    call = op.module_call()
    # A torch.nn module, or a helper class every generated file may define (StochasticDepth).
    helpers = {"StochasticDepth", *helper_sources()} & set(GENERATED_GLOBALS)
    target = str(call.target) if isinstance(call, Call) else ""
    assert call is None or target.startswith("nn.") or target in helpers
    assert isinstance(op.window(), Window)
    assert isinstance(op.describe(), str) and op.describe()
    assert isinstance(op.aliases_input(), bool)
    for costs in (op.fvcore(site), op.ptflops(site, True), op.ptflops(site, False), op.pycls(site)):
        assert all(isinstance(c, str) and isinstance(n, int) and n >= 0 for c, n in costs)
    assert op.pycls_acts(site) >= 0 and op.saved_index_elements((2, 4, 4)) >= 0
    assert set(op.saved_for_backward(["x"], "self")) <= {"x", "self"}


def test_a_forgetful_op_is_caught() -> None:
    @dataclasses.dataclass(frozen=True)
    class Gelu(Uncounted):  # states no window, emission, memory or text
        kind: ClassVar[str] = "gelu"
        category: ClassVar[str] = "activation"

    @dataclasses.dataclass(frozen=True)
    class Conv1d(ops.Conv2d):  # everything inherited from another op
        kind: ClassVar[str] = "conv1d"

    assert inspect.isabstract(Gelu)
    assert Gelu not in concrete_ops() and Conv1d not in concrete_ops()  # archspec's ops only
    assert {"window", "module_call", "describe", "saved_for_backward"} <= set(missing_facets(Gelu))
    assert {"window", "module_call", "fvcore", "category"} <= set(missing_facets(Conv1d))
    with pytest.raises(TypeError, match="abstract"):
        Gelu()  # type: ignore[abstract]


@pytest.mark.parametrize("path", ASKING_MODULES)
def test_passes_ask_the_op(path: str) -> None:
    """No isinstance chains over op classes: these modules import only the op protocol."""
    tree = ast.parse((ROOT / path).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("archspec.ir.ops")
        for alias in node.names
    }
    assert imported <= PROTOCOL, f"{path} imports op classes: {sorted(imported - PROTOCOL)}"


def _fields(name: str) -> dict[str, Any]:
    """Receptive fields: of every stage and block in full, of every node as a digest."""
    stats = compiled(name).stats
    lines = "".join(f"{row.path} {row.rf} {row.stride}\n" for row in stats.layers)
    return {
        "stages": {row.name: [row.rf, row.stride] for row in stats.stages},
        "blocks": {row.name: [row.rf, row.stride] for row in stats.blocks},
        "nodes_sha256": hashlib.sha256(lines.encode()).hexdigest(),
    }


def measure(name: str) -> dict[str, Any]:
    """Every convention's breakdown, pycls acts, two memory estimates and receptive fields."""
    arch = compiled(name).arch
    return {
        "conventions": {
            key: {"total": b.total, "by_category": b.by_category}
            for key in CONVENTIONS
            for b in [count(arch, key)]
        },
        "pycls_acts": pycls_acts(arch),
        "memory": {
            "batch1_float32": estimate(arch).to_dict(),
            "batch8_float16": estimate(arch, 8, "float16").to_dict(),
        },
        "receptive_field": _fields(name),
    }


@cache
def _recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text()) if FIXTURE.is_file() else {}
    return data


@pytest.mark.parametrize("name", sorted(_recorded()))
def test_totals_unchanged(name: str) -> None:
    if not (ROOT / "specs" / f"{name}.yaml").is_file():
        pytest.skip(f"specs/{name}.yaml was removed")
    assert measure(name) == _recorded()[name]


def _record(names: list[str]) -> None:
    data = {name: measure(name) for name in names}
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    _record(sys.argv[1:] or sorted(path.stem for path in (ROOT / "specs").glob("*.yaml")))
