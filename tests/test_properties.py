"""Property-based tests: every valid spec compiles to a model that is exactly the analytic one.

Hypothesis draws small networks from every family (residual, pre-activation, dense), stem, block,
attention, tap and head option. Each spec is written as YAML (row or columnar form), compiled
with the public API, and the generated model is run on a real input: its param count, state_dict
shapes, output and tap shapes and MACs (torch's FlopCounterMode / 2) equal the analytic numbers.

A second, wider generator also draws combinations the language forbids; for those the contract
is a clean SpecError (located, no other exception) or, when accepted, an exact model as above.
Runs are seeded (derandomize) and bounded (max_examples), so CI sees the same cases every time.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from archspec.api import Compiled, compile_text
from archspec.errors import SpecError
from archspec.lower.model import class_name
from archspec.spec.models import StageRow, default_class_name

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

# Every test here runs models in torch or a long seeded campaign: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

# ARCHSPEC_FUZZ_SCALE=N runs N times the examples (a longer, still seeded, bug hunt).
SCALE = int(os.environ.get("ARCHSPEC_FUZZ_SCALE", "1"))
BOUNDED = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WIDTHS = (8, 16, 24, 32, 48, 64)
Draw = Any


# --- valid specs -------------------------------------------------------------------------------


@st.composite
def valid_specs(draw: Draw, families: tuple[str, ...] = ("residual", "preact", "dense")) -> Any:
    """A spec dict the language accepts (every rule of DESIGN.md and the lowering honoured)."""
    family = draw(st.sampled_from(families))
    stem_types = ["conv7x7", "conv3x3", "deep"] if family == "residual" else ["conv7x7", "conv3x3"]
    stem: dict[str, Any] = {"type": draw(st.sampled_from(stem_types))}
    stem["width"] = draw(st.sampled_from(WIDTHS))
    if stem["type"] == "deep" and draw(st.booleans()):
        stem["mid_width"] = draw(st.sampled_from(WIDTHS))
    if draw(st.booleans()):
        stem["pool"] = draw(st.booleans())
    if draw(st.integers(0, 5)) == 0:
        stem["norm"] = False
    n_stages = draw(st.integers(1, 4))
    rows: list[dict[str, Any]] = []
    channels = stem["width"]
    for index in range(n_stages):
        row_strategy = {"residual": residual_row, "preact": preact_row, "dense": dense_row}[family]
        row, channels = draw(row_strategy(index, channels))
        rows.append(row)
    if family == "dense" and rows[-1].get("compression", 0.5) != 0.5:
        del rows[-1]["compression"]  # the last dense stage has no transition
    spec: dict[str, Any] = {
        "archspec": 1,
        "name": draw(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)),
        "input": [draw(st.integers(1, 4)), draw(st.integers(32, 96)), draw(st.integers(32, 96))],
        "stem": stem,
        "stages": rows,
    }
    spec.update(draw(model_options(family, rows)))
    return spec


@st.composite
def model_options(draw: Draw, family: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    replaces_3x3 = any(row.get("attention", {}).get("type") in ("sk", "split") for row in rows)
    if family != "dense":
        if not replaces_3x3 and draw(st.booleans()):
            options["conv_bias"] = draw(st.booleans())
        if draw(st.booleans()):
            options["zero_init_residual"] = draw(st.booleans())
    options["head"] = draw(
        st.one_of(
            st.just("none"),
            st.builds(lambda n: {"type": "classifier", "num_classes": n}, st.integers(1, 20)),
        )
    )
    taps = ["stem"] + [f"stage{i + 1}" for i in range(len(rows))]
    if draw(st.booleans()):
        options["outputs"] = draw(st.lists(st.sampled_from(taps), min_size=1, unique=True))
    return options


@st.composite
def residual_row(draw: Draw, index: int, in_channels: int) -> tuple[dict[str, Any], int]:
    block = draw(st.sampled_from(["basic", "bottleneck"]))
    row: dict[str, Any] = {"block": block, "depth": draw(st.integers(1, 2))}
    row["width"] = draw(st.sampled_from(WIDTHS))
    _common_options(draw, row)
    inner = row["width"]
    if block == "bottleneck":
        row["groups"] = draw(st.sampled_from([1, 2, 4]))
        row["base_width"] = draw(st.sampled_from([16, 32, 64, 128]))
        inner = row["width"] * row["base_width"] // 64 * row["groups"]
    out = row["width"] * (row.get("expansion") or (4 if block == "bottleneck" else 1))
    attention = draw(st.sampled_from(["none", "se", "sk"] + (["split"] * (block == "bottleneck"))))
    if attention == "se":
        row["attention"] = draw(se_attention())
    elif attention == "sk":
        row["attention"] = draw(
            sk_attention(block, (in_channels, out), inner, row.get("groups", 1))
        )
    elif attention == "split":
        row["groups"] = 1
        per_group = row["width"] * row["base_width"] // 64
        radix = draw(st.sampled_from([r for r in (1, 2, 4) if per_group % r == 0]))
        row["attention"] = {"type": "split", "radix": radix}
        row["attention"].update(draw(split_options(_stride(row, index) > 1)))
    if attention not in ("sk", "split") and block == "bottleneck" and draw(st.booleans()):
        row["stride_at"] = draw(st.sampled_from(["3x3", "1x1"]))
    if draw(st.booleans()):
        row["dilation"] = draw(st.sampled_from([1, 2]))
    _downsample(draw, row, index, in_channels, out)
    return row, out


def _stride(row: dict[str, Any], index: int) -> int:
    return int(row.get("stride") or (1 if index == 0 else 2))


def _downsample(draw: Draw, row: dict[str, Any], index: int, in_channels: int, out: int) -> None:
    """`downsample` styles the projection shortcut: only stages that have one take it."""
    if (_stride(row, index) != 1 or in_channels != out) and draw(st.booleans()):
        row["downsample"] = draw(st.sampled_from(["conv", "avg"]))


def _common_options(draw: Draw, row: dict[str, Any]) -> None:
    if draw(st.booleans()):
        row["stride"] = draw(st.sampled_from([1, 2]))
    if draw(st.booleans()):
        row["expansion"] = draw(st.sampled_from([1, 2, 4]))


def se_attention() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"type": st.just("se")},
        optional={"reduction": st.integers(1, 16), "divisor": st.integers(1, 8)},
    )


def split_options(strided: bool) -> st.SearchStrategy[dict[str, Any]]:
    """avd moves a strided block's stride into a pool: only strided stages take it, and
    `avd_first` only with avd on."""
    optional: dict[str, Any] = {
        "reduction": st.integers(1, 8),
        "divisor": st.sampled_from([1, 4, 8]),
        "min_channels": st.sampled_from([8, 16, 32]),
    }
    if not strided:
        return st.fixed_dictionaries({}, optional=optional)
    avd = st.one_of(st.just({}), st.just({"avd": False}), st.just({"avd": True}))
    first = st.fixed_dictionaries({}, optional={"avd_first": st.booleans()})
    return st.tuples(st.fixed_dictionaries({}, optional=optional), avd, first).map(
        lambda parts: parts[0] | parts[1] | (parts[2] if parts[1].get("avd", True) else {})
    )


@st.composite
def sk_attention(
    draw: Draw, block: str, channels: tuple[int, int], inner: int, groups: int
) -> dict[str, Any]:
    sk: dict[str, Any] = {"type": "sk"}
    if draw(st.booleans()):
        sk["kernels"] = draw(st.lists(st.sampled_from([1, 3, 5, 7]), min_size=2, max_size=3))
        count = len(sk["kernels"])
    else:
        count = sk["branches"] = draw(st.integers(2, 4))
    sk.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "reduction": st.integers(1, 16),
                    "divisor": st.sampled_from([1, 8, 16]),
                    "min_channels": st.sampled_from([4, 16, 32]),
                },
            )
        )
    )
    # Basic blocks split their input across branches by default; bottlenecks do not.
    split_ok = (
        all(c % count == 0 for c in channels)
        if block == "basic"
        else inner % count == 0 and (inner // count) % groups == 0
    )
    choices = [False] + [True] * split_ok
    split = draw(st.sampled_from(choices))
    if split != (block == "basic") or draw(st.booleans()):
        sk["split_input"] = split
    return sk


@st.composite
def preact_row(draw: Draw, index: int, in_channels: int) -> tuple[dict[str, Any], int]:
    block = draw(st.sampled_from(["preact_basic", "preact_bottleneck"]))
    row: dict[str, Any] = {"block": block, "depth": draw(st.integers(1, 2))}
    row["width"] = draw(st.sampled_from(WIDTHS))
    _common_options(draw, row)
    if block == "preact_bottleneck":
        row["groups"] = draw(st.sampled_from([1, 2, 4]))
        row["base_width"] = draw(st.sampled_from([16, 32, 64, 128]))
    if draw(st.booleans()):
        row["dilation"] = draw(st.sampled_from([1, 2]))
    if draw(st.booleans()):
        row["attention"] = draw(se_attention())
    expansion = row.get("expansion") or (4 if block == "preact_bottleneck" else 1)
    out = row["width"] * expansion
    _downsample(draw, row, index, in_channels, out)
    return row, out


@st.composite
def dense_row(draw: Draw, index: int, in_channels: int) -> tuple[dict[str, Any], int]:
    row: dict[str, Any] = {"block": "dense", "depth": draw(st.integers(1, 3))}
    row.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "growth_rate": st.integers(4, 16),
                    "bn_size": st.integers(1, 4),
                    "compression": st.sampled_from([0.25, 0.5, 1.0]),
                },
            )
        )
    )
    return row, in_channels  # channels only matter for residual SK checks


# --- YAML text ---------------------------------------------------------------------------------


def columnar(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The same stages as one columnar table: a scalar where all stages agree, else a list."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    table: dict[str, Any] = {}
    for key in keys:
        default = StageRow.model_fields[key].default if key in StageRow.model_fields else None
        values = [row.get(key, "none" if key == "attention" else default) for row in rows]
        same = all(value == values[0] for value in values)
        table[key] = values[0] if same and key != "depth" else values
    return table


def spec_text(spec: dict[str, Any], as_columns: bool) -> str:
    doc = dict(spec)
    # Columnar tables need every stage to accept every key; dense stages refuse `groups` etc.
    if as_columns and all(set(row) == set(spec["stages"][0]) for row in spec["stages"]):
        doc["stages"] = columnar(spec["stages"])
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=1000)


# --- the checks --------------------------------------------------------------------------------


def check_model(compiled: Compiled) -> None:
    """Run the generated model; compare with the analytic params, state_dict, shapes, MACs."""
    arch = compiled.arch
    torch.manual_seed(0)
    model = compiled.to_module().eval()
    actual = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    expected = {key: tensor.shape for key, tensor in arch.state_dict().items()}
    assert actual == expected
    assert sum(p.numel() for p in model.parameters()) == compiled.stats.totals.params
    batch = 2
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model(torch.randn(batch, *arch.input_shape))
    assert counter.get_total_flops() == 2 * batch * compiled.stats.totals.macs
    graph = arch.graph
    if arch.taps:
        head = ["logits"] if compiled.loaded.spec.head else []
        assert list(out) == list(arch.taps) + head
        for tap, node in arch.taps.items():
            assert tuple(out[tap].shape) == (batch, *graph.nodes[node]["shape"])
        out = out["logits"] if head else out[list(arch.taps)[-1]]
    else:
        assert tuple(out.shape) == (batch, *graph.nodes[arch.output]["shape"])
    assert bool(torch.isfinite(out).all())


@settings(BOUNDED, max_examples=150 * SCALE)
@given(spec=valid_specs(), as_columns=st.booleans())
def test_valid_specs_build_exact_models(spec: dict[str, Any], as_columns: bool) -> None:
    text = spec_text(spec, as_columns)
    try:
        compiled = compile_text(text, "generated.yaml")
    except SpecError as exc:  # the generator believed this valid: a language or generator bug
        pytest.fail(f"valid spec refused:\n{text}\n{exc}")
    assert class_name(compiled.loaded.spec) == (
        compiled.loaded.spec.class_name or default_class_name(compiled.loaded.spec.name)
    )
    check_model(compiled)


# --- a wider space: accepted means exact, refused means a clean located SpecError ----------------


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field that is left out (None) half of the time."""
    return st.one_of(st.none(), strategy)


