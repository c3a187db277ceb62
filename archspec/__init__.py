"""archspec: compile CNN stage tables (YAML) into exact PyTorch models, stats and diagrams.

from archspec import compile_file
net = compile_file("specs/resnet50.yaml")
net.stats.totals.macs, net.source(), net.dot("stage"), net.to_module()
"""

from archspec.api import Compiled, compile_file, compile_text

# archspec_cnn.py (the command's entry point) recognises this package by the next line.
from archspec.distribution import DISTRIBUTION, version
from archspec.errors import ArchspecError, SpecError

__all__ = [
    "DISTRIBUTION",
    "ArchspecError",
    "Compiled",
    "SpecError",
    "__version__",
    "compile_file",
    "compile_text",
]


def __getattr__(name: str) -> str:
    # Looked up on first use: reading package metadata costs start-up time.
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")
