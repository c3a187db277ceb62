"""Figures of candidate networks held in memory, fast: each distinct segment is analysed once.

A candidate is plain spec data (the top-level fields and the stage rows, as YAML would hold
them). Nothing is parsed from text and no code is generated: top-level fields and each distinct
stage row are validated once (pydantic), each distinct segment (stem, a stage's first block,
its repeated block, the tail) is lowered and analysed once (archspec.sweep.segments), and a
candidate's figures are sums, maxima and affine maps over cached segments. Dense stages, whose
layers all differ, take the ordinary whole-network path. Every figure equals what
`archspec stats` reports for the same spec (tests/test_sweep_figures.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

from archspec.errors import format_loc
from archspec.ir.ops import Shape
from archspec.lower import LowerError, lower
from archspec.lower.geometry import StageGeometry, stage_geometry
from archspec.lower.model import Family, family_of
from archspec.memory import DTYPE_BYTES, INDEX_BYTES, estimate
from archspec.passes import run_passes
from archspec.passes.shapes import ShapePassError
from archspec.spec.checks import check_spec, uniform_fields
from archspec.spec.models import MAX_BLOCKS, MAX_STAGES, Spec, StageRow
from archspec.stats import compute_stats
from archspec.sweep.segments import Segment, block_segment, stem_segment, tail_segment

# Figures a sweep reports, in table order; the memory ones only with a batch size.
FIGURES = ("params", "buffers", "macs", "flops", "acts", "rf", "stride")
MEMORY_FIGURES = ("params_bytes", "peak_bytes", "saved_bytes")
MAX_CACHED = 500_000
_PLACEHOLDER_ROW = {"block": "basic", "depth": 1, "width": 1}


class CandidateError(Exception):
    """This candidate is not a valid network: the field and what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Memory:
    batch: int
    dtype: str = "float32"


@dataclass(frozen=True)
class Figures:
    params: int
    buffers: int
    macs: int
    acts: int
    rf: int | None
    stride: int | None
    # At the sweep's batch size and dtype (archspec.memory.estimate); None without one.
    params_bytes: int | None = None
    peak_bytes: int | None = None
    saved_bytes: int | None = None

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def as_dict(self) -> dict[str, int | None]:
        names = FIGURES + (MEMORY_FIGURES if self.peak_bytes is not None else ())
        return {name: getattr(self, name) for name in names}


def freeze(value: Any) -> Any:
    """A hashable key for YAML data; bools and floats keep their type (True == 1 == 1.0)."""
    kind = type(value)
    if kind is dict:
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if kind is list or kind is tuple:
        return tuple(freeze(v) for v in value)
    if kind is bool or kind is float:
        return (kind.__name__, value)
    return value


def _pydantic_error(exc: pydantic.ValidationError, prefix: tuple[str | int, ...]) -> CandidateError:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in ("se", "sk", "split"))
    return CandidateError(format_loc((*prefix, *loc)), err["msg"])


class _Cache:
    """A dict of results or errors, emptied when it grows past MAX_CACHED entries."""

    def __init__(self) -> None:
        self.items: dict[Any, Any] = {}

    def get(self, key: Any, make: Callable[..., Any], *args: Any) -> Any:
        found = self.items.get(key)
        if found is None:
            if len(self.items) >= MAX_CACHED:
                self.items.clear()
            try:
                found = make(*args)
            except CandidateError as exc:
                found = CandidateError(exc.field, exc.message)  # no traceback kept alive
            self.items[key] = found
        if isinstance(found, CandidateError):
            # A fresh error each time: re-raising one object would grow its traceback forever.
            raise CandidateError(found.field, found.message)
        return found


def _guard(action: Callable[..., Any], *args: Any) -> Any:
    """Run a lowering step; impossible networks become CandidateError."""
    try:
        return action(*args)
    except LowerError as exc:
        raise CandidateError(format_loc(exc.loc), exc.message) from None
    except ShapePassError as exc:
        raise CandidateError("input", f"at {exc.node}: {exc.message}") from None


