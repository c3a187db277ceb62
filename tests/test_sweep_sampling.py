"""The sweep's laws match what they say (pycls's), grids enumerate exactly, selection is right."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from archspec.sweep.candidates import draw
from archspec.sweep.sampling import Distribution, candidate_rng
from archspec.sweep.select import Axis, pareto_front, top
from archspec.sweep.space import parse_space

N = 20_000


def ks_distance(samples: list[float], cdf: dict[float, float]) -> float:
    """Largest gap between the empirical CDF and `cdf` over its support points."""
    counts = Counter(samples)
    seen, gap = 0, 0.0
    for point in sorted(cdf):
        seen += counts.get(point, 0)
        gap = max(gap, abs(seen / len(samples) - cdf[point]))
    assert seen == len(samples), "a sample fell outside the support"
    return gap


def test_log_uniform_follows_the_pycls_law() -> None:
    # pycls: f ~ exp(U(log(lo - q*), log hi)), then ceil to q: P(X <= x) = log-linear in x.
    low, high, q = 8, 256, 8
    law = Distribution("log_uniform", low, high, q)
    rng = random.Random(1234)
    samples = [law.sample(rng) for _ in range(N)]
    floor = math.log(low - min(q, low / 2))
    span = math.log(high) - floor
    cdf = {x: (math.log(x) - floor) / span for x in range(low, high + 1, q)}
    # Kolmogorov-Smirnov at the 0.1% level: 1.95 / sqrt(n).
    assert ks_distance(samples, cdf) < 1.95 / math.sqrt(N)
    # ...and it is log-uniform, not uniform: the median sits near the geometric mean.
    median = sorted(samples)[N // 2]
    assert abs(math.log(median) - (floor + span / 2)) < 0.05


def test_uniform_and_power2_laws() -> None:
    rng = random.Random(99)
    uniform = Distribution("uniform", 12, 28, 1)
    samples = [uniform.sample(rng) for _ in range(N)]
    assert ks_distance(samples, {d: (d - 11) / 17 for d in range(12, 29)}) < 1.95 / math.sqrt(N)
    power2 = Distribution("power2", 1, 32, 1)
    counts = Counter(power2.sample(rng) for _ in range(N))
    assert set(counts) == {1, 2, 4, 8, 16, 32}
    chi2 = sum((c - N / 6) ** 2 / (N / 6) for c in counts.values())
    assert chi2 < 20.5  # chi-square, 5 degrees of freedom, 0.1%


def test_group_width_law_mixes_powers_of_two_and_multiples() -> None:
    law = Distribution("power2_or_log_uniform", 1, 32, 8)
    rng = random.Random(5)
    values = {law.sample(rng) for _ in range(5000)}
    assert values == {1, 2, 4, 8, 16, 24, 32}


def test_candidates_are_a_pure_function_of_seed_and_index() -> None:
    text = """
space: 1
base: ../../specs/resnet18.yaml
samples: 100
seed: 7
vary:
  stages[*].depth: {range: [1, 4]}
  stem.width: {log_uniform: [16, 128], quantize: 8}
"""
    space = parse_space(text, "specs/spaces/x.yaml")
    first = [draw(space, i) for i in range(100)]
    assert [draw(space, i) for i in reversed(range(100))][::-1] == first
    assert candidate_rng(7, 3).random() == candidate_rng(7, 3).random()
    space.seed = 8
    assert [draw(space, i) for i in range(100)] != first


def test_grid_enumerates_every_combination_once() -> None:
    text = """
space: 1
base: ../../specs/resnet18.yaml
vary:
  stages[*].depth: [1, 2]
  stem.width: [32, 64, 96]
  stages[0].width: {range: [16, 48], step: 16}
"""
    space = parse_space(text, "specs/spaces/x.yaml")
    assert space.size == 2**4 * 3 * 3
    seen = {repr(draw(space, i)) for i in range(space.size)}
    assert len(seen) == space.size


def _rows(values: list[tuple[int, int]]) -> list[dict[str, object]]:
    return [{"index": i, "status": "ok", "params": p, "macs": m} for i, (p, m) in enumerate(values)]


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    rows = _rows([(rng.randint(1, 50), rng.randint(1, 50)) for _ in range(200)])
    x, y = Axis.parse("params"), Axis.parse("macs:max")
    front = {r["index"] for r in pareto_front(rows, x, y)}

    def dominated(a: dict[str, object]) -> bool:
        return any(
            b["params"] <= a["params"]  # type: ignore[operator]
            and b["macs"] >= a["macs"]  # type: ignore[operator]
            and (b["params"], b["macs"]) != (a["params"], a["macs"])
            for b in rows
        )

    # Equal points appear once on the front, as the lowest index.
    lowest = {(r["params"], r["macs"]): r["index"] for r in reversed(rows)}
    assert front == {lowest[(r["params"], r["macs"])] for r in rows if not dominated(r)}


def test_top_k() -> None:
    rows = _rows([(5, 10), (3, 30), (4, 20), (1, 30)])
    rows.append({"index": 9, "status": "rejected", "params": 1, "macs": 999})
    assert [r["index"] for r in top(rows, 2, Axis.parse("macs", default_max=True))] == [1, 3]
    assert [r["index"] for r in top(rows, 1, Axis.parse("params:min"))] == [3]


def test_edf_points_are_the_empirical_distribution() -> None:
    from archspec.sweep.plots import edf_points

    values = [3.0, 1.0, 2.0, 2.0]
    xs, ys = edf_points(values)
    last = dict(zip(xs[1:], ys[1:], strict=True))  # the height after each value's last step
    assert last == {v: sum(w <= v for w in values) / len(values) for v in values}
    assert (xs[0], ys[0]) == (1.0, 0.0)