WIDE_ATTENTION = st.one_of(
    st.none(),
    se_attention(),
    st.fixed_dictionaries(
        {"type": st.just("sk")},
        optional={
            "branches": st.integers(2, 4),
            "kernels": st.lists(st.integers(1, 7), min_size=1, max_size=3),
            "split_input": st.booleans(),
            "min_channels": st.integers(1, 32),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("split")},
        optional={
            "radix": st.integers(1, 4),
            "reduction": st.integers(1, 8),
            "min_channels": st.integers(1, 32),
            "avd_first": st.booleans(),
        },
    ),
)


@st.composite
def wide_row(draw: Draw) -> dict[str, Any]:
    blocks = ["basic", "bottleneck", "bottleneck", "preact_basic", "preact_bottleneck", "dense"]
    fields = {
        "block": st.sampled_from(blocks),
        "depth": st.integers(1, 2),
        "width": _maybe(st.integers(1, 40)),
        "groups": _maybe(st.integers(1, 6)),
        "base_width": _maybe(st.sampled_from([1, 8, 16, 24, 64, 100])),
        "stride": _maybe(st.integers(1, 3)),
        "dilation": _maybe(st.integers(1, 3)),
        "expansion": _maybe(st.integers(1, 4)),
        "downsample": _maybe(st.sampled_from(["conv", "avg"])),
        "stride_at": _maybe(st.sampled_from(["3x3", "1x1"])),
        "attention": WIDE_ATTENTION,
        "growth_rate": _maybe(st.integers(1, 12)),
        "bn_size": _maybe(st.integers(1, 4)),
        "compression": _maybe(st.sampled_from([0.01, 0.3, 1.0])),
    }
    row = {key: draw(strategy) for key, strategy in fields.items()}
    return {key: value for key, value in row.items() if value is not None}