class Analyzer:
    """Figures of candidates; keeps its caches across calls (one per worker process)."""

    def __init__(self, memory: Memory | None = None) -> None:
        self.memory = memory
        self._tops, self._rows, self._plans, self._segments = _Cache(), _Cache(), _Cache(), _Cache()
        self._ids: dict[Any, int] = {}

    def _intern(self, key: Any) -> int:
        """A small int per distinct key, so composite cache keys hash fast."""
        found = self._ids.get(key)
        if found is None:
            if len(self._ids) >= MAX_CACHED:  # ids name cached entries: forget them together
                for cache in (self._tops, self._rows, self._plans, self._segments):
                    cache.items.clear()
                self._ids.clear()
            found = self._ids[key] = len(self._ids)
        return found

    def figures(self, top: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Figures:
        return self.figures_of(self.check(top, rows))

    def check(self, top: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Checked:
        """Validate a candidate's fields (cached per distinct value); CandidateError if bad."""
        top_key = self._intern(freeze(dict(top)))
        base: Spec = self._tops.get(top_key, _validate_top, top)
        keys = tuple(
            self._intern(freeze({k: v for k, v in row.items() if k != "depth"})) for row in rows
        )
        models = [
            self._rows.get(key, _validate_row, row, i)
            for i, (key, row) in enumerate(zip(keys, rows, strict=True))
        ]
        depths = [_depth(row, i) for i, row in enumerate(rows)]
        if sum(depths) > MAX_BLOCKS:
            raise CandidateError("stages.depth", f"{sum(depths):,} blocks; at most {MAX_BLOCKS:,}")
        plan: _Plan = self._plans.get((top_key, keys), _plan, base, models)
        return Checked(plan, (top_key, keys), depths)

    def figures_of(self, checked: Checked) -> Figures:
        plan, depths = checked.plan, checked.depths
        if plan.geometry is None:
            return self._whole(_with_depths(plan.spec, depths))
        return self._compose(plan, checked.keys, depths)

    def _compose(
        self, plan: _Plan, keys: tuple[Any, tuple[Any, ...]], depths: list[int]
    ) -> Figures:
        top_key, row_keys = keys
        spec, family, geometry = plan.spec, plan.family, plan.geometry or []
        memory = self.memory is not None
        chain: list[tuple[Segment, int]] = []
        stem = self._segments.get((top_key, "stem"), _guard, stem_segment, family, spec, memory)
        chain.append((stem, 1))
        shape = stem.out_shape
        for index, row in enumerate(spec.stages):
            geo = geometry[index]
            repeat = StageGeometry(1, geo.dilation, geo.dilation)
            for g, count in ((geo, 1), (repeat, depths[index] - 1)):
                if count == 0:
                    continue
                key = (top_key, row_keys[index], index, g, shape)  # errors name the stage
                args = (family, spec, row, index, g, shape, memory)
                segment = self._segments.get(key, _guard, block_segment, *args)
                chain.append((segment, count))
                shape = segment.out_shape
        rf = _field(chain)
        tail = self._segments.get(
            (top_key, "tail", shape), _guard, tail_segment, family, spec, shape, memory
        )
        chain.append((tail, 1))
        return self._total(chain, rf)

    def _total(self, chain: list[tuple[Segment, int]], rf: tuple[int, int] | None) -> Figures:
        params = sum(s.params * n for s, n in chain)
        buffers = sum(s.buffers * n for s, n in chain)
        macs = sum(s.macs * n for s, n in chain)
        acts = sum(s.acts * n for s, n in chain)
        field, stride = rf if rf else (None, None)
        if self.memory is None:
            return Figures(params, buffers, macs, acts, field, stride)
        size, batch = DTYPE_BYTES[self.memory.dtype], self.memory.batch
        peak = max(s.peak for s, _ in chain)
        elements, indices = _saved(chain, chain[0][0].in_shape)
        return Figures(
            params,
            buffers,
            macs,
            acts,
            field,
            stride,
            params * size,
            peak * batch * size,
            int(elements * batch * size + indices * batch * INDEX_BYTES),
        )

    def _whole(self, spec: Spec) -> Figures:
        arch = _guard(lambda: run_passes(lower(spec)))  # dense: whole network, not cached
        stats = compute_stats(arch)
        last = [row for row in stats.stages if row.stage.startswith("stage")][-1]
        totals = stats.totals
        figures = Figures(
            totals.params, totals.buffers, totals.macs, totals.acts, last.rf, last.stride
        )
        if self.memory is None:
            return figures
        mem = estimate(arch, self.memory.batch, self.memory.dtype)
        return Figures(
            totals.params,
            totals.buffers,
            totals.macs,
            totals.acts,
            last.rf,
            last.stride,
            mem.params_bytes,
            mem.inference_peak_bytes,
            mem.training_saved_bytes,
        )


def _field(chain: list[tuple[Segment, int]]) -> tuple[int, int] | None:
    """Receptive field and stride at the end of the chain (the last stage's output)."""
    rf, stride = 1, 1
    for segment, count in chain:
        if segment.rf is None:
            return None
        if segment.stride == 1:
            rf += count * stride * (segment.rf - 1)
            continue
        for _ in range(count):
            rf, stride = rf + stride * (segment.rf - 1), stride * segment.stride
    return rf, stride


def _saved(chain: list[tuple[Segment, int]], input_shape: Shape) -> tuple[int, int]:
    """(saved elements, max-pool index elements) over the chain, each storage counted once.

    A segment's own count excludes its input; the tensor between two segments is added when the
    reader saves it and the writer did not already count it.
    """
    elements = indices = 0
    previous: Segment | None = None
    for segment, count in chain:
        elements += segment.saved * count
        indices += segment.pool_indices * count
        entering = previous.out_shape if previous is not None else input_shape
        written = previous is not None and previous.saves_output
        if segment.saves_input and not written:
            elements += math.prod(entering)
        if count > 1 and segment.saves_input and not segment.saves_output:
            elements += math.prod(segment.out_shape) * (count - 1)
        previous = segment
    return elements, indices


def _validate_top(top: Mapping[str, Any]) -> Spec:
    data = {**top, "stages": [_PLACEHOLDER_ROW]}
    try:
        return Spec.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _pydantic_error(exc, ()) from None


def _validate_row(row: Mapping[str, Any], index: int) -> StageRow:
    try:
        return StageRow.model_validate({**row, "depth": 1})
    except pydantic.ValidationError as exc:
        raise _pydantic_error(exc, ("stages", index)) from None


def _depth(row: Mapping[str, Any], index: int) -> int:
    depth = row.get("depth")
    if type(depth) is not int or not 1 <= depth <= 100_000:
        raise CandidateError(f"stages[{index}].depth", f"must be a whole number 1..100000: {depth}")
    return depth


@dataclass(frozen=True)
class _Plan:
    """A candidate's stage table apart from its depths: what lowering needs (stages at depth 1),
    its family and each stage's geometry (None for dense stages, analysed whole)."""

    spec: Spec
    family: Family
    geometry: list[StageGeometry] | None


@dataclass(frozen=True)
class Checked:
    """A validated candidate, ready for figures_of()."""

    plan: _Plan
    keys: tuple[Any, tuple[Any, ...]]
    depths: list[int]


def _plan(base: Spec, models: list[StageRow]) -> _Plan:
    if not 1 <= len(models) <= MAX_STAGES:
        raise CandidateError(
            "stages", f"has {len(models)} stages; archspec takes 1 to {MAX_STAGES}"
        )
    spec = base.model_copy(update={"stages": models})
    # The checks `archspec stats` applies, so a sweep never reports a network stats refuses.
    findings = check_spec(spec, uniform_fields(models))
    if findings:
        first = findings[0]
        raise CandidateError(format_loc(first.loc), f"{first.message} ({first.hint})")
    family = family_of(spec)
    # Dense stages, and kinds written as data (whose blocks may differ along a stage: VGG's
    # pool closes it), are analysed whole rather than as repeated segments.
    if family.blocks in (("dense",), ()) or spec.tail is not None:
        return _Plan(spec, family, None)
    return _Plan(spec, family, _guard(stage_geometry, spec))


def _with_depths(spec: Spec, depths: list[int]) -> Spec:
    rows = [m.model_copy(update={"depth": d}) for m, d in zip(spec.stages, depths, strict=True)]
    return spec.model_copy(update={"stages": rows})
