"""How archspec's analysis scales with depth, and how fast the generated models run.

Usage (from the repository root, on a quiet machine)::

    .venv/bin/python benchmarks/scale_and_inference.py [--repeat N] [--skip-inference]

1. `compile + stats` wall time of synthetic ResNets with 100, 1,000 and 10,000 basic blocks and
   of DenseNet-264, in process (the analysis itself; process start-up is measured by
   stats_vs_counters.py), with the time per block to show growth is linear.
2. CPU inference, batch 8 at 224x224, same thread count: the generated resnet50 versus
   torchvision's resnet50 with the same weights (ratio should be 1.00 +- 0.05), and the
   generated model after fuse() (BatchNorm folded into the convs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archspec.api import compile_file, compile_text

REPO = Path(__file__).resolve().parent.parent


def synthetic_resnet(blocks: int) -> str:
    per_stage = blocks // 4
    depth = ", ".join([str(per_stage)] * 4)
    return (
        "archspec: 1\nname: synthetic\ninput: [3, 224, 224]\n"
        "stem: {type: conv7x7, width: 64}\n"
        f"stages:\n  block: basic\n  depth: [{depth}]\n  width: [64, 128, 256, 512]\n"
    )


DENSENET_264 = (
    "archspec: 1\nname: densenet264\ninput: [3, 224, 224]\nstem: {type: conv7x7, width: 64}\n"
    "stages:\n  block: dense\n  depth: [6, 12, 64, 48]\n  growth_rate: 32\n"
)


def median_seconds(action: Callable[[], Any], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def scale(repeat: int) -> None:
    print("analysis time (compile + all passes + stats), median of", repeat)
    print(f"{'network':<28}{'blocks':>8}{'ops':>10}{'seconds':>10}{'us/op':>9}")
    cases = [(f"synthetic resnet, {n} blocks", n, synthetic_resnet(n)) for n in (100, 1000, 10000)]
    cases.append(("densenet264", 130, DENSENET_264))
    for label, blocks, text in cases:
        compiled = compile_text(text)
        ops = compiled.arch.graph.number_of_nodes()
        seconds = median_seconds(lambda t=text: compile_text(t).stats, repeat)
        print(f"{label:<28}{blocks:>8,}{ops:>10,}{seconds:>10.3f}{seconds / ops * 1e6:>9.1f}")


def inference(repeat: int) -> None:
    import torch
    import torchvision

    threads = torch.get_num_threads()
    print(f"\nCPU inference, batch 8, 3x224x224, {threads} threads, median of {repeat}")
    reference = torchvision.models.resnet50().eval()
    generated = compile_file(REPO / "specs" / "resnet50.yaml").to_module().eval()
    generated.load_state_dict(reference.state_dict(), strict=True)
    fused = compile_file(REPO / "specs" / "resnet50.yaml").to_module()
    fused.load_state_dict(reference.state_dict(), strict=True)
    fused.fuse()
    x = torch.randn(8, 3, 224, 224)
    models = {"torchvision resnet50": reference, "generated": generated, "generated, fused": fused}
    samples: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for model in models.values():
            model(x)  # warm up allocator and kernels
        for _ in range(repeat):  # round-robin, so drift in clock speed hits every model alike
            for name, model in models.items():
                samples[name].append(median_seconds(lambda m=model: m(x), 1))
    timings = {name: statistics.median(values) for name, values in samples.items()}
    base, unfused = timings["torchvision resnet50"], timings["generated"]
    for name, seconds in timings.items():
        print(
            f"  {name:<24}{seconds * 1000:>9.1f} ms   vs torchvision {base / seconds:.3f}x"
            f"   vs generated {unfused / seconds:.3f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-inference", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs")
    scale(args.repeat)
    if not args.skip_inference:
        inference(args.repeat)


if __name__ == "__main__":
    main()