@st.composite
def wide_specs(draw: Draw) -> dict[str, Any]:
    """Any mix of blocks, attention and numbers, legal or not (small enough to run): half are
    free-form rows, half valid specs with their arithmetic perturbed (groups, radix, widths...)."""
    if draw(st.booleans()):
        spec = draw(st.one_of(valid_specs(), valid_specs(("residual",))))
        for row in spec["stages"]:
            dense = row["block"] == "dense"
            row.update(draw(DENSE_PERTURBATIONS if dense else PERTURBATIONS))
            attention = row.get("attention")
            if attention is not None and attention["type"] in ATTENTION_PERTURBATIONS:
                attention.update(draw(ATTENTION_PERTURBATIONS[attention["type"]]))
        spec["input"][1:] = [draw(st.integers(8, 48)), draw(st.integers(8, 48))]
        return spec
    stem = {
        "type": draw(st.sampled_from(["conv7x7", "conv3x3", "deep"])),
        "width": draw(st.integers(1, 32)),
    }
    spec = {
        "archspec": 1,
        "name": "wide",
        "input": [draw(st.integers(1, 3)), draw(st.integers(8, 48)), draw(st.integers(8, 48))],
        "stem": stem,
        "stages": draw(st.lists(wide_row(), min_size=1, max_size=3)),
        "head": draw(st.sampled_from(["none", {"type": "classifier", "num_classes": 3}])),
    }
    if draw(st.booleans()):
        spec["outputs"] = draw(st.lists(st.sampled_from(["stem", "stage1", "stage3"]), max_size=2))
    if draw(st.booleans()):
        spec["conv_bias"] = True
    return spec


