"""Counting conventions: how each popular tool totals the "FLOPs" of the same network.

Every convention is a per-op cost rule applied to the analysed graph, so a total comes with a
breakdown by op category that shows *why* two tools disagree. Each rule states which tool,
version and setting it reproduces; tests run those tools on the generated models and demand
equality.

Op facts the rules rely on (how the generated code executes each IR op):
- Conv2d / BatchNorm2d / ReLU / MaxPool2d / AvgPool2d / AdaptiveAvgPool2d / Linear / Sigmoid are
  nn modules; GlobalAvgPool(functional=True) is `x.mean((2, 3), keepdim=True)`;
- adds are `out += identity` / `out + shortcut`, gates `x * w`, concats `torch.cat`, group sums
  `.sum(dim=1)`, softmaxes `torch.softmax` (none of them hooked by ptflops' patches).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archspec.ir.graph import ArchGraph
from archspec.ir.ops import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    GlobalAvgPool,
    Linear,
    MaxPool2d,
    Op,
    ReLU,
    Shape,
)

Costs = list[tuple[str, int]]


@dataclass(frozen=True)
class OpSite:
    """One op with the shapes it sees."""

    op: Op
    inputs: list[Shape]
    output: Shape

    @property
    def in_numel(self) -> int:
        return math.prod(self.inputs[0]) if self.inputs else 0

    @property
    def out_numel(self) -> int:
        return math.prod(self.output)


def _macs(site: OpSite) -> int:
    return site.op.macs(site.inputs, site.output)


def _bias(site: OpSite, per_output: bool) -> int:
    """Bias adds: once per output element, or (pycls) once per output channel."""
    op = site.op
    if not getattr(op, "bias", False):
        return 0
    channels = op.out_channels if isinstance(op, Conv2d) else op.out_features  # type: ignore[attr-defined]
    return site.out_numel if per_output else int(channels)


def macs_rule(site: OpSite) -> Costs:
    """archspec's MACs: conv + linear multiply-accumulates, bias excluded."""
    if isinstance(site.op, (Conv2d, Linear)):
        return [(site.op.category, _macs(site))]
    return []


def flop_counter_rule(site: OpSite) -> Costs:
    """torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per conv / matmul MAC, nothing else."""
    return [(category, 2 * count) for category, count in macs_rule(site)]


def fvcore_rule(site: OpSite) -> Costs:
    """fvcore FlopCountAnalysis (eval): conv/linear MACs, 2 per affine-BN element, and the
    input elements of aten::adaptive_avg_pool2d; every other aten op is skipped."""
    op = site.op
    if isinstance(op, BatchNorm2d):
        return [("norm", 2 * site.in_numel)]
    if isinstance(op, GlobalAvgPool) and not op.functional:
        return [("pool", site.in_numel)]
    return macs_rule(site)


def _ptflops(site: OpSite, functional: bool) -> Costs:
    """ptflops (pytorch backend): module hooks, plus F.relu / F.*pool* patches when
    count_functional is on; nn.ReLU and pooling modules call those functions, so they count
    twice."""
    op = site.op
    times = 2 if functional else 1
    if isinstance(op, (Conv2d, Linear)):
        return [(op.category, _macs(site)), ("bias", _bias(site, per_output=True))]
    if isinstance(op, BatchNorm2d):
        return [("norm", 2 * site.in_numel)]
    if isinstance(op, ReLU):
        return [("activation", times * site.out_numel)]
    pool = isinstance(op, (MaxPool2d, AvgPool2d))
    if pool or (isinstance(op, GlobalAvgPool) and not op.functional):
        return [("pool", times * site.in_numel)]
    return []


def ptflops_rule(site: OpSite) -> Costs:
    return _ptflops(site, functional=True)


def ptflops_modules_rule(site: OpSite) -> Costs:
    return _ptflops(site, functional=False)


def pycls_rule(site: OpSite) -> Costs:
    """pycls complexity_conv2d / head: MACs plus one bias add per output *channel*."""
    op = site.op
    if isinstance(op, (Conv2d, Linear)):
        return [(op.category, _macs(site)), ("bias", _bias(site, per_output=False))]
    return []


@dataclass(frozen=True)
class Convention:
    name: str
    unit: str
    reproduces: str
    rule: Callable[[OpSite], Costs]


CONVENTIONS: dict[str, Convention] = {
    c.name: c
    for c in (
        Convention("macs", "MACs", "archspec (= torchvision's GFLOPS column)", macs_rule),
        Convention(
            "flop_counter",
            "FLOPs",
            "torch.utils.flop_counter.FlopCounterMode get_total_flops()",
            flop_counter_rule,
        ),
        Convention(
            "fvcore", "MACs", "fvcore 0.1.5 FlopCountAnalysis(model.eval(), x).total()", fvcore_rule
        ),
        Convention(
            "ptflops",
            "MACs",
            "ptflops 0.7.5 get_model_complexity_info(..., "
            "backend='pytorch') with default settings (count_functional=True)",
            ptflops_rule,
        ),
        Convention(
            "ptflops_modules",
            "MACs",
            "ptflops 0.7.5, backend='pytorch', backend_specific_config={'count_functional': False}",
            ptflops_modules_rule,
        ),
        Convention("pycls", "MACs", "pycls 0.1.1 net.complexity() 'flops'", pycls_rule),
    )
}


@dataclass
class Breakdown:
    """A convention's total and its split by op category ("conv", "norm [se]", ...)."""

    convention: Convention
    total: int = 0
    by_category: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "convention": self.convention.name,
            "unit": self.convention.unit,
            "reproduces": self.convention.reproduces,
            "total": self.total,
            "by_category": dict(self.by_category),
        }


def sites(arch: ArchGraph) -> list[tuple[OpSite, str]]:
    graph = arch.graph
    out = []
    for _, data in arch.nodes():
        inputs = [graph.nodes[source]["shape"] for source in data["inputs"]]
        out.append((OpSite(data["op"], inputs, data["shape"]), data.get("tag", "")))
    return out


def count(arch: ArchGraph, name: str) -> Breakdown:
    convention = CONVENTIONS[name]
    totals: dict[str, int] = defaultdict(int)
    for site, tag in sites(arch):
        for category, value in convention.rule(site):
            if value:
                totals[f"{category} [{tag}]" if tag else category] += value
    ordered = dict(sorted(totals.items()))
    return Breakdown(convention, sum(ordered.values()), ordered)


def pycls_acts(arch: ArchGraph) -> int:
    """pycls 'acts': output elements of conv and linear layers and of max-pools."""
    return sum(
        math.prod(data["shape"])
        for _, data in arch.nodes()
        if isinstance(data["op"], (Conv2d, Linear, MaxPool2d))
    )
