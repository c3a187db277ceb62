"""archspec: compile CNN stage tables (YAML) into exact PyTorch models, stats and diagrams.

from archspec import compile_file
net = compile_file("specs/resnet50.yaml")
net.stats.totals.macs, net.source(), net.dot("stage"), net.to_module()
"""

from archspec.api import Compiled, compile_file, compile_text
from archspec.errors import ArchspecError, SpecError

__all__ = ["ArchspecError", "Compiled", "SpecError", "compile_file", "compile_text"]