PERTURBATIONS = st.fixed_dictionaries(
    {},
    optional={
        "width": st.integers(1, 40),
        "groups": st.integers(1, 6),
        "base_width": st.sampled_from([1, 8, 16, 24, 100]),
        "stride": st.integers(1, 3),
        "expansion": st.integers(1, 3),
    },
)
DENSE_PERTURBATIONS = st.fixed_dictionaries(
    {},
    optional={"growth_rate": st.integers(1, 12), "compression": st.sampled_from([0.01, 0.3])},
)
ATTENTION_PERTURBATIONS = {
    "sk": st.fixed_dictionaries(
        {},
        optional={
            "branches": st.integers(2, 4),
            "split_input": st.booleans(),
            "min_channels": st.integers(1, 32),
            "reduction": st.integers(1, 8),
        },
    ),
    "split": st.fixed_dictionaries(
        {},
        optional={
            "radix": st.integers(1, 4),
            "min_channels": st.integers(1, 32),
            "reduction": st.integers(1, 8),
            "divisor": st.integers(1, 8),
        },
    ),
}


@settings(BOUNDED, max_examples=500 * SCALE)
@given(spec=wide_specs())
def test_any_spec_is_refused_cleanly_or_exact(spec: dict[str, Any]) -> None:
    text = spec_text(spec, as_columns=False)
    try:
        compiled = compile_text(text, "wide.yaml")
    except SpecError as exc:
        event("refused: " + exc.issues[0].message[:30])
        assert exc.issues and re.match(r"wide\.yaml:\d+:\d+: error: ", str(exc)), str(exc)
        return
    event("accepted")
    check_model(compiled)
