"""Memory estimates from a walk over the graph (labelled estimates: allocators round up,
frameworks keep workspaces).

- parameters / buffers: element counts x dtype size;
- inference peak: tensors live at once when ops run in graph order and each tensor is freed
  after its last reader; an op whose output shares its input's storage (Op.aliases_input:
  in-place ReLU, `out += identity`, views, identities) allocates nothing;
- training: the tensors autograd saves for backward (Op.saved_for_backward, plus
  Op.saved_index_elements for max-pool indices and Op.saved_private_elements for what no node
  names: in-place activations' input clones, dropout masks), each storage counted once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from archspec.ir.graph import ArchGraph

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
INDEX_BYTES = 8  # max-pool indices are int64


@dataclass(frozen=True)
class MemoryEstimate:
    batch: int
    dtype: str
    params_bytes: int
    buffers_bytes: int
    inference_peak_bytes: int
    training_saved_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _roots(arch: ArchGraph) -> dict[str, str]:
    """Node -> the node whose output storage it writes (itself unless it aliases its input)."""
    roots: dict[str, str] = {}
    for node, data in arch.nodes():
        inputs = data["inputs"]
        roots[node] = roots[inputs[0]] if inputs and data["op"].aliases_input() else node
    return roots


def inference_peak(arch: ArchGraph, batch: int) -> int:
    """Largest number of activation elements alive at once (x batch)."""
    roots = _roots(arch)
    order = {node: i for i, (node, _) in enumerate(arch.nodes())}
    last_use = {root: order[root] for root in set(roots.values())}
    for node, data in arch.nodes():
        for source in data["inputs"]:
            last_use[roots[source]] = max(last_use[roots[source]], order[node])
    last_use[roots[arch.output]] = len(order)
    frees: dict[int, list[str]] = {}
    for root, step in last_use.items():
        frees.setdefault(step, []).append(root)
    live = peak = 0
    for node, data in arch.nodes():
        if roots[node] == node:
            live += math.prod(data["shape"]) * batch
        peak = max(peak, live)
        for root in frees.get(order[node], []):
            live -= math.prod(arch.graph.nodes[root]["shape"]) * batch
    return peak


def saved_storages(arch: ArchGraph) -> tuple[set[str], dict[str, str], int]:
    """(storages autograd keeps, node -> storage root, max-pool index elements), batch 1.

    Sweeps compose networks from separately analysed blocks and need the set, not its sum.
    """
    roots = _roots(arch)
    storages: set[str] = set()
    indices = 0
    for node, data in arch.nodes():
        op = data["op"]
        storages.update(roots[n] for n in op.saved_for_backward(list(data["inputs"]), node))
        indices += op.saved_index_elements(data["shape"])
    return storages, roots, indices


def private_saved(arch: ArchGraph) -> int:
    """Elements autograd keeps that no node names (Op.saved_private_elements), batch 1."""
    return sum(data["op"].saved_private_elements(data["shape"]) for _, data in arch.nodes())


def training_saved(arch: ArchGraph, batch: int, dtype_bytes: int) -> int:
    storages, _, indices = saved_storages(arch)
    elements = sum(math.prod(arch.graph.nodes[root]["shape"]) for root in storages)
    elements += private_saved(arch)
    return int(elements * batch * dtype_bytes + indices * batch * INDEX_BYTES)


def estimate(arch: ArchGraph, batch: int = 1, dtype: str = "float32") -> MemoryEstimate:
    size = DTYPE_BYTES[dtype]
    params = sum(data["params"] for _, data in arch.nodes())
    buffers = sum(data["buffers"] for _, data in arch.nodes())
    return MemoryEstimate(
        batch,
        dtype,
        params * size,
        buffers * size,
        inference_peak(arch, batch) * size,
        training_saved(arch, batch, size),
    )
