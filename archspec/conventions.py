"""Counting conventions: how each popular tool totals the "FLOPs" of the same network.

Every convention is a per-op cost rule applied to the analysed graph, so a total comes with a
breakdown by op category that shows *why* two tools disagree. Each rule states which tool,
version and setting it reproduces; tests run those tools on the generated models and demand
equality.

The per-op rule of each convention lives on the op (archspec.ir.ops: Op.fvcore, Op.ptflops,
Op.pycls, Op.macs), next to how the generated code executes it; this module only totals them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archspec.ir.graph import ArchGraph
from archspec.ir.ops import Costs, Op, Site


def macs_rule(op: Op, site: Site) -> Costs:
    """archspec's MACs: conv + linear multiply-accumulates, bias excluded."""
    return [(op.category, op.macs(site.inputs, site.output))]


def flop_counter_rule(op: Op, site: Site) -> Costs:
    """torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per conv / matmul MAC, nothing else."""
    return [(category, 2 * count) for category, count in macs_rule(op, site)]


def fvcore_rule(op: Op, site: Site) -> Costs:
    """fvcore FlopCountAnalysis (eval): conv/linear MACs, 2 per affine-BN element, and the
    input elements of aten::adaptive_avg_pool2d; every other aten op is skipped."""
    return op.fvcore(site)


def ptflops_rule(op: Op, site: Site) -> Costs:
    """ptflops (pytorch backend): module hooks, plus F.relu / F.*pool* patches when
    count_functional is on; nn.ReLU and pooling modules call those functions, so they count
    twice."""
    return op.ptflops(site, functional=True)


def ptflops_modules_rule(op: Op, site: Site) -> Costs:
    """ptflops with count_functional off: module hooks only."""
    return op.ptflops(site, functional=False)


def pycls_rule(op: Op, site: Site) -> Costs:
    """pycls complexity_conv2d / head: MACs plus one bias add per output *channel*."""
    return op.pycls(site)


@dataclass(frozen=True)
class Convention:
    name: str
    unit: str
    reproduces: str
    rule: Callable[[Op, Site], Costs]


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


def sites(arch: ArchGraph) -> list[tuple[Op, Site, str]]:
    """Every op with the shapes it sees and its attention tag, in graph order."""
    graph = arch.graph
    out = []
    for _, data in arch.nodes():
        inputs = [graph.nodes[source]["shape"] for source in data["inputs"]]
        out.append((data["op"], Site(inputs, data["shape"]), data.get("tag", "")))
    return out


def count(arch: ArchGraph, name: str) -> Breakdown:
    convention = CONVENTIONS[name]
    totals: dict[str, int] = defaultdict(int)
    for op, site, tag in sites(arch):
        for category, value in convention.rule(op, site):
            if value:
                totals[f"{category} [{tag}]" if tag else category] += value
    ordered = dict(sorted(totals.items()))
    return Breakdown(convention, sum(ordered.values()), ordered)


def pycls_acts(arch: ArchGraph) -> int:
    """pycls 'acts': output elements of conv and linear layers and of max-pools."""
    return sum(op.pycls_acts(site) for op, site, _ in sites(arch))
