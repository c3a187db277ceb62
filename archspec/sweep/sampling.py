"""Distributions of a design-space axis, sampled with a seeded RNG or enumerated as a grid.

The continuous laws and their quantisation follow pycls (`pycls/sweep/random.py`, Radosavovic
et al. 2020, "Designing Network Design Spaces"):
- `uniform: [lo, hi]` with quantum q: f ~ U[lo, hi + q), floored to a multiple of q;
- `log_uniform: [lo, hi]`: log f ~ U(log(lo - min(q, lo/2)), log hi], ceiled to a multiple of q,
  so every multiple of q in [lo, hi] is reachable and the CDF is log-linear;
- `power2: [lo, hi]`: 2^k with k uniform over the integers of [log2 lo, log2 hi];
- `power2_or_log_uniform: [lo, hi]`: a power of 2 below q, else log-uniform over multiples of q
  (pycls's group-width sampler);
- `range: [lo, hi]` (with `step`): integers, each equally likely; `choices: [...]` or a plain
  YAML list: each item equally likely. Only these two and constants can be enumerated.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CONTINUOUS = ("uniform", "log_uniform", "power2", "power2_or_log_uniform")
KINDS = ("choices", "range", "value", *CONTINUOUS)
MAX_GRID_AXIS = 100_000


@dataclass(frozen=True)
class Distribution:
    """One axis's law: `kind` with its bounds or choices, and pycls's quantum `q`."""

    kind: str
    low: float = 0
    high: float = 0
    q: float = 1
    choices: tuple[Any, ...] = ()

    @property
    def enumerable(self) -> bool:
        return self.kind in ("choices", "range", "value")

    def grid(self) -> Sequence[Any]:
        """Every value, in order (choices, range, value only); a range stays lazy."""
        if self.kind == "range":
            return range(int(self.low), int(self.high) + 1, int(self.q))
        return self.choices

    def sample(self, rng: random.Random) -> Any:
        if self.kind in ("choices", "value"):
            return self.choices[rng.randrange(len(self.choices))]
        if self.kind == "range":
            values = range(int(self.low), int(self.high) + 1, int(self.q))
            return values[rng.randrange(len(values))]
        return _LAWS[self.kind](rng, self.low, self.high, self.q)


def quantize(value: float, q: float, op: Any = math.floor) -> Any:
    """value rounded by `op` to a multiple of q, with q's type (pycls `quantize`)."""
    quantized = Decimal(op(value / q)) * Decimal(str(q))
    return type(q)(quantized)


def uniform(rng: random.Random, low: float, high: float, q: float) -> Any:
    return quantize(rng.uniform(low, high + q), q, math.floor)


def log_uniform(rng: random.Random, low: float, high: float, q: float) -> Any:
    # pycls: exp(-U(-log hi, -log(lo - q*))) lies in (lo - q*, hi], then ceil to q.
    value = math.exp(-rng.uniform(-math.log(high), -math.log(low - min(q, low / 2))))
    return quantize(value, q, math.ceil)


def power2(rng: random.Random, low: float, high: float, q: float) -> Any:
    exponent = math.floor(rng.uniform(math.log2(low), math.log2(high) + 1))
    return quantize(2**exponent, q)


def power2_or_log_uniform(rng: random.Random, low: float, high: float, q: float) -> Any:
    value = type(q)(power2(rng, low, high, low))
    if value >= q:
        value = log_uniform(rng, max(low, q), high, min(high, q))
    return value


_LAWS = {
    "uniform": uniform,
    "log_uniform": log_uniform,
    "power2": power2,
    "power2_or_log_uniform": power2_or_log_uniform,
}


def candidate_rng(seed: int, index: int) -> random.Random:
    """The RNG of candidate `index`: a pure function of (seed, index), so a candidate can be
    rebuilt alone (workers, resume, --emit-specs)."""
    return random.Random(seed * 1_000_003 + index)
