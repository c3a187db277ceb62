"""`archspec diff` as text or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from archspec.diff import ArchDiff

MAX_LISTED = 20


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "x".join(str(n) for n in shape) or "scalar"


def _listed(title: str, keys: list[str]) -> list[str]:
    lines = [f"  {title}: {len(keys)}"]
    lines += [f"    {key}" for key in keys[:MAX_LISTED]]
    if len(keys) > MAX_LISTED:
        lines.append(f"    ... and {len(keys) - MAX_LISTED} more")
    return lines


def format_diff(d: ArchDiff, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(asdict(d), indent=2) + "\n"
    lines = [
        f"{d.a} -> {d.b}",
        "",
        f"{'stage':<10} {'shape a':>14} {'shape b':>14} {'d params':>14} {'d MACs':>16}",
    ]
    for s in d.stages:
        lines.append(
            f"{s.stage:<10} {_shape(s.shape_a):>14} {_shape(s.shape_b):>14} "
            f"{s.params:>+14,} {s.macs:>+16,}"
        )
    total = len(d.unchanged) + len(d.reshaped) + len(d.removed)
    lines += ["", f"state_dict of {d.a} ({total} tensors) loaded into {d.b}:"]
    lines.append(f"  carried over unchanged: {len(d.unchanged)}")
    reshaped = [f"{k}: {_shape(sa)} -> {_shape(sb)}" for k, sa, sb in d.reshaped]
    lines += _listed("change shape", reshaped)
    lines += _listed(f"new in {d.b}", d.added)
    lines += _listed(f"only in {d.a}", d.removed)
    return "\n".join(lines) + "\n"
