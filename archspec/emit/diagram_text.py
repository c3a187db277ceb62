"""Words, numbers and colours of the diagrams: op texts, block summaries, the palette.

Everything here is plain ASCII text; HTML markup and escaping happen in the emitter.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.ir.graph import ArchGraph, StageInfo
from archspec.ir.ops import Op

# Op category (each op states its own: Op.category) -> (fill colour, legend text); legend
# order is this order.
PALETTE = {
    "conv": ("#c6dbef", "conv"),
    "linear": ("#d8cfe8", "linear"),
    "norm": ("#fff1ae", "batchnorm"),
    "activation": ("#d5ecc9", "activation"),
    "pool": ("#f9cfc7", "pooling"),
    "add": ("#fdc98f", "add"),
    "mul": ("#f2c4e0", "multiply (gate)"),
    "concat": ("#a8dcc8", "concat"),
    "other": ("#ececec", "other"),
}
# Which op of a multi-op box decides its colour when no op in it has MACs.
_PRIORITY = ("concat", "add", "mul", "linear", "conv", "pool", "norm", "activation", "other")
# Op categories listed in block and stage summaries; the rest (BN, ReLU, ...) go unsaid.
_SUMMARISED = frozenset({"conv", "pool", "linear"})

BRANCH_NAMES = {"se": "squeeze-excitation", "sk": "selective kernel", "split": "split attention"}
BLOCK_NAMES = {
    "basic": "basic block",
    "bottleneck": "bottleneck",
    "preact_basic": "pre-activation basic block",
    "preact_bottleneck": "pre-activation bottleneck",
    "dense": "dense layer",
}


def branch_name(tag: str) -> str:
    """An add-on's heading: its words, or its kind's name with spaces (selective kernel)."""
    return BRANCH_NAMES.get(tag, tag.replace("_", " "))


def human(count: int) -> str:
    """3 significant digits with a K/M/G suffix: 9408 -> 9.41K, 4089184256 -> 4.09G."""
    for suffix, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.3g}{suffix}"
    return str(count)


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def op_text(op: Op) -> str:
    """What an op does, in the words a paper's figure would use (Op.describe)."""
    return op.describe()


def category(arch: ArchGraph, nodes: list[str]) -> str:
    """The colour key of a box: its op's category, or for several ops the heaviest one's."""
    graph = arch.graph.nodes

    def weight(node: str) -> tuple[int, int]:
        kind = graph[node]["op"].category
        return graph[node]["macs"], -_PRIORITY.index(kind if kind in PALETTE else "other")

    kind: str = graph[max(nodes, key=weight)]["op"].category
    return kind if kind in PALETTE else "other"


@dataclass(frozen=True)
class Row:
    """A line of a box's summary; attention-branch rows are set apart in the branch colour."""

    text: str
    heading: bool = False
    branch: bool = False


def summary(arch: ArchGraph, nodes: list[str]) -> list[Row]:
    """One row per conv/pool/linear; an attention branch as a heading over its convs."""
    rows: list[Row] = []
    seen: set[str] = set()
    for node in nodes:
        data = arch.graph.nodes[node]
        tag, op = data["tag"], data["op"]
        if op.category not in _SUMMARISED or (tag and op.category != "conv"):
            continue
        if tag and tag not in seen:
            seen.add(tag)
            rows.append(Row(f"{branch_name(tag)}:", heading=True, branch=True))
        rows.append(Row(op_text(op), branch=bool(tag)))
    return rows or [Row(op_text(arch.graph.nodes[node]["op"])) for node in nodes]


def short_block(arch: ArchGraph, block: str, stage: str) -> str:
    """A block's name inside its stage ("denselayer7"), or its path where that is an index."""
    info = stage_info(arch, stage)
    prefix = f"{info.module}." if info and info.module else ""
    name = block.removeprefix(prefix)
    return name if prefix and "." not in name and not name.isdigit() else block


def block_kind(arch: ArchGraph, block: str, stage: str) -> str:
    """The block's kind in words: a DenseNet "transition", else its stage's block type."""
    # Transitions are the only blocks named by kind (features.transition1) rather than by
    # position (layer1.0) or by their stage's block type (denselayer1).
    if block.rsplit(".", 1)[-1].rstrip("0123456789") == "transition":
        return "transition"
    info = stage_info(arch, stage)
    return BLOCK_NAMES.get(info.block_type, info.block_type) if info else "block"


def stage_info(arch: ArchGraph, key: str) -> StageInfo | None:
    return next((info for info in arch.stages if info.key == key), None)


def stage_title(arch: ArchGraph, key: str) -> str:
    """The stage key with its module ("stage2 (layer2)") or, for stem and head, its type."""
    info = stage_info(arch, key)
    if info is None:
        return key
    return f"{key} ({info.module or info.block_type})"
