"""Per-node counts: trainable params, buffer elements, MACs, activations.

MACs are the multiply-accumulates of conv and linear layers with bias adds excluded
(= FlopCounterMode / 2 = torchvision's "GFLOPS" column). Activations are output elements of conv
and linear layers (fvcore / timm convention).
"""

from __future__ import annotations

import math

from archspec.ir.graph import ArchGraph


def count_params(arch: ArchGraph) -> None:
    for _, data in arch.nodes():
        tensors = data["op"].tensors()
        data["params"] = sum(t.numel for t in tensors if t.trainable)
        data["buffers"] = sum(t.numel for t in tensors if not t.trainable)


def count_macs(arch: ArchGraph) -> None:
    graph = arch.graph
    for _, data in arch.nodes():
        inputs = [graph.nodes[source]["shape"] for source in data["inputs"]]
        data["macs"] = data["op"].macs(inputs, data["shape"])


def count_activations(arch: ArchGraph) -> None:
    for _, data in arch.nodes():
        counted = data["op"].category in ("conv", "linear")
        data["acts"] = math.prod(data["shape"]) if counted else 0
