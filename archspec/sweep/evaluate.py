"""One candidate -> one table row: draw it, check constraints, compute its figures.

Constraints that name only spec values (depth, width, ...) are checked before any analysis, so a
candidate they reject costs no lowering; the others are checked on the figures. Status is `ok`
(every constraint holds), `rejected` (the first constraint that failed is the reason) or
`invalid` (no network: the field and what is wrong).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from archspec.expr import ExprError
from archspec.sweep.candidates import Candidate, build, draw
from archspec.sweep.figures import FIGURES, MEMORY_FIGURES, Analyzer, CandidateError, Memory
from archspec.sweep.space import KNOBS, Constraint, Space

BASE_COLUMNS = ("index", "name", "status", "reason")
SUMMARY_COLUMNS = ("depth", "width", "groups")
_FIGURE_NAMES = frozenset(FIGURES) | frozenset(MEMORY_FIGURES)


def columns(space: Space, memory: Memory | None) -> list[str]:
    """The table's columns, in order."""
    names = list(BASE_COLUMNS)
    names += [f"regnet.{key}" for key in space.regnet or {}]
    names += [axis.name for axis in space.axes]
    names += list(SUMMARY_COLUMNS)
    names += list(FIGURES) + (list(MEMORY_FIGURES) if memory is not None else [])
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Plan:
    """Constraints split by what they need: spec values only, or figures too."""

    early: tuple[Constraint, ...]
    late: tuple[Constraint, ...]

    @classmethod
    def of(cls, space: Space) -> Plan:
        early = tuple(c for c in space.constraints if not c.expression.names & _FIGURE_NAMES)
        late = tuple(c for c in space.constraints if c.expression.names & _FIGURE_NAMES)
        return cls(early, late)


def evaluate(space: Space, plan: Plan, index: int, analyzer: Analyzer) -> dict[str, Any]:
    row: dict[str, Any] = {"index": index, "name": f"{space.name}_{index}"}
    values = draw(space, index)
    row.update({key: _cell(value) for key, value in values.items()})
    try:
        candidate = build(space, index, values)
    except CandidateError as exc:
        return {**row, "status": "invalid", "reason": str(exc)}
    try:
        checked = analyzer.check(candidate.top, candidate.rows)
    except CandidateError as exc:
        return {**row, "status": "invalid", "reason": str(exc)}
    env = spec_env(candidate)
    row.update({key: _cell(env[key]) for key in SUMMARY_COLUMNS})
    failed = _first_failure(plan.early, env)
    if failed is not None:
        return {**row, "status": "rejected", "reason": failed}
    try:
        figures = analyzer.figures_of(checked).as_dict()
    except CandidateError as exc:
        return {**row, "status": "invalid", "reason": str(exc)}
    row.update(figures)
    failed = _first_failure(plan.late, {**env, **figures})
    return {**row, "status": "rejected" if failed else "ok", "reason": failed or ""}


def _first_failure(constraints: tuple[Constraint, ...], env: dict[str, Any]) -> str | None:
    for constraint in constraints:
        try:
            holds = constraint.expression.evaluate(env)
        except ExprError as exc:
            return f"{constraint.text}: {exc}"
        if isinstance(holds, list) or not holds:
            return constraint.text
    return None


def spec_env(candidate: Candidate) -> dict[str, Any]:
    """The names a constraint may use besides the figures."""
    rows, top = candidate.rows, candidate.top
    env: dict[str, Any] = {
        key: [row.get(key) or 0 for row in rows] for key in ("depth", "width", "groups")
    }
    env["base_width"] = [row.get("base_width", 64) for row in rows]
    env["expansion"] = [row.get("expansion") or 0 for row in rows]
    env["stages"] = len(rows)
    env["blocks"] = sum(env["depth"])
    env["resolution"] = (top.get("input") or [0, 0, 0])[1]
    env["stem_width"] = (top.get("stem") or {}).get("width", 64)
    for knob in KNOBS:
        value = next((v for k, v in candidate.values.items() if k == knob), None)
        env[knob] = (
            value if value is not None else (env["resolution"] if knob == "resolution" else 1.0)
        )
    for key, value in candidate.values.items():
        if key.startswith("regnet.") and key != "regnet.depth":
            env[key.removeprefix("regnet.")] = value
    return env


def _cell(value: Any) -> Any:
    """A table cell: numbers and text as they are, anything else as compact JSON."""
    if value is None or isinstance(value, int | float | str):
        return value
    return json.dumps(value, separators=(",", ":"))
