"""Analyses over an ArchGraph, run in order; each stores its result on the nodes."""

from __future__ import annotations

from collections.abc import Callable

from archspec.ir.graph import ArchGraph
from archspec.passes.counts import count_activations, count_macs, count_params
from archspec.passes.receptive_field import receptive_field
from archspec.passes.shapes import infer_shapes

RULES: list[Callable[[ArchGraph], None]] = [
    infer_shapes,
    count_params,
    count_macs,
    count_activations,
    receptive_field,
]


def run_passes(arch: ArchGraph) -> ArchGraph:
    for rule in RULES:
        rule(arch)
    return arch


__all__ = ["RULES", "run_passes"]
